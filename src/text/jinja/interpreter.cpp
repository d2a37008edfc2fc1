#include "text/jinja/interpreter.h"

#include <ctime>
#include <optional>

#include "text/jinja/filters.h"
#include "text/jinja/methods.h"
#include "text/jinja/operators.h"
#include "text/jinja/template_error.h"
#include "text/jinja/test_functions.h"

namespace tandem::text::jinja {

using ast::Expr;
using ast::ExprKind;
using ast::Stmt;
using ast::StmtKind;

namespace {

std::shared_ptr<const Callable> make_builtin(const char* name, Builtin b) {
  auto c = std::make_shared<Callable>();
  c->kind = Callable::Kind::kBuiltin;
  c->name = name;
  c->builtin = b;
  return c;
}

// Globals every template sees (HF's environment: Jinja defaults + HF's).
const Value* global(std::string_view name) {
  static const Value kRange = Value::callable(make_builtin("range", Builtin::kRange));
  static const Value kNamespace = Value::callable(make_builtin("namespace", Builtin::kNamespace));
  static const Value kDict = Value::callable(make_builtin("dict", Builtin::kDict));
  static const Value kRaise = Value::callable(make_builtin("raise_exception", Builtin::kRaiseException));
  static const Value kStrftime = Value::callable(make_builtin("strftime_now", Builtin::kStrftimeNow));
  static const Value kJoiner = Value::callable(make_builtin("joiner", Builtin::kJoiner));
  if (name == "range") return &kRange;
  if (name == "namespace") return &kNamespace;
  if (name == "dict") return &kDict;
  if (name == "raise_exception") return &kRaise;
  if (name == "strftime_now") return &kStrftime;
  if (name == "joiner") return &kJoiner;
  return nullptr;
}

void check_namespace_attr(const std::string& name) {
  if (!name.empty() && name[0] == '_') {
    fail("Chat templates cannot store underscore-prefixed attributes on a namespace, but got " + repr_string(name) +
         ". Please rename the attribute.");
  }
}

bool is_dunder(const std::string& name) {
  return name.size() > 4 && name.compare(0, 2, "__") == 0 && name.compare(name.size() - 2, 2, "__") == 0;
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined_hint("access to attribute " + repr_string(name) + " of " + repr_string(type_name(obj)) +
                               " object is unsafe.");
}

Value bound_method(const Value& self, const std::string& name) {
  auto c = std::make_shared<Callable>();
  c->kind = Callable::Kind::kMethod;
  c->name = name;
  c->self = self;
  return Value::callable(std::move(c));
}

// The attribute `name` as a method of `obj` (bound, or the unsafe-access
// undefined for unsafe methods and dunders); nullopt when it names no method.
std::optional<Value> method_attr(const Value& obj, const std::string& name) {
  switch (method_kind(obj, name)) {
    case MethodKind::kSafe: return bound_method(obj, name);
    case MethodKind::kUnsafe: return unsafe(obj, name);
    case MethodKind::kNone: break;
  }
  if (is_dunder(name)) return unsafe(obj, name);
  return std::nullopt;
}

std::string strftime_python(const std::string& format, std::chrono::system_clock::time_point now) {
  if (format.size() > 4096) fail("strftime_now: format string too long");
  const auto since_epoch = now.time_since_epoch();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count() % 1'000'000;
  std::tm tm{};
  localtime_r(&t, &tm);
  // Python handles %f, %z and %Z itself (a naive datetime: empty zone).
  std::string fmt;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '%' && i + 1 < format.size()) {
      const char c = format[i + 1];
      if (c == 'f') {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "%06lld", static_cast<long long>(micros < 0 ? micros + 1'000'000 : micros));
        fmt += buf;
        ++i;
        continue;
      }
      if (c == 'z' || c == 'Z') {
        ++i;
        continue;
      }
      fmt += format[i];
      fmt += c;
      ++i;
      continue;
    }
    fmt += format[i];
  }
  if (fmt.empty()) return "";
  std::string out(fmt.size() * 16 + 256, '\0');
  const size_t n = std::strftime(out.data(), out.size(), fmt.c_str(), &tm);
  out.resize(n);
  return out;
}

}  // namespace

// ---- lifetime -----------------------------------------------------------------

Interpreter::~Interpreter() {
  // Hold every live namespace and closure scope while emptying them, so that
  // dropping one's contents never destroys another in a recursive chain;
  // then release them, now shallow. This also breaks reference cycles.
  std::vector<std::shared_ptr<Namespace>> namespaces;
  for (auto& weak : namespaces_) {
    if (auto ns = weak.lock()) namespaces.push_back(std::move(ns));
  }
  std::vector<std::shared_ptr<Scope>> scopes;
  for (auto& weak : closure_scopes_) {
    if (auto s = weak.lock()) scopes.push_back(std::move(s));
  }
  for (auto& ns : namespaces) {
    auto attrs = std::move(ns->attrs);
    ns->attrs.clear();
  }
  for (auto& s : scopes) s->clear();
}

void Interpreter::keep_for_cleanup(const std::shared_ptr<Scope>& scope) { closure_scopes_.push_back(scope); }

Value Interpreter::make_namespace() {
  auto ns = std::make_shared<Namespace>();
  namespaces_.push_back(ns);
  return Value::from_namespace(std::move(ns));
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > options_.limits.max_output_bytes) {
    fail("rendered output exceeds the limit of " + std::to_string(options_.limits.max_output_bytes) + " bytes");
  }
}

void Interpreter::note_iteration() {
  if (++iterations_ > options_.limits.max_loop_iterations) {
    fail("template exceeded the limit of " + std::to_string(options_.limits.max_loop_iterations) + " loop iterations");
  }
}

// ---- statements -------------------------------------------------------------

std::string Interpreter::render(const ast::Body& body, const std::shared_ptr<Scope>& scope) {
  std::string out;
  exec_body(body, scope, out);
  return out;
}

std::string Interpreter::capture(const ast::Body& body, const std::shared_ptr<Scope>& scope) {
  std::string out;
  exec_body(body, scope, out);
  return out;
}

Interpreter::Flow Interpreter::exec_body(const ast::Body& body, const std::shared_ptr<Scope>& scope, std::string& out) {
  for (const auto& stmt : body) {
    const Flow flow = exec(*stmt, scope, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const std::shared_ptr<Scope>& scope, std::string& out) {
  switch (stmt.kind) {
    case StmtKind::kData:
      out += stmt.text;
      check_size(out.size());
      return Flow::kNormal;
    case StmtKind::kOutput: {
      const Value v = eval(*stmt.expr, scope);
      append_str(out, v);
      check_size(out.size());
      return Flow::kNormal;
    }
    case StmtKind::kIf:
      for (const auto& branch : stmt.branches) {
        if (!branch.test || truthy(eval(*branch.test, scope))) return exec_body(branch.body, scope, out);
      }
      return Flow::kNormal;
    case StmtKind::kFor: return exec_for(stmt, scope, out);
    case StmtKind::kSet: assign(stmt.target, eval(*stmt.expr, scope), *scope); return Flow::kNormal;
    case StmtKind::kSetBlock: {
      auto inner = std::make_shared<Scope>(scope);
      Value v = Value::string(capture(stmt.body, inner));
      if (stmt.filter) v = apply_filter_chain(*stmt.filter, std::move(v), scope);
      assign(stmt.target, std::move(v), *scope);
      return Flow::kNormal;
    }
    case StmtKind::kMacro: {
      auto c = std::make_shared<Callable>();
      c->kind = Callable::Kind::kMacro;
      c->name = stmt.name;
      c->macro = &stmt;
      c->closure = scope;
      keep_for_cleanup(scope);
      scope->set(stmt.name, Value::callable(std::move(c)));
      return Flow::kNormal;
    }
    case StmtKind::kCallBlock: {
      auto caller = std::make_shared<Callable>();
      caller->kind = Callable::Kind::kBuiltin;
      caller->builtin = Builtin::kCaller;
      caller->name = "caller";
      caller->macro = &stmt;
      caller->closure = scope;
      keep_for_cleanup(scope);
      const Expr& call = *stmt.expr;
      Value callee = eval(*call.a, scope);
      CallArgs args = eval_args(call, scope);
      args.keyword.emplace_back("caller", Value::callable(std::move(caller)));
      append_str(out, this->call(callee, std::move(args)));
      check_size(out.size());
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      auto inner = std::make_shared<Scope>(scope);
      Value v = Value::string(capture(stmt.body, inner));
      append_str(out, apply_filter_chain(*stmt.filter, std::move(v), scope));
      check_size(out.size());
      return Flow::kNormal;
    }
    case StmtKind::kWith: {
      auto inner = std::make_shared<Scope>(scope);
      std::vector<Value> values;
      for (const auto& [target, expr] : stmt.assignments) values.push_back(eval(*expr, scope));
      for (size_t i = 0; i < values.size(); ++i) assign(stmt.assignments[i].first, values[i], *inner);
      return exec_body(stmt.body, inner, out);
    }
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
    case StmtKind::kGeneration: return exec_body(stmt.body, scope, out);
    case StmtKind::kNoLoader: fail("no loader for this environment specified");
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& stmt, const std::shared_ptr<Scope>& scope, std::string& out) {
  const Value iterable = eval(*stmt.expr, scope);
  std::vector<Value> all = iterate(iterable);
  auto items = std::make_shared<std::vector<Value>>();
  if (stmt.filter) {
    for (auto& item : all) {
      note_iteration();
      auto probe = std::make_shared<Scope>(scope);
      assign(stmt.target, item, *probe);
      if (truthy(eval(*stmt.filter, probe))) items->push_back(std::move(item));
    }
  } else {
    *items = std::move(all);
  }
  if (items->empty()) {
    if (!stmt.else_body.empty()) {
      auto inner = std::make_shared<Scope>(scope);
      return exec_body(stmt.else_body, inner, out);
    }
    return Flow::kNormal;
  }
  auto state = std::make_shared<LoopState>();
  state->items = items;
  const Value loop = Value::loop(state);
  for (size_t i = 0; i < items->size(); ++i) {
    note_iteration();
    state->index0 = static_cast<int64_t>(i);
    auto inner = std::make_shared<Scope>(scope);
    assign(stmt.target, (*items)[i], *inner);
    inner->set("loop", loop);
    const Flow flow = exec_body(stmt.body, inner, out);
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::assign(const ast::Target& target, Value value, Scope& scope) {
  switch (target.kind) {
    case ast::Target::Kind::kName: scope.set(target.name, std::move(value)); return;
    case ast::Target::Kind::kNamespaceAttr: {
      const Value* ns = scope.lookup(target.name);
      if (ns == nullptr || !ns->is_namespace()) fail("cannot assign attribute on non-namespace object");
      check_namespace_attr(target.attr);
      ns->as_namespace().set(target.attr, std::move(value));
      return;
    }
    case ast::Target::Kind::kTuple: {
      std::vector<Value> parts = iterate(value);
      const size_t n = target.items.size();
      if (parts.size() > n) fail("too many values to unpack (expected " + std::to_string(n) + ")");
      if (parts.size() < n) {
        fail("not enough values to unpack (expected " + std::to_string(n) + ", got " + std::to_string(parts.size()) +
             ")");
      }
      for (size_t i = 0; i < n; ++i) assign(target.items[i], std::move(parts[i]), scope);
      return;
    }
  }
}

// ---- expressions ------------------------------------------------------------

Value Interpreter::eval_name(const std::string& name, const Scope& scope) {
  if (const Value* v = scope.lookup(name)) return *v;
  if (const Value* g = global(name)) return *g;
  return Value::undefined_name(name);
}

Value Interpreter::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
  switch (e.kind) {
    case ExprKind::kLiteral: return e.literal;
    case ExprKind::kName: return eval_name(e.name, *scope);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& item : e.items) items.push_back(eval(*item, scope));
      return Value::sequence(std::move(items),
                             e.kind == ExprKind::kList ? SequenceStyle::kList : SequenceStyle::kTuple);
    }
    case ExprKind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value key = eval(*e.items[i], scope);
        Value val = eval(*e.items[i + 1], scope);
        if (key.is_sequence() && !key.is_tuple()) fail("unhashable type: 'list'");
        if (key.is_dict()) fail("unhashable type: 'dict'");
        bool replaced = false;
        for (auto& kv : d.items) {
          if (equals(kv.first, key)) {
            kv.second = val;
            replaced = true;
            break;
          }
        }
        if (!replaced) d.items.emplace_back(std::move(key), std::move(val));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::kGetAttr: return getattr(eval(*e.a, scope), e.name);
    case ExprKind::kGetItem: {
      Value obj = eval(*e.a, scope);
      if (e.b->kind == ExprKind::kSlice) {
        if (obj.is_undefined()) fail_undefined(obj);
        auto bound = [&](const ast::ExprPtr& p) { return p ? eval(*p, scope) : Value::none(); };
        return slice(obj, bound(e.b->items[0]), bound(e.b->items[1]), bound(e.b->items[2]));
      }
      return getitem(obj, eval(*e.b, scope));
    }
    case ExprKind::kSlice: fail("slice outside of a subscript");
    case ExprKind::kCall: return eval_call(e, scope);
    case ExprKind::kFilter: {
      Value input = e.a ? eval(*e.a, scope) : Value();
      return apply_filter(*this, e.name, input, eval_args(e, scope));
    }
    case ExprKind::kTest: {
      const Value input = eval(*e.a, scope);
      const bool r = apply_test(*this, e.name, input, eval_args(e, scope));
      return Value::boolean(e.negated ? !r : r);
    }
    case ExprKind::kNeg: return negate(eval(*e.a, scope));
    case ExprKind::kPos: return unary_plus(eval(*e.a, scope));
    case ExprKind::kNot: return Value::boolean(!truthy(eval(*e.a, scope)));
    case ExprKind::kBinary: {
      const Value a = eval(*e.a, scope);
      const Value b = eval(*e.b, scope);
      return binary_op(e.op, a, b, options_.limits.max_output_bytes);
    }
    case ExprKind::kConcat: {
      std::string s;
      for (const auto& item : e.items) {
        append_str(s, eval(*item, scope));
        check_size(s.size());
      }
      return Value::string(std::move(s));
    }
    case ExprKind::kAnd: {
      Value a = eval(*e.a, scope);
      if (!truthy(a)) return a;
      return eval(*e.b, scope);
    }
    case ExprKind::kOr: {
      Value a = eval(*e.a, scope);
      if (truthy(a)) return a;
      return eval(*e.b, scope);
    }
    case ExprKind::kCompare: return eval_compare(e, scope);
    case ExprKind::kCondExpr:
      if (truthy(eval(*e.a, scope))) return eval(*e.b, scope);
      if (e.c) return eval(*e.c, scope);
      return Value::undefined_hint("the inline if-expression on line " + std::to_string(e.line) +
                                   " evaluated to false and no else section was defined.");
  }
  return Value();
}

Value Interpreter::eval_compare(const Expr& e, const std::shared_ptr<Scope>& scope) {
  Value left = eval(*e.a, scope);
  for (size_t i = 0; i < e.compare_ops.size(); ++i) {
    Value right = eval(*e.items[i], scope);
    bool r = false;
    switch (e.compare_ops[i]) {
      case ast::CompareOp::kEq: r = equals(left, right); break;
      case ast::CompareOp::kNe: r = !equals(left, right); break;
      case ast::CompareOp::kLt: r = less(left, right, "<"); break;
      case ast::CompareOp::kLe: r = less(left, right, "<=") || equals(left, right); break;
      case ast::CompareOp::kGt: r = greater(left, right, ">"); break;
      case ast::CompareOp::kGe: r = greater(left, right, ">=") || equals(left, right); break;
      case ast::CompareOp::kIn: r = contains(right, left); break;
      case ast::CompareOp::kNotIn: r = !contains(right, left); break;
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

CallArgs Interpreter::eval_args(const Expr& e, const std::shared_ptr<Scope>& scope) {
  CallArgs args;
  args.positional.reserve(e.items.size());
  for (const auto& item : e.items) args.positional.push_back(eval(*item, scope));
  for (const auto& [name, expr] : e.kwargs) args.keyword.emplace_back(name, eval(*expr, scope));
  if (e.dyn_args) {
    for (auto& v : iterate(eval(*e.dyn_args, scope))) args.positional.push_back(std::move(v));
  }
  if (e.dyn_kwargs) {
    const Value d = eval(*e.dyn_kwargs, scope);
    if (!d.is_dict()) fail("argument after ** must be a mapping, not " + type_name(d));
    for (const auto& [k, v] : d.as_dict().items) {
      if (!k.is_string()) fail("keywords must be strings");
      args.keyword.emplace_back(k.as_string(), v);
    }
  }
  return args;
}

Value Interpreter::apply_filter_chain(const Expr& filter, Value input, const std::shared_ptr<Scope>& scope) {
  // The chain is nested with the innermost (first-applied) filter having a null input.
  if (filter.a) input = apply_filter_chain(*filter.a, std::move(input), scope);
  return apply_filter(*this, filter.name, input, eval_args(filter, scope));
}

Value Interpreter::eval_call(const Expr& e, const std::shared_ptr<Scope>& scope) {
  if (e.a->kind == ExprKind::kGetAttr) {
    // obj.method(...): dispatch without materializing a bound method.
    const Value obj = eval(*e.a->a, scope);
    if (method_kind(obj, e.a->name) == MethodKind::kSafe) {
      return call_method(*this, obj, e.a->name, eval_args(e, scope));
    }
    const Value callee = getattr(obj, e.a->name);
    return call(callee, eval_args(e, scope));
  }
  const Value callee = eval(*e.a, scope);
  return call(callee, eval_args(e, scope));
}

Value Interpreter::call(const Value& callee, CallArgs args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (!callee.is_callable()) fail("'" + type_name(callee) + "' object is not callable");
  const Callable& c = callee.as_callable();
  switch (c.kind) {
    case Callable::Kind::kMacro: return call_macro(c, std::move(args));
    case Callable::Kind::kBuiltin: return call_builtin(c, std::move(args));
    case Callable::Kind::kMethod: return call_method(*this, c.self, c.name, std::move(args));
  }
  return Value();
}

Value Interpreter::call_macro(const Callable& macro, CallArgs args) {
  const Stmt& def = *macro.macro;
  if (call_depth_ >= options_.limits.max_call_depth) {
    fail("maximum macro call depth (" + std::to_string(options_.limits.max_call_depth) + ") exceeded");
  }
  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& depth) : d(depth) { ++d; }
    ~DepthGuard() { --d; }
  } guard(call_depth_);

  auto scope = std::make_shared<Scope>(macro.closure);
  const size_t n = def.params.size();
  std::vector<bool> bound(n, false);
  const std::string what = "macro " + repr_string(macro.name);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < n) {
      scope->set(def.params[i], std::move(args.positional[i]));
      bound[i] = true;
    } else if (def.catch_varargs) {
      varargs.push_back(std::move(args.positional[i]));
    } else {
      fail(what + " takes not more than " + std::to_string(n) + " argument(s)");
    }
  }
  Dict kwargs;
  bool has_caller = false;
  for (auto& [name, value] : args.keyword) {
    size_t idx = n;
    for (size_t i = 0; i < n; ++i) {
      if (def.params[i] == name) idx = i;
    }
    if (idx < n) {
      if (bound[idx]) fail(what + " got multiple values for argument " + repr_string(name));
      scope->set(name, std::move(value));
      bound[idx] = true;
    } else if (name == "caller") {
      scope->set("caller", std::move(value));
      has_caller = true;
    } else if (def.catch_kwargs) {
      kwargs.items.emplace_back(Value::string(name), std::move(value));
    } else {
      fail(what + " takes no keyword argument " + repr_string(name));
    }
  }
  const size_t first_default = n - def.defaults.size();
  for (size_t i = 0; i < n; ++i) {
    if (bound[i]) continue;
    if (i >= first_default) {
      scope->set(def.params[i], eval(*def.defaults[i - first_default], scope));
    } else {
      scope->set(def.params[i], Value::undefined_hint("parameter " + repr_string(def.params[i]) + " was not provided"));
    }
  }
  if (def.catch_varargs) scope->set("varargs", Value::sequence(std::move(varargs), SequenceStyle::kTuple));
  if (def.catch_kwargs) scope->set("kwargs", Value::dict(std::move(kwargs)));
  if (!has_caller && def.uses_caller && def.kind == StmtKind::kMacro) {
    scope->set("caller", Value::undefined_hint("No caller defined"));
  }
  return Value::string(capture(def.body, scope));
}

Value Interpreter::call_builtin(const Callable& fn, CallArgs args) {
  switch (fn.builtin) {
    case Builtin::kRange: {
      if (!args.keyword.empty()) fail("range() takes no keyword arguments");
      const size_t n = args.positional.size();
      if (n < 1 || n > 3) fail("range expected at most 3 arguments, got " + std::to_string(n));
      for (const auto& a : args.positional) {
        if (!a.is_int() && !a.is_bool()) {
          if (a.is_undefined()) fail_undefined(a);
          fail("'" + type_name(a) + "' object cannot be interpreted as an integer");
        }
      }
      const int64_t start = n == 1 ? 0 : args.positional[0].as_int();
      const int64_t stop = n == 1 ? args.positional[0].as_int() : args.positional[1].as_int();
      const int64_t step = n == 3 ? args.positional[2].as_int() : 1;
      if (step == 0) fail("range() arg 3 must not be zero");
      __int128 count = 0;
      if (step > 0 && stop > start) count = ((__int128)stop - start + step - 1) / step;
      if (step < 0 && stop < start) count = ((__int128)start - stop - step - 1) / (-(__int128)step);
      if (count > options_.limits.max_range) {
        fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
             std::to_string(options_.limits.max_range) + ").");
      }
      return Value::range(start, stop, step);
    }
    case Builtin::kNamespace: {
      Value ns = make_namespace();
      Namespace& attrs = ns.as_namespace();
      if (args.positional.size() > 1)
        fail("dict expected at most 1 argument, got " + std::to_string(args.positional.size()));
      if (args.positional.size() == 1) {
        const Value& init = args.positional[0];
        if (init.is_dict()) {
          for (const auto& [k, v] : init.as_dict().items) {
            const std::string key = to_str(k);
            check_namespace_attr(key);
            attrs.set(key, v);
          }
        } else {
          for (const auto& pair : iterate(init)) {
            std::vector<Value> kv = iterate(pair);
            if (kv.size() != 2)
              fail("dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
            const std::string key = to_str(kv[0]);
            check_namespace_attr(key);
            attrs.set(key, kv[1]);
          }
        }
      }
      for (auto& [k, v] : args.keyword) {
        check_namespace_attr(k);
        attrs.set(k, std::move(v));
      }
      return ns;
    }
    case Builtin::kDict: {
      Dict d;
      auto put = [&d](Value key, Value val) {
        for (auto& kv : d.items) {
          if (equals(kv.first, key)) {
            kv.second = std::move(val);
            return;
          }
        }
        d.items.emplace_back(std::move(key), std::move(val));
      };
      if (args.positional.size() > 1)
        fail("dict expected at most 1 argument, got " + std::to_string(args.positional.size()));
      if (args.positional.size() == 1) {
        const Value& init = args.positional[0];
        if (init.is_dict()) {
          for (const auto& [k, v] : init.as_dict().items) put(k, v);
        } else {
          for (const auto& pair : iterate(init)) {
            std::vector<Value> kv = iterate(pair);
            if (kv.size() != 2)
              fail("dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
            put(kv[0], kv[1]);
          }
        }
      }
      for (auto& [k, v] : args.keyword) put(Value::string(k), std::move(v));
      return Value::dict(std::move(d));
    }
    case Builtin::kRaiseException: {
      ArgBinder b("raise_exception", {"message"}, args);
      if (!b.has(0)) fail("raise_exception() missing 1 required positional argument: 'message'");
      fail(to_str(b.get(0)));
    }
    case Builtin::kStrftimeNow: {
      ArgBinder b("strftime_now", {"format"}, args);
      if (!b.has(0)) fail("strftime_now() missing 1 required positional argument: 'format'");
      if (!b.get(0).is_string()) fail("strftime() argument 1 must be str, not " + type_name(b.get(0)));
      const auto now = options_.now ? *options_.now : std::chrono::system_clock::now();
      return Value::string(strftime_python(b.get(0).as_string(), now));
    }
    case Builtin::kJoiner: {
      ArgBinder b("joiner", {"sep"}, args);
      auto c = std::make_shared<Callable>();
      c->kind = Callable::Kind::kBuiltin;
      c->builtin = Builtin::kJoinerCall;
      c->name = "joiner";
      c->self = b.get_or(0, Value::string(", "));
      c->state = std::make_shared<Value>(Value::boolean(false));
      return Value::callable(std::move(c));
    }
    case Builtin::kJoinerCall: {
      if (!fn.state->as_bool()) {
        *fn.state = Value::boolean(true);
        return Value::string("");
      }
      return fn.self;
    }
    case Builtin::kLoopCycle: {
      if (args.positional.empty()) fail("no items for cycling given");
      const int64_t i = fn.self.as_loop().index0;
      return args.positional[static_cast<size_t>(i) % args.positional.size()];
    }
    case Builtin::kLoopChanged: {
      Value current = Value::sequence(std::move(args.positional), SequenceStyle::kTuple);
      if (fn.state->is_undefined() || !equals(*fn.state, current)) {
        *fn.state = std::move(current);
        return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    case Builtin::kCaller: return call_macro(fn, std::move(args));
    case Builtin::kCycler: fail("cycler() is not supported");
  }
  return Value();
}

// ---- attribute and item access ------------------------------------------------

Value Interpreter::loop_attr(const Value& loop, const std::string& name) {
  const LoopState& l = loop.as_loop();
  const int64_t length = static_cast<int64_t>(l.items->size());
  const int64_t i = l.index0;
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(length - i);
  if (name == "revindex0") return Value::integer(length - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == length - 1);
  if (name == "length") return Value::integer(length);
  if (name == "depth") return Value::integer(l.depth0 + 1);
  if (name == "depth0") return Value::integer(l.depth0);
  if (name == "previtem") {
    if (i > 0) return (*l.items)[static_cast<size_t>(i - 1)];
    return Value::undefined_hint("there is no previous item");
  }
  if (name == "nextitem") {
    if (i + 1 < length) return (*l.items)[static_cast<size_t>(i + 1)];
    return Value::undefined_hint("there is no next item");
  }
  if (name == "cycle" || name == "changed") {
    auto c = std::make_shared<Callable>();
    c->kind = Callable::Kind::kBuiltin;
    c->builtin = name == "cycle" ? Builtin::kLoopCycle : Builtin::kLoopChanged;
    c->name = name;
    c->self = loop;
    c->state = l.changed_last;
    return Value::callable(std::move(c));
  }
  return Value::undefined_attr(loop, name);
}

Value Interpreter::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (std::optional<Value> m = method_attr(obj, name)) return *std::move(m);
  switch (obj.kind()) {
    case Value::Kind::kDict:
      if (const Value* v = obj.as_dict().find(std::string_view(name))) return *v;
      break;
    case Value::Kind::kNamespace:
      if (const Value* v = obj.as_namespace().find(name)) return *v;
      break;
    case Value::Kind::kLoop: return loop_attr(obj, name);
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kString:
    case Value::Kind::kSequence:
    case Value::Kind::kGenerator:
    case Value::Kind::kCallable: break;
  }
  return Value::undefined_attr(obj, name);
}

Value Interpreter::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  switch (obj.kind()) {
    case Value::Kind::kDict:
      if (const Value* v = obj.as_dict().find(key)) return *v;
      break;
    case Value::Kind::kSequence:
    case Value::Kind::kString:
      if (key.is_int() || key.is_bool()) {
        const bool is_str = obj.is_string();
        const int64_t n = length_of(obj);
        int64_t i = key.as_int();
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
          if (!is_str) return obj.as_sequence().items[static_cast<size_t>(i)];
          const std::string& s = obj.as_string();
          if (static_cast<int64_t>(s.size()) == n) return Value::string(s.substr(static_cast<size_t>(i), 1));
          return slice(obj, Value::integer(i), Value::integer(i + 1), Value::none());
        }
        return Value::undefined_element(obj, key);
      }
      break;
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kGenerator:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
    case Value::Kind::kLoop: break;
  }
  if (key.is_string()) {
    const std::string& name = key.as_string();
    if (std::optional<Value> m = method_attr(obj, name)) return *std::move(m);
    if (obj.is_namespace()) {
      if (const Value* v = obj.as_namespace().find(name)) return *v;
    }
    if (obj.is_loop()) return loop_attr(obj, name);
  }
  return Value::undefined_element(obj, key);
}

}  // namespace tandem::text::jinja
