#include "text/jinja/filters.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "text/jinja/interpreter.h"
#include "text/jinja/json_value.h"
#include "text/jinja/methods.h"
#include "text/jinja/operators.h"
#include "text/jinja/template_error.h"
#include "text/jinja/test_functions.h"
#include "text/jinja/utf8.h"
#include "text/unicode.h"

namespace tandem::text::jinja {

namespace {

constexpr std::array<std::string_view, 45> kFilters = {
    "abs",        "attr",    "batch",   "capitalize", "center",      "count",  "d",          "default",   "dictsort",
    "e",          "escape",  "first",   "float",      "forceescape", "format", "indent",     "int",       "items",
    "join",       "last",    "length",  "list",       "lower",       "map",    "max",        "min",       "reject",
    "rejectattr", "replace", "reverse", "round",      "safe",        "select", "selectattr", "sort",      "string",
    "sum",        "title",   "tojson",  "trim",       "unique",      "upper",  "wordcount",  "striptags", "truncate"};

std::string soft_str(const Value& v) { return to_str(v); }

Value lower_if_string(const Value& v) { return v.is_string() ? Value::string(utf8::lower(v.as_string())) : v; }

// jinja's make_attrgetter: dotted path, integer parts index, via getitem.
Value attr_lookup(Interpreter& interp, const Value& item, const Value& attribute) {
  if (attribute.is_none() || attribute.is_undefined()) return item;
  if (attribute.is_int()) return interp.getitem(item, attribute);
  const std::string path = to_str(attribute);
  Value cur = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() && part.size() <= 18 && part.find_first_not_of("0123456789") == std::string::npos) {
      cur = interp.getitem(cur, Value::integer(std::stoll(part)));
    } else {
      cur = interp.getitem(cur, Value::string(part));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

Value attr_getter(Interpreter& interp, const Value& item, const Value& attribute, bool ignore_case,
                  const Value* fallback = nullptr) {
  Value v = attr_lookup(interp, item, attribute);
  if (fallback != nullptr && v.is_undefined()) v = *fallback;
  return ignore_case ? lower_if_string(v) : v;
}

// make_multi_attrgetter: "a,b" -> a list key.
Value multi_attr_getter(Interpreter& interp, const Value& item, const Value& attribute, bool ignore_case) {
  if (attribute.is_string() && attribute.as_string().find(',') != std::string::npos) {
    std::vector<Value> keys;
    const std::string& s = attribute.as_string();
    size_t start = 0;
    while (true) {
      const size_t comma = s.find(',', start);
      keys.push_back(attr_getter(
          interp, item, Value::string(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)),
          ignore_case));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return Value::sequence(std::move(keys));
  }
  return attr_getter(interp, item, attribute, ignore_case);
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Python int(str, base) for base 10 (whitespace, sign, underscores).
bool parse_python_int(const std::string& text, int base, int64_t& out) {
  std::string s = utf8::strip(text, nullptr, true, true);
  if (s.empty()) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (i + 1 < s.size() && s[i] == '0') {
      const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 1])));
      const int b = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
      if (b != 0 && (base == 0 || base == b)) {
        base = b;
        i += 2;
        if (i < s.size() && s[i] == '_') ++i;
      }
    }
    if (base == 0) base = 10;
  }
  std::string digits;
  bool last_underscore = true;
  for (; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (last_underscore) return false;
      last_underscore = true;
      continue;
    }
    const int lc = std::tolower(static_cast<unsigned char>(s[i]));
    const int d = std::isdigit(lc) ? lc - '0' : (lc >= 'a' && lc <= 'z') ? lc - 'a' + 10 : 99;
    if (d >= base) return false;
    digits.push_back(s[i]);
    last_underscore = false;
  }
  if (digits.empty() || last_underscore) return false;
  errno = 0;
  const unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX) + (neg ? 1 : 0)) {
    fail("integer out of range (Tandem's template integers are 64-bit)");
  }
  out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

// Python float(str).
bool parse_python_float(const std::string& text, double& out) {
  std::string s = utf8::strip(text, nullptr, true, true);
  if (s.empty()) return false;
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        return false;
      }
      continue;
    }
    clean.push_back(s[i]);
  }
  std::string lower = utf8::lower(clean);
  const std::string body = (!lower.empty() && (lower[0] == '+' || lower[0] == '-')) ? lower.substr(1) : lower;
  if (body == "inf" || body == "infinity" || body == "nan") {
    out = body == "nan" ? std::nan("") : HUGE_VAL;
    if (lower[0] == '-') out = -out;
    return true;
  }
  for (char c : body) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != '+' && c != '-') return false;
  }
  char* end = nullptr;
  out = std::strtod(clean.c_str(), &end);
  return end != nullptr && *end == '\0';
}

Value to_int(const Value& v, const Value& fallback, int base) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_string()) {
    int64_t n = 0;
    if (parse_python_int(v.as_string(), base, n)) return Value::integer(n);
    double d = 0;
    if (parse_python_float(v.as_string(), d)) {
      if (std::isnan(d)) return fallback;
      if (std::isinf(d)) fail("cannot convert float infinity to integer");
      return Value::integer(static_cast<int64_t>(std::trunc(d)));
    }
    return fallback;
  }
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double d = v.as_float();
    if (std::isnan(d)) fail("cannot convert float NaN to integer");
    if (std::isinf(d)) fail("cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2e18) fail("integer out of range (Tandem's template integers are 64-bit)");
    return Value::integer(static_cast<int64_t>(std::trunc(d)));
  }
  return fallback;
}

Value to_float(const Value& v, const Value& fallback) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string()) {
    double d = 0;
    if (parse_python_float(v.as_string(), d)) return Value::number(d);
  }
  return fallback;
}

Value python_round(const Value& v, int64_t precision) {
  if (v.is_undefined()) fail("type Undefined doesn't define __round__ method");
  if (!v.is_number()) fail("type " + type_name(v) + " doesn't define __round__ method");
  if (!v.is_float()) {
    if (precision >= 0) return Value::integer(v.as_int());
    const double p = std::pow(10.0, static_cast<double>(-precision));
    return Value::integer(static_cast<int64_t>(std::nearbyint(static_cast<double>(v.as_int()) / p) * p));
  }
  const double d = v.as_float();
  if (!std::isfinite(d)) return v;
  if (precision > 300) return v;
  if (precision >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(precision), d);
    return Value::number(std::strtod(buf, nullptr));
  }
  const double p = std::pow(10.0, static_cast<double>(-precision));
  return Value::number(std::nearbyint(d / p) * p);
}

std::string indent_text(const std::string& input, const std::string& indention, bool first, bool blank) {
  std::string s = input + "\n";
  // Python str.splitlines.
  std::vector<std::string> lines;
  {
    const auto cps = utf8::to_code_points(s);
    size_t start = 0;
    for (size_t i = 0; i < cps.size(); ++i) {
      const char32_t c = cps[i];
      if (c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
          c == 0x2028 || c == 0x2029) {
        lines.push_back(utf8::from_code_points(cps, start, i));
        if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < cps.size()) lines.push_back(utf8::from_code_points(cps, start, cps.size()));
  }
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    if (lines.size() > 1) {
      rv += "\n";
      for (size_t i = 1; i < lines.size(); ++i) {
        if (i > 1) rv += "\n";
        if (!lines[i].empty()) rv += indention;
        rv += lines[i];
      }
    }
  }
  if (first) rv = indention + rv;
  return rv;
}

std::string jinja_title(const std::string& s) {
  // re.split(r"([-\s({\[<]+)") keeps separator runs; each piece gets
  // piece[0].upper() + piece[1:].lower().
  auto is_sep = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || unicode::py_is_space(c);
  };
  const auto cps = utf8::to_code_points(s);
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    const bool sep = is_sep(cps[i]);
    size_t j = i;
    while (j < cps.size() && is_sep(cps[j]) == sep) ++j;
    const std::string first = utf8::from_code_points(cps, i, i + 1);
    out += utf8::upper(first);
    out += utf8::lower(utf8::from_code_points(cps, i + 1, j));
    i = j;
  }
  return out;
}

std::vector<Value> select_or_reject(Interpreter& interp, const Value& value, const CallArgs& args, bool select,
                                    bool lookup_attr) {
  std::vector<Value> out;
  if (!truthy(value)) return out;
  size_t off = 0;
  Value attribute;
  if (lookup_attr) {
    if (args.positional.empty()) fail("Missing parameter for attribute name");
    attribute = args.positional[0];
    off = 1;
  }
  const bool has_test = args.positional.size() > off;
  std::string test_name;
  CallArgs test_args;
  if (has_test) {
    test_name = to_str(args.positional[off]);
    if (!is_test(test_name)) fail("No test named " + repr_string(test_name) + ".");
    test_args.positional.assign(args.positional.begin() + static_cast<long>(off) + 1, args.positional.end());
    test_args.keyword = args.keyword;
  }
  for (auto& item : iterate(value)) {
    const Value probe = lookup_attr ? attr_lookup(interp, item, attribute) : item;
    const bool r = has_test ? apply_test(interp, test_name, probe, test_args) : truthy(probe);
    if (r == select) out.push_back(std::move(item));
  }
  return out;
}

JsonDumpOptions tojson_options(const ArgBinder& b) {
  JsonDumpOptions o;
  o.ensure_ascii = b.has(0) && truthy(b.get(0));
  if (b.has(1) && !b.get(1).is_none()) {
    const Value& indent = b.get(1);
    if (indent.is_string()) {
      o.indent = indent.as_string();
    } else if (indent.is_int() || indent.is_bool()) {
      o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, 1024)), ' ');
    } else {
      fail("indent must be an int or a str, not " + type_name(indent));
    }
    o.item_separator = ",";
  }
  if (b.has(2) && !b.get(2).is_none()) {
    const std::vector<Value> seps = iterate(b.get(2));
    if (seps.size() != 2 || !seps[0].is_string() || !seps[1].is_string()) {
      fail("separators must be a (item_separator, key_separator) pair of strings");
    }
    o.item_separator = seps[0].as_string();
    o.key_separator = seps[1].as_string();
  }
  o.sort_keys = b.has(3) && truthy(b.get(3));
  return o;
}

Value aggregate(Interpreter& interp, const Value& value, const CallArgs& args, bool want_max) {
  ArgBinder b(want_max ? "max" : "min", {"case_sensitive", "attribute"}, args);
  std::vector<Value> items = iterate(value);
  if (items.empty()) return Value::undefined_hint("No aggregated item, sequence was empty.");
  const bool ignore_case = !(b.has(0) && truthy(b.get(0)));
  const Value attribute = b.get_or(1, Value::none());
  size_t best = 0;
  Value best_key = attr_getter(interp, items[0], attribute, ignore_case);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = attr_getter(interp, items[i], attribute, ignore_case);
    // Python's max() asks `item > best`, min() `item < best`.
    if (want_max ? greater(key, best_key, ">") : less(key, best_key, "<")) {
      best = i;
      best_key = std::move(key);
    }
  }
  return items[best];
}

}  // namespace

bool is_filter(std::string_view name) {
  for (auto f : kFilters) {
    if (f == name) return true;
  }
  return false;
}

Value apply_filter(Interpreter& interp, const std::string& name, const Value& input, CallArgs args) {
  const Value& v = input;
  if (name == "tojson") {
    ArgBinder b("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}, args);
    std::string out = dump_json(v, tojson_options(b));
    interp.check_size(out.size());
    return Value::string(std::move(out));
  }
  if (name == "trim") {
    ArgBinder b("trim", {"chars"}, args);
    const Value chars = b.get_or(0, Value::none());
    const std::string chars_str = chars.is_none() ? std::string() : to_str(chars);
    return Value::string(utf8::strip(soft_str(v), chars.is_none() ? nullptr : &chars_str, true, true));
  }
  if (name == "length" || name == "count") return Value::integer(length_of(v));
  if (name == "upper") return Value::string(utf8::upper(soft_str(v)));
  if (name == "lower") return Value::string(utf8::lower(soft_str(v)));
  if (name == "capitalize") return Value::string(utf8::capitalize(soft_str(v)));
  if (name == "title") return Value::string(jinja_title(soft_str(v)));
  if (name == "string") return v.is_string() ? v : Value::string(soft_str(v));
  if (name == "safe") return v.is_string() ? v : Value::string(soft_str(v));
  if (name == "e" || name == "escape" || name == "forceescape") return Value::string(html_escape(soft_str(v)));
  if (name == "replace") {
    ArgBinder b("replace", {"old", "new", "count"}, args);
    if (!b.has(0) || !b.has(1)) fail("replace() missing required arguments 'old' and 'new'");
    CallArgs m;
    m.positional = {Value::string(soft_str(b.get(0))), Value::string(soft_str(b.get(1)))};
    if (b.has(2) && !b.get(2).is_none()) m.positional.push_back(b.get(2));
    return call_method(interp, Value::string(soft_str(v)), "replace", std::move(m));
  }
  if (name == "join") {
    ArgBinder b("join", {"d", "attribute"}, args);
    const std::string sep = b.has(0) ? soft_str(b.get(0)) : std::string();
    const Value attribute = b.get_or(1, Value::none());
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v)) {
      if (!first) out += sep;
      first = false;
      append_str(out, attribute.is_none() ? item : attr_lookup(interp, item, attribute));
      interp.check_size(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "default" || name == "d") {
    ArgBinder b(name, {"default_value", "boolean"}, args);
    const bool boolean = b.has(1) && truthy(b.get(1));
    if (v.is_undefined() || (boolean && !truthy(v))) return b.get_or(0, Value::string(""));
    return v;
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::generator({});
    if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
    std::vector<Value> out;
    for (const auto& [k, val] : v.as_dict().items) out.push_back(Value::sequence({k, val}, SequenceStyle::kTuple));
    return Value::generator(std::move(out));
  }
  if (name == "list") return Value::sequence(iterate(v));
  if (name == "first") {
    if (v.is_generator()) {
      Generator& g = v.as_generator();
      if (g.consumed || g.items.empty()) return Value::undefined_hint("No first item, sequence was empty.");
      Value first = g.items.front();
      g.items.erase(g.items.begin());
      return first;
    }
    std::vector<Value> items = iterate(v);
    if (items.empty()) return Value::undefined_hint("No first item, sequence was empty.");
    return items.front();
  }
  if (name == "last") {
    const bool reversible = v.is_undefined() || v.is_string() || v.is_dict() ||
                            (v.is_sequence() && v.as_sequence().style != SequenceStyle::kDictItems);
    if (!reversible) fail("'" + type_name(v) + "' object is not reversible");
    std::vector<Value> items = iterate(v);
    if (items.empty()) return Value::undefined_hint("No last item, sequence was empty.");
    return items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) return slice(v, Value::none(), Value::none(), Value::integer(-1));
    if (v.is_generator()) {
      std::vector<Value> items = iterate(v);
      std::reverse(items.begin(), items.end());
      return Value::sequence(std::move(items));
    }
    if (v.is_namespace() || v.is_none() || v.is_number() || v.is_callable()) fail("argument must be iterable");
    std::vector<Value> items = iterate(v);
    std::reverse(items.begin(), items.end());
    std::string kind = "list_reverseiterator";
    if (v.is_dict()) kind = "dict_reversekeyiterator";
    if (v.is_tuple()) kind = "reversed";
    if (v.is_sequence() && v.as_sequence().style == SequenceStyle::kRange) kind = "range_iterator";
    return Value::generator(std::move(items), kind);
  }
  if (name == "map") {
    std::vector<Value> out;
    if (!truthy(v)) return Value::generator({});
    bool by_attribute = args.positional.empty();
    Value attribute;
    Value fallback = Value::none();
    bool has_fallback = false;
    if (by_attribute) {
      bool found = false;
      for (auto& [k, val] : args.keyword) {
        if (k == "attribute") {
          attribute = val;
          found = true;
        } else if (k == "default") {
          fallback = val;
          has_fallback = true;
        } else {
          fail("Unexpected keyword argument " + repr_string(k));
        }
      }
      if (!found) fail("map requires a filter argument");
      for (const auto& item : iterate(v)) {
        out.push_back(attr_getter(interp, item, attribute, false, has_fallback ? &fallback : nullptr));
      }
    } else {
      const std::string filter = to_str(args.positional[0]);
      if (!is_filter(filter)) fail("No filter named " + repr_string(filter) + ".");
      CallArgs rest;
      rest.positional.assign(args.positional.begin() + 1, args.positional.end());
      rest.keyword = args.keyword;
      for (const auto& item : iterate(v)) out.push_back(apply_filter(interp, filter, item, rest));
    }
    return Value::generator(std::move(out));
  }
  if (name == "select" || name == "reject") {
    return Value::generator(select_or_reject(interp, v, args, name == "select", false));
  }
  if (name == "selectattr" || name == "rejectattr") {
    return Value::generator(select_or_reject(interp, v, args, name == "selectattr", true));
  }
  if (name == "int") {
    ArgBinder b("int", {"default", "base"}, args);
    const int base = b.has(1) ? static_cast<int>(b.get(1).as_int()) : 10;
    return to_int(v, b.get_or(0, Value::integer(0)), base);
  }
  if (name == "float") {
    ArgBinder b("float", {"default"}, args);
    return to_float(v, b.get_or(0, Value::number(0.0)));
  }
  if (name == "abs") {
    if (v.is_float()) return Value::number(std::fabs(v.as_float()));
    if (v.is_int() || v.is_bool()) {
      if (v.as_int() == INT64_MIN) fail("integer overflow (Tandem's template integers are 64-bit)");
      return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
    }
    fail("bad operand type for abs(): '" + type_name(v) + "'");
  }
  if (name == "round") {
    ArgBinder b("round", {"precision", "method"}, args);
    const int64_t precision = b.has(0) ? b.get(0).as_int() : 0;
    const std::string method = b.has(1) ? to_str(b.get(1)) : "common";
    if (method == "common") return python_round(v, precision);
    if (method != "ceil" && method != "floor") fail("method must be common, ceil or floor");
    if (!v.is_number()) fail("must be real number, not " + type_name(v));
    const double p = std::pow(10.0, static_cast<double>(precision));
    const double scaled = v.as_float() * p;
    const double r = method == "ceil" ? std::ceil(scaled) : std::floor(scaled);
    return Value::number(r / p);
  }
  if (name == "indent") {
    ArgBinder b("indent", {"width", "first", "blank"}, args);
    if (v.is_undefined()) fail_undefined(v);
    if (v.is_sequence() && v.as_sequence().style == SequenceStyle::kList) {
      fail("'list' object has no attribute 'splitlines'");  // list += str extends, then fails
    }
    if (v.is_tuple()) fail("can only concatenate tuple (not \"str\") to tuple");
    if (!v.is_string()) fail("unsupported operand type(s) for +=: '" + type_name(v) + "' and 'str'");
    std::string indention = "    ";
    if (b.has(0)) {
      indention = b.get(0).is_string()
                      ? b.get(0).as_string()
                      : std::string(static_cast<size_t>(std::clamp<int64_t>(b.get(0).as_int(), 0, 4096)), ' ');
    }
    std::string out = indent_text(soft_str(v), indention, b.has(1) && truthy(b.get(1)), b.has(2) && truthy(b.get(2)));
    interp.check_size(out.size());
    return Value::string(std::move(out));
  }
  if (name == "center") {
    ArgBinder b("center", {"width"}, args);
    CallArgs m;
    m.positional.push_back(b.get_or(0, Value::integer(80)));
    return call_method(interp, Value::string(soft_str(v)), "center", std::move(m));
  }
  if (name == "unique") {
    ArgBinder b("unique", {"case_sensitive", "attribute"}, args);
    const bool ignore_case = !(b.has(0) && truthy(b.get(0)));
    const Value attribute = b.get_or(1, Value::none());
    std::vector<Value> seen;
    std::vector<Value> out;
    for (auto& item : iterate(v)) {
      Value key = attr_getter(interp, item, attribute, ignore_case);
      if (key.is_dict() || (key.is_sequence() && !key.is_tuple()) || key.is_namespace()) {
        fail("unhashable type: '" + type_name(key) + "'");
      }
      bool dup = false;
      for (const auto& s : seen) {
        if (equals(s, key)) {
          dup = true;
          break;
        }
      }
      if (!dup) {
        seen.push_back(std::move(key));
        out.push_back(std::move(item));
      }
    }
    return Value::generator(std::move(out));
  }
  if (name == "sort") {
    ArgBinder b("sort", {"reverse", "case_sensitive", "attribute"}, args);
    const bool reverse = b.has(0) && truthy(b.get(0));
    const bool ignore_case = !(b.has(1) && truthy(b.get(1)));
    const Value attribute = b.get_or(2, Value::none());
    std::vector<Value> items = iterate(v);
    std::vector<std::pair<Value, size_t>> keyed;
    for (size_t i = 0; i < items.size(); ++i)
      keyed.emplace_back(multi_attr_getter(interp, items[i], attribute, ignore_case), i);
    std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& x, const auto& y) {
      return reverse ? less(y.first, x.first) : less(x.first, y.first);
    });
    std::vector<Value> out;
    for (const auto& k : keyed) out.push_back(items[k.second]);
    return Value::sequence(std::move(out));
  }
  if (name == "dictsort") {
    ArgBinder b("dictsort", {"case_sensitive", "by", "reverse"}, args);
    const bool ignore_case = !(b.has(0) && truthy(b.get(0)));
    const std::string by = b.has(1) ? to_str(b.get(1)) : "key";
    const bool reverse = b.has(2) && truthy(b.get(2));
    size_t pos = 0;
    if (by == "value") {
      pos = 1;
    } else if (by != "key") {
      fail("You can only sort by either \"key\" or \"value\"");
    }
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_dict()) fail("'" + type_name(v) + "' object has no attribute 'items'");
    std::vector<Value> pairs;
    for (const auto& [k, val] : v.as_dict().items) pairs.push_back(Value::sequence({k, val}, SequenceStyle::kTuple));
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
      Value kx = x.as_sequence().items[pos];
      Value ky = y.as_sequence().items[pos];
      if (ignore_case) {
        kx = lower_if_string(kx);
        ky = lower_if_string(ky);
      }
      return reverse ? less(ky, kx) : less(kx, ky);
    });
    return Value::sequence(std::move(pairs));
  }
  if (name == "max" || name == "min") return aggregate(interp, v, args, name == "max");
  if (name == "sum") {
    ArgBinder b("sum", {"attribute", "start"}, args);
    Value total = b.get_or(1, Value::integer(0));
    const Value attribute = b.get_or(0, Value::none());
    for (const auto& item : iterate(v)) {
      total = binary_op(ast::BinaryOp::kAdd, total, attribute.is_none() ? item : attr_lookup(interp, item, attribute),
                        interp.options().limits.max_output_bytes);
    }
    return total;
  }
  if (name == "attr") {
    ArgBinder b("attr", {"name"}, args);
    if (!b.has(0)) fail("attr() missing required argument 'name'");
    const std::string attr = to_str(b.get(0));
    if (v.is_dict() && method_kind(v, attr) == MethodKind::kNone) return Value::undefined_attr(v, attr);
    return interp.getattr(v, attr);
  }
  if (name == "batch") {
    ArgBinder b("batch", {"linecount", "fill_with"}, args);
    if (!b.has(0)) fail("batch() missing required argument 'linecount'");
    const int64_t n = b.get(0).as_int();
    if (n <= 0) fail("batch size must be positive");
    std::vector<Value> out;
    std::vector<Value> cur;
    for (auto& item : iterate(v)) {
      cur.push_back(std::move(item));
      if (static_cast<int64_t>(cur.size()) == n) {
        out.push_back(Value::sequence(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) {
      if (b.has(1) && !b.get(1).is_none()) {
        while (static_cast<int64_t>(cur.size()) < n) cur.push_back(b.get(1));
      }
      out.push_back(Value::sequence(std::move(cur)));
    }
    return Value::generator(std::move(out));
  }
  if (name == "format") {
    if (!args.positional.empty() && !args.keyword.empty()) {
      fail("can't handle positional and keyword arguments at the same time");
    }
    Value fmt_args;
    if (!args.keyword.empty()) {
      Dict d;
      for (auto& [k, val] : args.keyword) d.items.emplace_back(Value::string(k), val);
      fmt_args = Value::dict(std::move(d));
    } else {
      fmt_args = Value::sequence(args.positional, SequenceStyle::kTuple);
    }
    return Value::string(percent_format(soft_str(v), fmt_args));
  }
  if (name == "wordcount") {
    const std::string s = soft_str(v);
    int64_t n = 0;
    bool in_word = false;
    size_t pos = 0;
    while (pos < s.size()) {
      const char32_t cp = unicode::decode_utf8(s, pos);
      const bool w = cp == '_' || unicode::py_is_alnum(cp);  // re's \w
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::integer(n);
  }
  if (name == "striptags") {
    // Remove <...> tags and <!-- comments -->, then collapse whitespace.
    const std::string s = soft_str(v);
    std::string stripped;
    size_t i = 0;
    while (i < s.size()) {
      if (s.compare(i, 4, "<!--") == 0) {
        const size_t end = s.find("-->", i + 4);
        if (end != std::string::npos) {
          i = end + 3;
          continue;
        }
      }
      if (s[i] == '<') {
        const size_t end = s.find('>', i + 1);
        if (end != std::string::npos) {
          i = end + 1;
          continue;
        }
      }
      stripped.push_back(s[i++]);
    }
    CallArgs none;
    const Value parts = call_method(interp, Value::string(stripped), "split", none);
    CallArgs join;
    join.positional.push_back(parts);
    return call_method(interp, Value::string(" "), "join", std::move(join));
  }
  if (name == "truncate") {
    ArgBinder b("truncate", {"length", "killwords", "end", "leeway"}, args);
    const int64_t length = b.has(0) ? b.get(0).as_int() : 255;
    const bool killwords = b.has(1) && truthy(b.get(1));
    const std::string end = b.has(2) ? to_str(b.get(2)) : "...";
    const int64_t leeway = b.has(3) && !b.get(3).is_none() ? b.get(3).as_int() : 5;
    const int64_t end_len = static_cast<int64_t>(utf8::length(end));
    if (length < end_len) fail("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
    if (leeway < 0) fail("expected leeway >= 0, got " + std::to_string(leeway));
    if (length_of(v) <= length + leeway) return v;
    if (!v.is_string()) {
      if (killwords) fail("can only concatenate " + type_name(v) + " (not \"str\") to " + type_name(v));
      fail("'" + type_name(v) + "' object has no attribute 'rsplit'");
    }
    const std::string& s = v.as_string();
    const auto cps = utf8::to_code_points(s);
    const size_t cut = static_cast<size_t>(length - end_len);
    std::string head = utf8::from_code_points(cps, 0, cut);
    if (killwords) return Value::string(head + end);
    const size_t space = head.rfind(' ');
    if (space != std::string::npos) head = head.substr(0, space);
    return Value::string(head + end);
  }
  fail("No filter named " + repr_string(name) + ".");
}

}  // namespace tandem::text::jinja
