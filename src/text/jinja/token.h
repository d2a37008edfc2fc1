// jinja::Token: one lexical token of a template (see lexer.h).
#pragma once

#include <cstdint>
#include <string>

namespace tandem::text::jinja {

enum class TokenType {
  kData,           // literal template text (also the body of {% raw %})
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,  // value: the decoded literal
  kInteger,
  kFloat,
  kOperator,  // value: "+", "//", "(", ...
  kEof,
};

struct Token {
  TokenType type = TokenType::kEof;
  std::string value;
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
};

// Human-readable name of a token for syntax errors ("end of print statement").
std::string describe_token(const Token& token);

}  // namespace tandem::text::jinja
