// jinja::Parser: tokens -> ast::Body, following Jinja2's grammar and operator
// precedence (condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** <
// unary < filters/tests < postfix). Statements: if/elif/else, for (with
// filter, else, loop controls), set (incl. namespace attributes, tuples and
// block set), macro, call, filter, with, raw, generation (HF extension).
//
// Failure: a TemplateError "syntax error on line N: ..." naming what was
// expected. Nesting deeper than kMaxNesting fails instead of overflowing the
// stack.
//
// One type, three files: parser.cpp (token cursor, errors, limits),
// parser_statements.cpp, parser_expressions.cpp.
#pragma once

#include <string>
#include <vector>

#include "text/jinja/ast.h"
#include "text/jinja/token.h"

namespace tandem::text::jinja {

class Parser {
 public:
  static constexpr int kMaxNesting = 200;

  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  ast::Body parse();

 private:
  class ChainGuard {
   public:
    explicit ChainGuard(Parser& parser) : parser_(parser) {}
    ~ChainGuard();
    void link();

   private:
    Parser& parser_;
    int links_ = 0;
  };

  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t n = 1) const;
  const Token& next();
  bool is_name(const char* name) const;
  bool is_op(const char* op) const;
  bool skip_name(const char* name);
  bool skip_op(const char* op);
  void expect_op(const char* op);
  const Token& expect_name();
  void expect_name(const char* name);
  void expect(TokenType type);
  [[noreturn]] void fail_here(const std::string& message) const;
  [[noreturn]] void fail_unexpected(const std::string& expected) const;
  static std::string quoted(const std::string& s);  // 'text', as Jinja's messages quote

  ast::Body subparse(const std::vector<const char*>& end_tokens);
  ast::Body parse_statements(const std::vector<const char*>& end_tokens, bool drop_needle);
  ast::StmtPtr parse_statement();
  ast::StmtPtr parse_for();
  ast::StmtPtr parse_if();
  ast::StmtPtr parse_set();
  ast::StmtPtr parse_macro();
  ast::StmtPtr parse_call_block();
  ast::StmtPtr parse_filter_block();
  ast::StmtPtr parse_with();
  void parse_signature(ast::Stmt& node);
  ast::Target parse_assign_target(bool with_tuple, bool name_only, bool with_namespace, const char* extra_end);
  ast::Target parse_target_primary();

  ast::ExprPtr parse_tuple(bool with_condexpr, const char* extra_end, bool explicit_parens);
  ast::ExprPtr parse_expression(bool with_condexpr = true);
  ast::ExprPtr parse_condexpr();
  ast::ExprPtr parse_or();
  ast::ExprPtr parse_and();
  ast::ExprPtr parse_not();
  ast::ExprPtr parse_compare();
  ast::ExprPtr parse_math1();
  ast::ExprPtr parse_concat();
  ast::ExprPtr parse_math2();
  ast::ExprPtr parse_pow();
  ast::ExprPtr parse_unary(bool with_filter);
  ast::ExprPtr parse_primary();
  ast::ExprPtr parse_postfix(ast::ExprPtr node);
  ast::ExprPtr parse_filter_expr(ast::ExprPtr node);
  ast::ExprPtr parse_subscript(ast::ExprPtr node);
  ast::ExprPtr parse_subscribed();
  ast::ExprPtr parse_call(ast::ExprPtr node);
  void parse_call_args(ast::Expr& call);
  ast::ExprPtr parse_filter(ast::ExprPtr node, bool start_inline);
  ast::ExprPtr parse_test(ast::ExprPtr node);
  bool is_tuple_end(const char* extra_end) const;
  void enter();
  void leave() { --depth_; }
  void note_name(const std::string& name);

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<ast::Stmt*> macro_stack_;
};

}  // namespace tandem::text::jinja
