// Parser, expressions: Jinja's precedence climbing, postfix chains, filters and tests.
#include "text/jinja/parser.h"

#include "text/jinja/lexer.h"
#include "text/jinja/template_error.h"

namespace tandem::text::jinja {

using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;

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
  auto e = ast::make_node<Expr>(ExprKind::kTuple, line);
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
    auto e = ast::make_node<Expr>(ExprKind::kCondExpr, line);
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
    auto e = ast::make_node<Expr>(ExprKind::kOr, line);
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
    auto e = ast::make_node<Expr>(ExprKind::kAnd, line);
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
    auto e = ast::make_node<Expr>(ExprKind::kNot, line);
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
  auto e = ast::make_node<Expr>(ExprKind::kCompare, line);
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
    auto e = ast::make_node<Expr>(ExprKind::kBinary, line);
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
  auto e = ast::make_node<Expr>(ExprKind::kConcat, line);
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
    auto e = ast::make_node<Expr>(ExprKind::kBinary, line);
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
    auto e = ast::make_node<Expr>(ExprKind::kBinary, line);
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
    node = ast::make_node<Expr>(neg ? ExprKind::kNeg : ExprKind::kPos, line);
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
      auto e = ast::make_node<Expr>(ExprKind::kLiteral, line);
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
      auto e = ast::make_node<Expr>(ExprKind::kLiteral, line);
      e->literal = Value::string(std::move(s));
      return e;
    }
    case TokenType::kInteger: {
      auto e = ast::make_node<Expr>(ExprKind::kLiteral, line);
      e->literal = Value::integer(token.int_value);
      next();
      return e;
    }
    case TokenType::kFloat: {
      auto e = ast::make_node<Expr>(ExprKind::kLiteral, line);
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
        auto e = ast::make_node<Expr>(ExprKind::kList, line);
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
        auto e = ast::make_node<Expr>(ExprKind::kDict, line);
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
    case TokenType::kEof: break;
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
      auto e = ast::make_node<Expr>(ExprKind::kGetAttr, line);
      e->a = std::move(node);
      e->name = attr.value;
      return e;
    }
    if (attr.type != TokenType::kInteger) fail_syntax(attr.line, "expected name or number");
    auto e = ast::make_node<Expr>(ExprKind::kGetItem, line);
    e->a = std::move(node);
    e->b = ast::make_node<Expr>(ExprKind::kLiteral, line);
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
  auto e = ast::make_node<Expr>(ExprKind::kGetItem, line);
  e->a = std::move(node);
  if (args.size() == 1) {
    e->b = std::move(args[0]);
  } else {
    e->b = ast::make_node<Expr>(ExprKind::kTuple, line);
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
  auto e = ast::make_node<Expr>(ExprKind::kSlice, line);
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
  auto e = ast::make_node<Expr>(ExprKind::kCall, current().line);
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
    auto e = ast::make_node<Expr>(ExprKind::kFilter, line);
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
  auto e = ast::make_node<Expr>(ExprKind::kTest, line);
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
