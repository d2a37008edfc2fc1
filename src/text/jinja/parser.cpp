// Parser: the token cursor, error reporting and nesting limits. Statements are
// parsed in parser_statements.cpp, expressions in parser_expressions.cpp.
#include "text/jinja/parser.h"

#include "text/jinja/lexer.h"
#include "text/jinja/template_error.h"

namespace tandem::text::jinja {

using ast::Stmt;

std::string Parser::quoted(const std::string& s) { return "'" + s + "'"; }

const Token& Parser::peek(size_t n) const {
  const size_t i = pos_ + n;
  return i < tokens_.size() ? tokens_[i] : tokens_.back();
}

const Token& Parser::next() {
  const Token& t = tokens_[pos_];
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return t;
}

bool Parser::is_name(const char* name) const { return current().type == TokenType::kName && current().value == name; }

bool Parser::is_op(const char* op) const { return current().type == TokenType::kOperator && current().value == op; }

bool Parser::skip_name(const char* name) {
  if (!is_name(name)) return false;
  next();
  return true;
}

bool Parser::skip_op(const char* op) {
  if (!is_op(op)) return false;
  next();
  return true;
}

void Parser::fail_here(const std::string& message) const { fail_syntax(current().line, message); }

void Parser::fail_unexpected(const std::string& expected) const {
  if (current().type == TokenType::kEof) {
    fail_here("unexpected end of template, expected " + quoted(expected) + ".");
  }
  fail_here("expected token " + quoted(expected) + ", got " + quoted(describe_token(current())));
}

void Parser::expect_op(const char* op) {
  if (!is_op(op)) fail_unexpected(op);
  next();
}

const Token& Parser::expect_name() {
  if (current().type != TokenType::kName) fail_unexpected("name");
  return next();
}

void Parser::expect_name(const char* name) {
  if (!is_name(name)) fail_unexpected(name);
  next();
}

void Parser::expect(TokenType type) {
  if (current().type != type) {
    Token t;
    t.type = type;
    fail_unexpected(describe_token(t));
  }
  next();
}

void Parser::enter() {
  if (++depth_ > kMaxNesting) fail_here("template nesting too deep (limit " + std::to_string(kMaxNesting) + ")");
}

// Left-deep chains (a + b + c ..., x|f|g ..., a.b.c ...) build trees as deep
// as they are long; each link counts against the nesting limit.
Parser::ChainGuard::~ChainGuard() { parser_.depth_ -= links_; }
void Parser::ChainGuard::link() {
  ++links_;
  parser_.enter();
}

void Parser::note_name(const std::string& name) {
  if (macro_stack_.empty()) return;
  Stmt* macro = macro_stack_.back();
  if (name == "varargs") macro->catch_varargs = true;
  if (name == "kwargs") macro->catch_kwargs = true;
  if (name == "caller") macro->uses_caller = true;
}

}  // namespace tandem::text::jinja
