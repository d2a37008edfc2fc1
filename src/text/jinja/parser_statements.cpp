// Parser, statements: the template body and the {% ... %} tags.
#include "text/jinja/parser.h"

#include "text/jinja/lexer.h"
#include "text/jinja/template_error.h"

namespace tandem::text::jinja {

using ast::ExprKind;
using ast::ExprPtr;
using ast::Stmt;
using ast::StmtKind;
using ast::StmtPtr;

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
        auto s = ast::make_node<Stmt>(StmtKind::kData, token.line);
        s->text = token.value;
        body.push_back(std::move(s));
      }
      next();
    } else if (token.type == TokenType::kVariableBegin) {
      const int line = token.line;
      next();
      auto s = ast::make_node<Stmt>(StmtKind::kOutput, line);
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
    auto s = ast::make_node<Stmt>(StmtKind::kOutput, token.line);
    next();
    s->expr = parse_tuple(true, nullptr, false);
    return s;
  }
  if (tag == "break" || tag == "continue") {
    const bool is_break = tag == "break";
    if (loop_depth_ == 0) fail_here(quoted(tag) + " outside loop");
    auto s = ast::make_node<Stmt>(is_break ? StmtKind::kBreak : StmtKind::kContinue, token.line);
    next();
    return s;
  }
  if (tag == "generation") {
    auto s = ast::make_node<Stmt>(StmtKind::kGeneration, token.line);
    next();
    s->body = parse_statements({"endgeneration"}, true);
    return s;
  }
  if (tag == "include" || tag == "import" || tag == "from" || tag == "extends") {
    // Valid Jinja, but templates cannot be loaded here (as in HF): fails when rendered.
    auto s = ast::make_node<Stmt>(StmtKind::kNoLoader, token.line);
    next();
    while (current().type != TokenType::kBlockEnd && current().type != TokenType::kEof) next();
    return s;
  }
  fail_here("Encountered unknown tag " + quoted(tag) + ".");
}

StmtPtr Parser::parse_for() {
  auto s = ast::make_node<Stmt>(StmtKind::kFor, current().line);
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
  auto s = ast::make_node<Stmt>(StmtKind::kIf, current().line);
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
    auto s = ast::make_node<Stmt>(StmtKind::kSet, line);
    s->target = std::move(target);
    s->expr = parse_tuple(true, nullptr, false);
    return s;
  }
  auto s = ast::make_node<Stmt>(StmtKind::kSetBlock, line);
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
  auto s = ast::make_node<Stmt>(StmtKind::kMacro, current().line);
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
  auto s = ast::make_node<Stmt>(StmtKind::kCallBlock, current().line);
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
  auto s = ast::make_node<Stmt>(StmtKind::kFilterBlock, current().line);
  next();
  s->filter = parse_filter(nullptr, true);
  s->body = parse_statements({"endfilter"}, true);
  return s;
}

StmtPtr Parser::parse_with() {
  auto s = ast::make_node<Stmt>(StmtKind::kWith, current().line);
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

ast::Target Parser::parse_assign_target(bool with_tuple, bool name_only, bool with_namespace, const char* extra_end) {
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

}  // namespace tandem::text::jinja
