#include "text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "text/jinja/callable.h"
#include "text/jinja/template_error.h"
#include "text/jinja/utf8.h"
#include "text/unicode.h"

namespace tandem::text::jinja {

namespace {
constexpr int kMaxReprDepth = kMaxValueDepth + 88;  // also bounds namespace chains

std::shared_ptr<UndefinedInfo> make_info() { return std::make_shared<UndefinedInfo>(); }
}  // namespace

// ---- construction ---------------------------------------------------------

Value Value::undefined_name(std::string name) {
  Value v;
  auto info = make_info();
  info->name = std::move(name);
  v.ptr_ = std::move(info);
  return v;
}

Value Value::undefined_attr(const Value& owner, std::string name) {
  Value v;
  auto info = make_info();
  info->name = std::move(name);
  info->owner = object_type_repr(owner);
  v.ptr_ = std::move(info);
  return v;
}

Value Value::undefined_element(const Value& owner, const Value& key) {
  if (key.is_string()) return undefined_attr(owner, key.as_string());
  Value v;
  auto info = make_info();
  info->name = to_repr(key);
  info->owner = object_type_repr(owner);
  info->element = true;
  v.ptr_ = std::move(info);
  return v;
}

Value Value::undefined_hint(std::string hint) {
  Value v;
  auto info = make_info();
  info->hint = std::move(hint);
  v.ptr_ = std::move(info);
  return v;
}

Value Value::string(std::string s) {
  Value v(Kind::kString);
  v.ptr_ = std::make_shared<std::string>(std::move(s));
  return v;
}

Value Value::string(std::shared_ptr<const std::string> s) {
  Value v(Kind::kString);
  v.ptr_ = std::const_pointer_cast<std::string>(std::move(s));
  return v;
}

Value Value::sequence(std::vector<Value> items, SequenceStyle style) {
  Value v(Kind::kSequence);
  auto seq = std::make_shared<Sequence>();
  seq->depth = container_depth(items);
  seq->style = style;
  seq->items = std::move(items);
  v.ptr_ = std::move(seq);
  return v;
}

Value Value::range(int64_t start, int64_t stop, int64_t step) {
  std::vector<Value> items;
  if (step > 0) {
    for (int64_t i = start; i < stop; i += step) items.push_back(integer(i));
  } else {
    for (int64_t i = start; i > stop; i += step) items.push_back(integer(i));
  }
  Value v(Kind::kSequence);
  auto seq = std::make_shared<Sequence>();
  seq->style = SequenceStyle::kRange;
  seq->items = std::move(items);
  seq->range_start = start;
  seq->range_stop = stop;
  seq->range_step = step;
  v.ptr_ = std::move(seq);
  return v;
}

Value Value::dict(Dict d) {
  int depth = 0;
  for (const auto& [k, val] : d.items) depth = std::max({depth, depth_of(k), depth_of(val)});
  if (depth + 1 > kMaxValueDepth) fail("value nesting deeper than " + std::to_string(kMaxValueDepth) + " levels");
  d.depth = depth + 1;
  Value v(Kind::kDict);
  v.ptr_ = std::make_shared<Dict>(std::move(d));
  return v;
}

Value Value::generator(std::vector<Value> items, std::string type_name) {
  Value v(Kind::kGenerator);
  auto g = std::make_shared<Generator>();
  g->depth = container_depth(items);
  g->items = std::move(items);
  g->type_name = std::move(type_name);
  v.ptr_ = std::move(g);
  return v;
}

Value Value::new_namespace() {
  Value v(Kind::kNamespace);
  v.ptr_ = std::make_shared<Namespace>();
  return v;
}

Value Value::from_namespace(std::shared_ptr<Namespace> ns) {
  Value v(Kind::kNamespace);
  v.ptr_ = std::move(ns);
  return v;
}

Value Value::callable(std::shared_ptr<const Callable> c) {
  Value v(Kind::kCallable);
  v.ptr_ = std::const_pointer_cast<Callable>(std::move(c));
  return v;
}

Value Value::loop(std::shared_ptr<LoopState> l) {
  l->depth = container_depth(*l->items);
  Value v(Kind::kLoop);
  v.ptr_ = std::move(l);
  return v;
}

double Value::as_float() const {
  switch (kind_) {
    case Kind::kFloat: return f_;
    case Kind::kInt: return static_cast<double>(i_);
    case Kind::kBool: return b_ ? 1.0 : 0.0;
    default: return 0.0;
  }
}

// ---- containers -------------------------------------------------------------

int depth_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kSequence: return v.as_sequence().depth;
    case Value::Kind::kDict: return v.as_dict().depth;
    case Value::Kind::kGenerator: return v.as_generator().depth;
    case Value::Kind::kLoop: return v.as_loop().depth;
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kString:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable: return 0;
  }
  return 0;
}

int container_depth(const std::vector<Value>& items) {
  int depth = 0;
  for (const auto& item : items) depth = std::max(depth, depth_of(item));
  if (depth + 1 > kMaxValueDepth) fail("value nesting deeper than " + std::to_string(kMaxValueDepth) + " levels");
  return depth + 1;
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : items) {
    if (!k.is_string() && equals(k, key)) return &v;
  }
  return nullptr;
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

const Value* Namespace::find(std::string_view name) const {
  for (const auto& [k, v] : attrs) {
    if (k == name) return &v;
  }
  return nullptr;
}

void Namespace::set(const std::string& name, Value value) {
  for (auto& [k, v] : attrs) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  attrs.emplace_back(name, std::move(value));
}

// ---- type names and undefined messages --------------------------------------

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kSequence:
      switch (v.as_sequence().style) {
        case SequenceStyle::kList: return "list";
        case SequenceStyle::kTuple: return "tuple";
        case SequenceStyle::kDictItems: return "dict_items";
        case SequenceStyle::kDictKeys: return "dict_keys";
        case SequenceStyle::kDictValues: return "dict_values";
        case SequenceStyle::kRange: return "range";
      }
      return "list";
    case Value::Kind::kDict: return "dict";
    case Value::Kind::kGenerator: return v.as_generator().type_name;
    case Value::Kind::kNamespace: return "TemplateNamespace";
    case Value::Kind::kCallable:
      switch (v.as_callable().kind) {
        case Callable::Kind::kMacro: return "Macro";
        case Callable::Kind::kBuiltin: return "function";
        case Callable::Kind::kMethod: return "builtin_function_or_method";
      }
      return "function";
    case Value::Kind::kLoop: return "LoopContext";
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNone: return "None";
    case Value::Kind::kUndefined: return "jinja2.runtime.Undefined object";
    case Value::Kind::kNamespace: return "transformers.utils.chat_template_utils.TemplateNamespace object";
    case Value::Kind::kLoop: return "jinja2.runtime.LoopContext object";
    case Value::Kind::kCallable:
      if (v.as_callable().kind == Callable::Kind::kMacro) return "jinja2.runtime.Macro object";
      return type_name(v) + " object";
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kString:
    case Value::Kind::kSequence:
    case Value::Kind::kDict:
    case Value::Kind::kGenerator: return type_name(v) + " object";
  }
  return "object";
}

std::string undefined_message(const Value& v) {
  const UndefinedInfo* info = v.undefined_info();
  if (info == nullptr) return "None is undefined";
  if (!info->hint.empty()) return info->hint;
  if (info->owner.empty()) return repr_string(info->name) + " is undefined";
  if (info->element) return info->owner + " has no element " + info->name;
  return repr_string(info->owner) + " has no attribute " + repr_string(info->name);
}

void fail_undefined(const Value& v) { fail(undefined_message(v)); }

// ---- truthiness, equality, ordering -----------------------------------------

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return v.as_bool();
    case Value::Kind::kInt: return v.as_int() != 0;
    case Value::Kind::kFloat: return v.as_float() != 0.0;
    case Value::Kind::kString: return !v.as_string().empty();
    case Value::Kind::kSequence: return !v.as_sequence().items.empty();
    case Value::Kind::kDict: return !v.as_dict().items.empty();
    case Value::Kind::kGenerator:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
    case Value::Kind::kLoop: return true;
  }
  return false;
}

namespace {
bool numeric_equals(const Value& a, const Value& b) {
  if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
  return a.as_int() == b.as_int();
}

bool same_sequence_family(SequenceStyle a, SequenceStyle b) {
  auto family = [](SequenceStyle s) {
    switch (s) {
      case SequenceStyle::kList: return 0;
      case SequenceStyle::kTuple: return 1;
      case SequenceStyle::kDictItems: return 2;
      case SequenceStyle::kDictKeys: return 3;
      case SequenceStyle::kDictValues: return 4;
      case SequenceStyle::kRange: return 5;
    }
    return 0;
  };
  return family(a) == family(b);
}

bool equals_depth(const Value& a, const Value& b, int depth) {
  if (depth > kMaxReprDepth) fail("maximum recursion depth exceeded in comparison");
  if (a.is_number() && b.is_number()) return numeric_equals(a, b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.as_string() == b.as_string();
    case Value::Kind::kSequence: {
      const Sequence& x = a.as_sequence();
      const Sequence& y = b.as_sequence();
      if (!same_sequence_family(x.style, y.style)) return false;
      if (x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!equals_depth(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (other == nullptr || !equals_depth(v, *other, depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat: return numeric_equals(a, b);
    case Value::Kind::kGenerator:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
    case Value::Kind::kLoop: return a.same_object(b);
  }
  return false;
}
}  // namespace

bool equals(const Value& a, const Value& b) { return equals_depth(a, b, 0); }

namespace {
bool orderable(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return true;
  if (a.is_string() && b.is_string()) return true;
  return a.is_sequence() && b.is_sequence() && same_sequence_family(a.as_sequence().style, b.as_sequence().style);
}

// a < b (or a > b when `gt`), failing like Python with the operands in source order.
bool ordered(const Value& a, const Value& b, bool gt, const char* op, int depth) {
  if (depth > kMaxReprDepth) fail("maximum recursion depth exceeded in comparison");
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (!orderable(a, b)) {
    fail(std::string("'") + op + "' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) +
         "'");
  }
  if (a.is_number()) {
    if (a.is_float() || b.is_float()) return gt ? a.as_float() > b.as_float() : a.as_float() < b.as_float();
    return gt ? a.as_int() > b.as_int() : a.as_int() < b.as_int();
  }
  if (a.is_string()) return gt ? a.as_string() > b.as_string() : a.as_string() < b.as_string();
  const auto& x = a.as_sequence().items;
  const auto& y = b.as_sequence().items;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (!equals(x[i], y[i])) return ordered(x[i], y[i], gt, op, depth + 1);
  }
  return gt ? x.size() > y.size() : x.size() < y.size();
}
}  // namespace

bool less(const Value& a, const Value& b, const char* op) { return ordered(a, b, false, op, 0); }

bool greater(const Value& a, const Value& b, const char* op) { return ordered(a, b, true, op, 0); }

// ---- str / repr -------------------------------------------------------------

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci looks like "-1.2345e+17" or "5e-324": split mantissa digits and exponent.
  bool negative = false;
  size_t pos = 0;
  if (sci[0] == '-') {
    negative = true;
    pos = 1;
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < e; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  const int exponent = std::atoi(sci.c_str() + e + 1);
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      const size_t int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, int_len);
        out += ".";
        out += digits.substr(int_len);
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out += ".";
      out += digits.substr(1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
  }
  return out;
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back(quote);
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = unicode::decode_utf8(s, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (!unicode::py_is_printable(cp)) {
      utf8::append_python_escape(out, cp);
    } else {
      unicode::append_utf8(out, cp);
    }
  }
  out.push_back(quote);
  return out;
}

namespace {
void append_repr(std::string& out, const Value& v, int depth);

void append_items(std::string& out, const std::vector<Value>& items, int depth) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    append_repr(out, items[i], depth + 1);
  }
}

void append_repr(std::string& out, const Value& v, int depth) {
  if (depth > kMaxReprDepth) fail("maximum recursion depth exceeded while getting the repr of an object");
  switch (v.kind()) {
    case Value::Kind::kUndefined: out += "Undefined"; return;
    case Value::Kind::kString: out += repr_string(v.as_string()); return;
    case Value::Kind::kSequence: {
      const Sequence& s = v.as_sequence();
      switch (s.style) {
        case SequenceStyle::kList:
          out += "[";
          append_items(out, s.items, depth);
          out += "]";
          return;
        case SequenceStyle::kTuple:
          out += "(";
          append_items(out, s.items, depth);
          if (s.items.size() == 1) out += ",";
          out += ")";
          return;
        case SequenceStyle::kDictItems:
        case SequenceStyle::kDictKeys:
        case SequenceStyle::kDictValues:
          out += type_name(v) + "([";
          append_items(out, s.items, depth);
          out += "])";
          return;
        case SequenceStyle::kRange:
          out += "range(" + std::to_string(s.range_start) + ", " + std::to_string(s.range_stop);
          if (s.range_step != 1) out += ", " + std::to_string(s.range_step);
          out += ")";
          return;
      }
      return;
    }
    case Value::Kind::kDict: {
      out += "{";
      bool first = true;
      for (const auto& [k, val] : v.as_dict().items) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k, depth + 1);
        out += ": ";
        append_repr(out, val, depth + 1);
      }
      out += "}";
      return;
    }
    case Value::Kind::kNamespace: {
      // A namespace can hold itself; Python's repr prints the inner one as {...}.
      static thread_local std::vector<const Namespace*> active;
      const Namespace* self = &v.as_namespace();
      if (std::find(active.begin(), active.end(), self) != active.end()) {
        out += "<Namespace {...}>";
        return;
      }
      struct Guard {
        std::vector<const Namespace*>& stack;
        ~Guard() { stack.pop_back(); }
      };
      active.push_back(self);
      Guard guard{active};
      out += "<Namespace {";
      bool first = true;
      for (const auto& [k, val] : v.as_namespace().attrs) {
        if (!first) out += ", ";
        first = false;
        out += repr_string(k);
        out += ": ";
        append_repr(out, val, depth + 1);
      }
      out += "}>";
      return;
    }
    case Value::Kind::kGenerator: out += "<" + v.as_generator().type_name + " object>"; return;
    case Value::Kind::kCallable: {
      const Callable& c = v.as_callable();
      switch (c.kind) {
        case Callable::Kind::kMacro: out += "<Macro " + repr_string(c.name) + ">"; return;
        case Callable::Kind::kBuiltin: out += "<function " + c.name + ">"; return;
        case Callable::Kind::kMethod:
          out += "<built-in method " + c.name + " of " + type_name(c.self) + " object>";
          return;
      }
      return;
    }
    case Value::Kind::kLoop: {
      const LoopState& l = v.as_loop();
      out += "<LoopContext " + std::to_string(l.index0 + 1) + "/" + std::to_string(l.items->size()) + ">";
      return;
    }
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat: append_str(out, v); return;
  }
}
}  // namespace

void append_str(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return;
    case Value::Kind::kNone: out += "None"; return;
    case Value::Kind::kBool: out += v.as_bool() ? "True" : "False"; return;
    case Value::Kind::kInt: {
      char buf[32];
      auto res = std::to_chars(buf, buf + sizeof(buf), v.as_int());
      out.append(buf, res.ptr);
      return;
    }
    case Value::Kind::kFloat: out += float_repr(v.as_float()); return;
    case Value::Kind::kString: out += v.as_string(); return;
    case Value::Kind::kSequence:
    case Value::Kind::kDict:
    case Value::Kind::kGenerator:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
    case Value::Kind::kLoop: append_repr(out, v, 0); return;
  }
}

std::string to_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_str(out, v);
  return out;
}

std::string to_repr(const Value& v) {
  std::string out;
  append_repr(out, v, 0);
  return out;
}

// ---- len / iteration --------------------------------------------------------

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return static_cast<int64_t>(utf8::length(v.as_string()));
    case Value::Kind::kSequence: return static_cast<int64_t>(v.as_sequence().items.size());
    case Value::Kind::kDict: return static_cast<int64_t>(v.as_dict().items.size());
    case Value::Kind::kLoop: return static_cast<int64_t>(v.as_loop().items->size());
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kGenerator:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable: break;
  }
  fail("object of type '" + type_name(v) + "' has no len()");
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kString: {
      std::vector<Value> out;
      const std::string& s = v.as_string();
      size_t pos = 0;
      while (pos < s.size()) {
        const size_t start = pos;
        unicode::decode_utf8(s, pos);
        out.push_back(Value::string(s.substr(start, pos - start)));
      }
      return out;
    }
    case Value::Kind::kSequence: return v.as_sequence().items;
    case Value::Kind::kDict: {
      std::vector<Value> out;
      out.reserve(v.as_dict().items.size());
      for (const auto& kv : v.as_dict().items) out.push_back(kv.first);
      return out;
    }
    case Value::Kind::kGenerator: {
      Generator& g = v.as_generator();
      if (g.consumed) return {};
      g.consumed = true;
      return std::move(g.items);
    }
    case Value::Kind::kLoop: return *v.as_loop().items;
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable: break;
  }
  fail("'" + type_name(v) + "' object is not iterable");
}

}  // namespace tandem::text::jinja
