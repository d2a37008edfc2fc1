// jinja::Lexer: template text -> tokens, with Jinja2's exact whitespace rules
// as Hugging Face configures them: trim_blocks (drop the first newline after
// a block or comment tag), lstrip_blocks (drop spaces/tabs before a block or
// comment tag that starts a line), `-` / `+` whitespace control on tags,
// {# comments #}, {% raw %}, newline normalization and removal of one
// trailing newline (keep_trailing_newline=False).
//
// Failure: a TemplateError ("syntax error on line N: ...") for unterminated
// comments/raw blocks, unbalanced brackets, stray characters and bad escapes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/jinja/token.h"

namespace tandem::text::jinja {

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

class Lexer {
 public:
  explicit Lexer(LexerOptions options = {}) : options_(options) {}

  // Tokenizes the whole template; the last token is kEof.
  std::vector<Token> tokenize(std::string_view source) const;

 private:
  LexerOptions options_;
};

[[noreturn]] void fail_syntax(int line, const std::string& message);

}  // namespace tandem::text::jinja
