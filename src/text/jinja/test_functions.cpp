#include "text/jinja/test_functions.h"

#include <array>

#include "text/jinja/filters.h"
#include "text/jinja/operators.h"
#include "text/jinja/template_error.h"
#include "text/jinja/utf8.h"

namespace tandem::text::jinja {

namespace {

constexpr std::array<std::string_view, 37> kTests = {
    "defined",     "undefined", "none",    "boolean",  "false",       "true",     "integer", "float",
    "number",      "string",    "mapping", "iterable", "sequence",    "callable", "sameas",  "escaped",
    "lower",       "upper",     "odd",     "even",     "divisibleby", "eq",       "equalto", "==",
    "ne",          "!=",        "lt",      "lessthan", "<",           "le",       "<=",      "gt",
    "greaterthan", ">",         "ge",      ">=",       "in"};

const Value& arg(const std::string& name, const CallArgs& args, size_t i) {
  if (args.positional.size() <= i) fail("test " + repr_string(name) + " is missing an argument");
  return args.positional[i];
}

}  // namespace

bool is_test(std::string_view name) {
  if (name == "filter" || name == "test") return true;
  for (auto t : kTests) {
    if (t == name) return true;
  }
  return false;
}

bool apply_test(Interpreter& interp, const std::string& name, const Value& v, const CallArgs& args) {
  (void)interp;
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "escaped") return false;
  if (name == "iterable") {
    return v.kind() == K::kUndefined || v.kind() == K::kString || v.kind() == K::kSequence || v.kind() == K::kDict ||
           v.kind() == K::kGenerator || v.kind() == K::kLoop;
  }
  if (name == "sequence") {
    if (v.is_sequence()) {
      const SequenceStyle s = v.as_sequence().style;
      return s == SequenceStyle::kList || s == SequenceStyle::kTuple || s == SequenceStyle::kRange;
    }
    return v.kind() == K::kUndefined || v.kind() == K::kString || v.kind() == K::kDict;
  }
  if (name == "callable") return v.is_callable() || v.is_undefined() || v.is_loop();
  if (name == "lower") return utf8::is_lower(to_str(v));
  if (name == "upper") return utf8::is_upper(to_str(v));
  if (name == "odd" || name == "even") {
    const Value r = binary_op(ast::BinaryOp::kMod, v, Value::integer(2), 1u << 20);
    return equals(r, Value::integer(name == "odd" ? 1 : 0));
  }
  if (name == "divisibleby") {
    const Value r = binary_op(ast::BinaryOp::kMod, v, arg(name, args, 0), 1u << 20);
    return equals(r, Value::integer(0));
  }
  if (name == "sameas") {
    const Value& other = arg(name, args, 0);
    if (v.kind() != other.kind()) return false;
    switch (v.kind()) {
      case K::kNone: return true;
      case K::kBool: return v.as_bool() == other.as_bool();
      case K::kInt: return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
      case K::kUndefined:
      case K::kFloat:
      case K::kString:
      case K::kSequence:
      case K::kDict:
      case K::kGenerator:
      case K::kNamespace:
      case K::kCallable:
      case K::kLoop: return v.same_object(other);
    }
    return false;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, arg(name, args, 0));
  if (name == "ne" || name == "!=") return !equals(v, arg(name, args, 0));
  if (name == "lt" || name == "lessthan" || name == "<") return less(v, arg(name, args, 0), "<");
  if (name == "le" || name == "<=") return less(v, arg(name, args, 0), "<=") || equals(v, arg(name, args, 0));
  if (name == "gt" || name == "greaterthan" || name == ">") return greater(v, arg(name, args, 0), ">");
  if (name == "ge" || name == ">=") return greater(v, arg(name, args, 0), ">=") || equals(v, arg(name, args, 0));
  if (name == "in") return contains(arg(name, args, 0), v);
  if (name == "filter") return v.is_string() && is_filter(v.as_string());
  if (name == "test") return v.is_string() && is_test(v.as_string());
  fail("No test named " + repr_string(name) + ".");
}

}  // namespace tandem::text::jinja
