#include "text/jinja/parser.h"

#include <cstring>

#include "text/jinja/lexer.h"
#include "text/jinja/template_error.h"

namespace tandem::text::jinja {

using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;
using ast::Stmt;
using ast::StmtKind;
using ast::StmtPtr;

namespace {
ExprPtr make_expr(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

StmtPtr make_stmt(StmtKind kind, int line) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->line = line;
  return s;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }
}  // namespace

const Token& Parser::peek(size_t n) const {
  const size_t i = pos_ + n;
  return i < tokens_.size() ? tokens_[i] : tokens_.back();
}

const Token& Parser::next() {
  const Token& t = tokens_[pos_];
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return t;
}

bool Parser::is_name(const char* name) const {
  return current().type == TokenType::kName && current().value == name;
}

bool Parser::is_op(const char* op) const {
  return current().type == TokenType::kOperator && current().value == op;
}

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

// ---- statements -------------------------------------------------------------

ast::Body Parser::parse() {
  ast::Body body = subparse({});
  if (current().type != TokenType::kEof) fail_here("unexpected " + quoted(describe_token(current())));
  return body;
}

ast::Body Parser::subparse(const std::vector<const char*>& end_tokens) {
  ast::Body body;
  while (current().type != TokenType::kEof) {
    const Token& token = current();
    if (token.type == TokenType::kData) {
      if (!body.empty() && body.back()->kind == StmtKind::kData) {
        body.back()->text += token.value;
      } else {
        auto s = make_stmt(StmtKind::kData, token.line);
        s->text = token.value;
        body.push_back(std::move(s));
      }
      next();
    } else if (token.type == TokenType::kVariableBegin) {
      const int line = token.line;
      next();
      auto s = make_stmt(StmtKind::kOutput, line);
      s->expr = parse_tuple(true, nullptr, false);
      expect(TokenType::kVariableEnd);
      body.push_back(std::move(s));
    } else if (token.type == TokenType::kBlockBegin) {
      next();
      for (const char* end : end_tokens) {
        if (is_name(end)) return body;
      }
      enter();
      body.push_back(parse_statement());
      leave();
      expect(TokenType::kBlockEnd);
    } else {
      fail_here("internal parsing error: unexpected " + quoted(describe_token(token)));
    }
  }
  return body;
}

ast::Body Parser::parse_statements(const std::vector<const char*>& end_tokens, bool drop_needle) {
  skip_op(":");
  expect(TokenType::kBlockEnd);
  ast::Body body = subparse(end_tokens);
  if (current().type == TokenType::kEof) {
    std::string expected;
    for (const char* e : end_tokens) {
      if (!expected.empty()) expected += " or ";
      expected += quoted(e);
    }
    fail_here("Unexpected end of template. Jinja was looking for the following tags: " + expected + ".");
  }
  if (drop_needle) next();
  return body;
}

StmtPtr Parser::parse_statement() {
  const Token& token = current();
  if (token.type != TokenType::kName) fail_here("tag name expected");
  const std::string& tag = token.value;
  if (tag == "for") return parse_for();
  if (tag == "if") return parse_if();
  if (tag == "set") return parse_set();
  if (tag == "macro") return parse_macro();
  if (tag == "call") return parse_call_block();
  if (tag == "filter") return parse_filter_block();
  if (tag == "with") return parse_with();
  if (tag == "print") {
    auto s = make_stmt(StmtKind::kOutput, token.line);
    next();
    s->expr = parse_tuple(true, nullptr, false);
    return s;
  }
  if (tag == "break" || tag == "continue") {
    const bool is_break = tag == "break";
    if (loop_depth_ == 0) fail_here(quoted(tag) + " outside loop");
    auto s = make_stmt(is_break ? StmtKind::kBreak : StmtKind::kContinue, token.line);
    next();
    return s;
  }
  if (tag == "generation") {
    auto s = make_stmt(StmtKind::kGeneration, token.line);
    next();
    s->body = parse_statements({"endgeneration"}, true);
    return s;
  }
  if (tag == "include" || tag == "import" || tag == "from" || tag == "extends") {
    // Valid Jinja, but templates cannot be loaded here (as in HF): fails when rendered.
    auto s = make_stmt(StmtKind::kNoLoader, token.line);
    next();
    while (current().type != TokenType::kBlockEnd && current().type != TokenType::kEof) next();
    return s;
  }
  fail_here("Encountered unknown tag " + quoted(tag) + ".");
}

StmtPtr Parser::parse_for() {
  auto s = make_stmt(StmtKind::kFor, current().line);
  next();
  s->target = parse_assign_target(true, false, false, "in");
  expect_name("in");
  s->expr = parse_tuple(false, "recursive", false);
  if (skip_name("if")) s->filter = parse_expression();
  if (is_name("recursive")) fail_here("recursive for loops are not supported");
  ++loop_depth_;
  s->body = parse_statements({"endfor", "else"}, false);
  --loop_depth_;
  if (next().value == "else") s->else_body = parse_statements({"endfor"}, true);
  return s;
}

StmtPtr Parser::parse_if() {
  auto s = make_stmt(StmtKind::kIf, current().line);
  next();
  while (true) {
    ast::Branch branch;
    branch.test = parse_tuple(false, nullptr, false);
    branch.body = parse_statements({"elif", "else", "endif"}, false);
    s->branches.push_back(std::move(branch));
    const Token& token = next();
    if (token.value == "elif") continue;
    if (token.value == "else") {
      ast::Branch else_branch;
      else_branch.body = parse_statements({"endif"}, true);
      s->branches.push_back(std::move(else_branch));
    }
    break;
  }
  return s;
}

StmtPtr Parser::parse_set() {
  const int line = current().line;
  next();
  ast::Target target = parse_assign_target(true, false, true, nullptr);
  if (skip_op("=")) {
    auto s = make_stmt(StmtKind::kSet, line);
    s->target = std::move(target);
    s->expr = parse_tuple(true, nullptr, false);
    return s;
  }
  auto s = make_stmt(StmtKind::kSetBlock, line);
  s->target = std::move(target);
  if (is_op("|")) s->filter = parse_filter(nullptr, false);
  s->body = parse_statements({"endset"}, true);
  return s;
}

void Parser::parse_signature(Stmt& node) {
  expect_op("(");
  while (!is_op(")")) {
    if (!node.params.empty()) expect_op(",");
    const Token& name = expect_name();
    node.params.push_back(name.value);
    if (skip_op("=")) {
      node.defaults.push_back(parse_expression());
    } else if (!node.defaults.empty()) {
      fail_here("non-default argument follows default argument");
    }
  }
  expect_op(")");
}

StmtPtr Parser::parse_macro() {
  auto s = make_stmt(StmtKind::kMacro, current().line);
  next();
  s->name = expect_name().value;
  parse_signature(*s);
  macro_stack_.push_back(s.get());
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  s->body = parse_statements({"endmacro"}, true);
  loop_depth_ = saved_loop_depth;
  macro_stack_.pop_back();
  return s;
}

StmtPtr Parser::parse_call_block() {
  auto s = make_stmt(StmtKind::kCallBlock, current().line);
  next();
  if (is_op("(")) parse_signature(*s);
  s->expr = parse_expression();
  if (s->expr->kind != ExprKind::kCall) fail_here("expected call");
  macro_stack_.push_back(s.get());
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  s->body = parse_statements({"endcall"}, true);
  loop_depth_ = saved_loop_depth;
  macro_stack_.pop_back();
  return s;
}

StmtPtr Parser::parse_filter_block() {
  auto s = make_stmt(StmtKind::kFilterBlock, current().line);
  next();
  s->filter = parse_filter(nullptr, true);
  s->body = parse_statements({"endfilter"}, true);
  return s;
}

StmtPtr Parser::parse_with() {
  auto s = make_stmt(StmtKind::kWith, current().line);
  next();
  while (current().type != TokenType::kBlockEnd) {
    if (!s->assignments.empty()) expect_op(",");
    ast::Target target = parse_assign_target(true, false, false, nullptr);
    expect_op("=");
    s->assignments.emplace_back(std::move(target), parse_expression());
  }
  s->body = parse_statements({"endwith"}, true);
  return s;
}

ast::Target Parser::parse_target_primary() {
  if (current().type == TokenType::kName) {
    const std::string& v = current().value;
    if (v == "true" || v == "false" || v == "none" || v == "True" || v == "False" || v == "None") {
      fail_here("can't assign to 'const'");
    }
    ast::Target t;
    t.kind = ast::Target::Kind::kName;
    t.name = v;
    next();
    return t;
  }
  if (skip_op("(")) {
    ast::Target t;
    t.kind = ast::Target::Kind::kTuple;
    while (!is_op(")")) {
      if (!t.items.empty()) expect_op(",");
      if (is_op(")")) break;
      t.items.push_back(parse_target_primary());
    }
    expect_op(")");
    if (t.items.size() == 1) return std::move(t.items[0]);
    return t;
  }
  fail_here("can't assign to " + quoted(describe_token(current())));
}

ast::Target Parser::parse_assign_target(bool with_tuple, bool name_only, bool with_namespace,
                                        const char* extra_end) {
  if (name_only) {
    ast::Target t;
    t.name = expect_name().value;
    return t;
  }
  if (with_namespace && current().type == TokenType::kName && peek().type == TokenType::kOperator &&
      peek().value == ".") {
    ast::Target t;
    t.kind = ast::Target::Kind::kNamespaceAttr;
    t.name = next().value;
    next();
    t.attr = expect_name().value;
    return t;
  }
  if (!with_tuple) return parse_target_primary();
  ast::Target tuple;
  tuple.kind = ast::Target::Kind::kTuple;
  bool is_tuple = false;
  while (true) {
    if (!tuple.items.empty()) expect_op(",");
    if (is_tuple_end(extra_end)) break;
    tuple.items.push_back(parse_target_primary());
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (tuple.items.empty()) fail_here("Expected an expression, got " + quoted(describe_token(current())));
    return std::move(tuple.items[0]);
  }
  return tuple;
}

// ---- expressions ------------------------------------------------------------

bool Parser::is_tuple_end(const char* extra_end) const {
  const Token& t = current();
  if (t.type == TokenType::kVariableEnd || t.type == TokenType::kBlockEnd || t.type == TokenType::kEof) return true;
  if (t.type == TokenType::kOperator && t.value == ")") return true;
  return extra_end != nullptr && is_name(extra_end);
}

ExprPtr Parser::parse_tuple(bool with_condexpr, const char* extra_end, bool explicit_parens) {
  const int line = current().line;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) expect_op(",");
    if (is_tuple_end(extra_end)) break;
    args.push_back(parse_expression(with_condexpr));
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parens) fail_here("Expected an expression, got " + quoted(describe_token(current())));
  }
  auto e = make_expr(ExprKind::kTuple, line);
  e->items = std::move(args);
  return e;
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
  enter();
  ExprPtr e = with_condexpr ? parse_condexpr() : parse_or();
  leave();
  return e;
}

ExprPtr Parser::parse_condexpr() {
  const int line = current().line;
  ExprPtr expr1 = parse_or();
  ChainGuard chain(*this);
  while (skip_name("if")) {
    chain.link();
    ExprPtr expr2 = parse_or();
    ExprPtr expr3;
    if (skip_name("else")) expr3 = parse_condexpr();
    auto e = make_expr(ExprKind::kCondExpr, line);
    e->a = std::move(expr2);
    e->b = std::move(expr1);
    e->c = std::move(expr3);
    expr1 = std::move(e);
  }
  return expr1;
}

ExprPtr Parser::parse_or() {
  const int line = current().line;
  ExprPtr left = parse_and();
  ChainGuard chain(*this);
  while (skip_name("or")) {
    chain.link();
    auto e = make_expr(ExprKind::kOr, line);
    e->a = std::move(left);
    e->b = parse_and();
    left = std::move(e);
  }
  return left;
}

ExprPtr Parser::parse_and() {
  const int line = current().line;
  ExprPtr left = parse_not();
  ChainGuard chain(*this);
  while (skip_name("and")) {
    chain.link();
    auto e = make_expr(ExprKind::kAnd, line);
    e->a = std::move(left);
    e->b = parse_not();
    left = std::move(e);
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    const int line = current().line;
    next();
    enter();
    auto e = make_expr(ExprKind::kNot, line);
    e->a = parse_not();
    leave();
    return e;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  const int line = current().line;
  ExprPtr expr = parse_math1();
  std::vector<ast::CompareOp> ops;
  std::vector<ExprPtr> operands;
  while (true) {
    ast::CompareOp op;
    if (skip_op("==")) {
      op = ast::CompareOp::kEq;
    } else if (skip_op("!=")) {
      op = ast::CompareOp::kNe;
    } else if (skip_op("<")) {
      op = ast::CompareOp::kLt;
    } else if (skip_op("<=")) {
      op = ast::CompareOp::kLe;
    } else if (skip_op(">")) {
      op = ast::CompareOp::kGt;
    } else if (skip_op(">=")) {
      op = ast::CompareOp::kGe;
    } else if (skip_name("in")) {
      op = ast::CompareOp::kIn;
    } else if (is_name("not") && peek().type == TokenType::kName && peek().value == "in") {
      next();
      next();
      op = ast::CompareOp::kNotIn;
    } else {
      break;
    }
    ops.push_back(op);
    operands.push_back(parse_math1());
  }
  if (ops.empty()) return expr;
  auto e = make_expr(ExprKind::kCompare, line);
  e->a = std::move(expr);
  e->compare_ops = std::move(ops);
  e->items = std::move(operands);
  return e;
}

ExprPtr Parser::parse_math1() {
  const int line = current().line;
  ExprPtr left = parse_concat();
  ChainGuard chain(*this);
  while (is_op("+") || is_op("-")) {
    chain.link();
    const bool add = current().value == "+";
    next();
    auto e = make_expr(ExprKind::kBinary, line);
    e->op = add ? ast::BinaryOp::kAdd : ast::BinaryOp::kSub;
    e->a = std::move(left);
    e->b = parse_concat();
    left = std::move(e);
  }
  return left;
}

ExprPtr Parser::parse_concat() {
  const int line = current().line;
  ExprPtr first = parse_math2();
  if (!is_op("~")) return first;
  auto e = make_expr(ExprKind::kConcat, line);
  e->items.push_back(std::move(first));
  while (skip_op("~")) e->items.push_back(parse_math2());
  return e;
}

ExprPtr Parser::parse_math2() {
  const int line = current().line;
  ExprPtr left = parse_pow();
  ChainGuard chain(*this);
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    chain.link();
    const std::string op = next().value;
    auto e = make_expr(ExprKind::kBinary, line);
    e->op = op == "*"    ? ast::BinaryOp::kMul
            : op == "/"  ? ast::BinaryOp::kDiv
            : op == "//" ? ast::BinaryOp::kFloorDiv
                         : ast::BinaryOp::kMod;
    e->a = std::move(left);
    e->b = parse_pow();
    left = std::move(e);
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  const int line = current().line;
  ExprPtr left = parse_unary(true);
  ChainGuard chain(*this);
  while (skip_op("**")) {
    chain.link();
    auto e = make_expr(ExprKind::kBinary, line);
    e->op = ast::BinaryOp::kPow;
    e->a = std::move(left);
    e->b = parse_unary(true);
    left = std::move(e);
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  const int line = current().line;
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    const bool neg = current().value == "-";
    next();
    enter();
    node = make_expr(neg ? ExprKind::kNeg : ExprKind::kPos, line);
    node->a = parse_unary(false);
    leave();
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary() {
  const Token& token = current();
  const int line = token.line;
  switch (token.type) {
    case TokenType::kName: {
      const std::string& v = token.value;
      auto e = make_expr(ExprKind::kLiteral, line);
      if (v == "true" || v == "True") {
        e->literal = Value::boolean(true);
      } else if (v == "false" || v == "False") {
        e->literal = Value::boolean(false);
      } else if (v == "none" || v == "None") {
        e->literal = Value::none();
      } else {
        e->kind = ExprKind::kName;
        e->name = v;
        note_name(v);
      }
      next();
      return e;
    }
    case TokenType::kString: {
      std::string s = token.value;
      next();
      while (current().type == TokenType::kString) s += next().value;
      auto e = make_expr(ExprKind::kLiteral, line);
      e->literal = Value::string(std::move(s));
      return e;
    }
    case TokenType::kInteger: {
      auto e = make_expr(ExprKind::kLiteral, line);
      e->literal = Value::integer(token.int_value);
      next();
      return e;
    }
    case TokenType::kFloat: {
      auto e = make_expr(ExprKind::kLiteral, line);
      e->literal = Value::number(token.float_value);
      next();
      return e;
    }
    case TokenType::kOperator:
      if (token.value == "(") {
        next();
        enter();
        ExprPtr e = parse_tuple(true, nullptr, true);
        leave();
        expect_op(")");
        return e;
      }
      if (token.value == "[") {
        next();
        enter();
        auto e = make_expr(ExprKind::kList, line);
        while (!is_op("]")) {
          if (!e->items.empty()) expect_op(",");
          if (is_op("]")) break;
          e->items.push_back(parse_expression());
        }
        expect_op("]");
        leave();
        return e;
      }
      if (token.value == "{") {
        next();
        enter();
        auto e = make_expr(ExprKind::kDict, line);
        while (!is_op("}")) {
          if (!e->items.empty()) expect_op(",");
          if (is_op("}")) break;
          e->items.push_back(parse_expression());
          expect_op(":");
          e->items.push_back(parse_expression());
        }
        expect_op("}");
        leave();
        return e;
      }
      break;
    case TokenType::kData:
    case TokenType::kVariableBegin:
    case TokenType::kVariableEnd:
    case TokenType::kBlockBegin:
    case TokenType::kBlockEnd:
    case TokenType::kEof:
      break;
  }
  if (token.type == TokenType::kEof) fail_here("unexpected end of template");
  fail_here("unexpected " + quoted(describe_token(token)));
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  ChainGuard chain(*this);
  while (true) {
    chain.link();
    if (is_op(".") || is_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  ChainGuard chain(*this);
  while (true) {
    chain.link();
    if (is_op("|")) {
      node = parse_filter(std::move(node), false);
    } else if (is_name("is")) {
      node = parse_test(std::move(node));
    } else if (is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
  const Token& token = next();
  const int line = token.line;
  if (token.value == ".") {
    const Token& attr = next();
    if (attr.type == TokenType::kName) {
      auto e = make_expr(ExprKind::kGetAttr, line);
      e->a = std::move(node);
      e->name = attr.value;
      return e;
    }
    if (attr.type != TokenType::kInteger) fail_syntax(attr.line, "expected name or number");
    auto e = make_expr(ExprKind::kGetItem, line);
    e->a = std::move(node);
    e->b = make_expr(ExprKind::kLiteral, line);
    e->b->literal = Value::integer(attr.int_value);
    return e;
  }
  // '['
  enter();
  std::vector<ExprPtr> args;
  while (!is_op("]")) {
    if (!args.empty()) {
      expect_op(",");
      if (is_op("]")) break;
    }
    args.push_back(parse_subscribed());
  }
  expect_op("]");
  leave();
  auto e = make_expr(ExprKind::kGetItem, line);
  e->a = std::move(node);
  if (args.size() == 1) {
    e->b = std::move(args[0]);
  } else {
    e->b = make_expr(ExprKind::kTuple, line);
    e->b->items = std::move(args);
  }
  return e;
}

ExprPtr Parser::parse_subscribed() {
  const int line = current().line;
  std::vector<ExprPtr> parts;  // start, stop, step
  if (is_op(":")) {
    next();
    parts.push_back(nullptr);
  } else {
    ExprPtr node = parse_expression();
    if (!is_op(":")) return node;
    next();
    parts.push_back(std::move(node));
  }
  if (is_op(":")) {
    parts.push_back(nullptr);
  } else if (!is_op("]") && !is_op(",")) {
    parts.push_back(parse_expression());
  } else {
    parts.push_back(nullptr);
  }
  if (skip_op(":")) {
    if (!is_op("]") && !is_op(",")) {
      parts.push_back(parse_expression());
    } else {
      parts.push_back(nullptr);
    }
  } else {
    parts.push_back(nullptr);
  }
  auto e = make_expr(ExprKind::kSlice, line);
  e->items = std::move(parts);
  return e;
}

void Parser::parse_call_args(Expr& call) {
  expect_op("(");
  bool require_comma = false;
  while (!is_op(")")) {
    if (require_comma) {
      expect_op(",");
      if (is_op(")")) break;
    }
    if (skip_op("*")) {
      if (call.dyn_args) fail_here("invalid syntax for function call expression");
      call.dyn_args = parse_expression();
    } else if (skip_op("**")) {
      if (call.dyn_kwargs) fail_here("invalid syntax for function call expression");
      call.dyn_kwargs = parse_expression();
    } else if (current().type == TokenType::kName && peek().type == TokenType::kOperator && peek().value == "=") {
      if (call.dyn_kwargs) fail_here("invalid syntax for function call expression");
      std::string key = next().value;
      next();
      call.kwargs.emplace_back(std::move(key), parse_expression());
    } else {
      if (call.dyn_args || call.dyn_kwargs || !call.kwargs.empty()) {
        fail_here("invalid syntax for function call expression");
      }
      call.items.push_back(parse_expression());
    }
    require_comma = true;
  }
  expect_op(")");
}

ExprPtr Parser::parse_call(ExprPtr node) {
  auto e = make_expr(ExprKind::kCall, current().line);
  e->a = std::move(node);
  enter();
  parse_call_args(*e);
  leave();
  return e;
}

ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
  ChainGuard chain(*this);
  while (is_op("|") || start_inline) {
    chain.link();
    if (!start_inline) next();
    start_inline = false;
    const int line = current().line;
    std::string name = expect_name().value;
    while (is_op(".")) {
      next();
      name += "." + expect_name().value;
    }
    auto e = make_expr(ExprKind::kFilter, line);
    e->a = std::move(node);
    e->name = std::move(name);
    if (is_op("(")) {
      enter();
      parse_call_args(*e);
      leave();
    }
    node = std::move(e);
  }
  return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  const int line = current().line;
  next();  // is
  const bool negated = skip_name("not");
  std::string name = expect_name().value;
  while (is_op(".")) {
    next();
    name += "." + expect_name().value;
  }
  auto e = make_expr(ExprKind::kTest, line);
  e->a = std::move(node);
  e->name = std::move(name);
  e->negated = negated;
  const Token& t = current();
  if (is_op("(")) {
    enter();
    parse_call_args(*e);
    leave();
  } else if ((t.type == TokenType::kName || t.type == TokenType::kString || t.type == TokenType::kInteger ||
              t.type == TokenType::kFloat || is_op("[") || is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) fail_here("You cannot chain multiple tests with is");
    enter();
    ExprPtr arg = parse_postfix(parse_primary());
    leave();
    e->items.push_back(std::move(arg));
  }
  return e;
}

}  // namespace tandem::text::jinja
