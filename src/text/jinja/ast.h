// jinja::ast: the syntax tree of a compiled template. Built once by the
// Parser, read-only afterwards (rendering never mutates it, so one Program
// renders on many threads). Each node keeps its source line for errors.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace tandem::text::jinja::ast {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  kLiteral,   // literal
  kName,      // name
  kList,      // items
  kTuple,     // items
  kDict,      // items: key, value, key, value, ...
  kGetAttr,   // a.name
  kGetItem,   // a[b]
  kSlice,     // items: start, stop, step (each may be null); only as kGetItem's b
  kCall,      // a(items..., kwargs...)
  kFilter,    // a|name(items..., kwargs...); a is null inside {% filter %} / set blocks
  kTest,      // a is [not] name(items...)
  kNeg,       // -a
  kPos,       // +a
  kNot,       // not a
  kBinary,    // a op b
  kConcat,    // items joined with ~
  kAnd,       // a and b
  kOr,        // a or b
  kCompare,   // a ops[0] items[0] ops[1] items[1] ...
  kCondExpr,  // b if a else c (c may be null)
};

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  Value literal;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args, dyn_kwargs;  // *args, **kwargs in calls
  BinaryOp op = BinaryOp::kAdd;
  std::vector<CompareOp> compare_ops;
  bool negated = false;  // `is not`
};

// Assignment target: a name, a namespace attribute, or a tuple of targets.
struct Target {
  enum class Kind { kName, kNamespaceAttr, kTuple };
  Kind kind = Kind::kName;
  std::string name;
  std::string attr;
  std::vector<Target> items;
};

enum class StmtKind {
  kData,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches (test null for else)
  kFor,          // target in expr [if filter] body [else else_body]
  kSet,          // target = expr
  kSetBlock,     // {% set target [| filter] %}body{% endset %}
  kMacro,        // name(params = defaults) body
  kCallBlock,    // {% call[(params)] expr %}body{% endcall %}
  kFilterBlock,  // {% filter expr %}body{% endfilter %}
  kWith,         // assignments, body
  kBreak,
  kContinue,
  kGeneration,  // HF's {% generation %}body{% endgeneration %}: renders body
  kNoLoader,    // include/import/from/extends: HF's environment has no loader (fails at render)
};

struct Branch {
  ExprPtr test;
  Body body;
};

struct Stmt {
  StmtKind kind = StmtKind::kData;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;  // for-loop condition, or the filter chain of a set/filter block
  Target target;
  std::vector<Branch> branches;
  Body body;
  Body else_body;
  // Macros and call blocks.
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  bool catch_varargs = false;
  bool catch_kwargs = false;
  bool uses_caller = false;
  // {% with %}
  std::vector<std::pair<Target, ExprPtr>> assignments;
};

// A new node (Expr or Stmt) of `kind` at source line `line`; the Parser's only way to make one.
template <typename Node, typename Kind>
std::unique_ptr<Node> make_node(Kind kind, int line) {
  auto node = std::make_unique<Node>();
  node->kind = kind;
  node->line = line;
  return node;
}

}  // namespace tandem::text::jinja::ast
