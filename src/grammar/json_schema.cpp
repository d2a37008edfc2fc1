// JSON Schema front end (README.md states the supported keywords and what is exact).
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "grammar/front_ends.h"

namespace tandem::grammar {
namespace json = boost::json;
namespace {

constexpr int kMaxWhitespace = 16;  // whitespace bytes allowed at each place JSON allows whitespace
constexpr int kMaxIntDigits = 19;
constexpr int kMaxFracDigits = 16;
constexpr int kMaxDepth = 64;

struct SchemaError {
  std::string message;
};

const std::set<std::string, std::less<>> kAnnotations = {"title",    "description", "examples", "default",
                                                         "$schema",  "$id",         "$comment", "deprecated",
                                                         "readOnly", "writeOnly",   "$defs",    "definitions"};
const std::set<std::string, std::less<>> kSupported = {"type",
                                                       "properties",
                                                       "required",
                                                       "additionalProperties",
                                                       "enum",
                                                       "const",
                                                       "anyOf",
                                                       "oneOf",
                                                       "allOf",
                                                       "items",
                                                       "minItems",
                                                       "maxItems",
                                                       "minLength",
                                                       "maxLength",
                                                       "pattern",
                                                       "format",
                                                       "minimum",
                                                       "maximum",
                                                       "exclusiveMinimum",
                                                       "exclusiveMaximum",
                                                       "$ref"};

Expr ws() { return Expr::repeat(Expr::byte_set(ByteSet().set(' ').set('\n').set('\t')), 0, kMaxWhitespace); }

Expr digits(int lo, int hi) { return Expr::repeat(Expr::range('0', '9'), lo, hi); }

// One character inside a JSON string, as it is encoded: a printable ASCII byte but '"' and '\', a
// valid UTF-8 multi-byte sequence, or an escape (\uXXXX outside the surrogates, so that every escape
// is one code point).
Expr json_char() {
  ByteSet plain;
  for (int b = 0x20; b < 0x80; ++b) plain.set(b);
  plain.reset('"').reset('\\');
  Expr hex = Expr::byte_set([] {
    ByteSet s;
    for (int b = '0'; b <= '9'; ++b) s.set(b);
    for (int b = 'a'; b <= 'f'; ++b) s.set(b).set(b - 32);
    return s;
  }());
  std::vector<Expr> u4;
  ByteSet first_plain;
  for (int b : {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'e', 'f', 'A', 'B', 'C', 'E', 'F'}) {
    first_plain.set(b);
  }
  u4.push_back(Expr::seq({Expr::byte_set(first_plain), Expr::repeat(hex, 3, 3)}));
  u4.push_back(
      Expr::seq({Expr::byte_set(ByteSet().set('d').set('D')), Expr::range('0', '7'), Expr::repeat(hex, 2, 2)}));
  ByteSet simple;
  for (char c : std::string("\"\\/bfnrt")) simple.set(static_cast<uint8_t>(c));
  Expr escape = Expr::seq(
      {Expr::byte('\\'), Expr::alt({Expr::byte_set(simple), Expr::seq({Expr::byte('u'), Expr::alt(std::move(u4))})})});
  return Expr::alt({Expr::byte_set(plain), utf8_range(0x80, 0x10FFFF), std::move(escape)});
}

// A regex Expr over the decoded string -> an Expr over its JSON encoding: '"', '\' and control
// characters are written escaped.
Expr json_escape(const Expr& e) {
  Expr out = e;
  if (e.kind == Expr::Kind::kBytes) {
    ByteSet plain = e.bytes;
    std::vector<Expr> alts;
    for (int b = 0; b < 0x20; ++b) plain.reset(b);
    plain.reset('"').reset('\\');
    if (plain.any()) alts.push_back(Expr::byte_set(plain));
    std::vector<int> specials;
    for (int b = 0; b < 0x20; ++b) specials.push_back(b);
    specials.push_back('"');
    specials.push_back('\\');
    for (int b : specials) {
      if (!e.bytes.test(b)) continue;
      std::string esc;
      switch (b) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", b);
          esc = buf;
        }
      }
      alts.push_back(Expr::literal(esc));
    }
    if (alts.empty()) return Expr::nothing();
    return Expr::alt(std::move(alts));
  }
  for (Expr& item : out.items) item = json_escape(item);
  return out;
}

std::string number_text(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  double d = v.as_double();
  char buf[40];
  if (std::floor(d) == d && std::fabs(d) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", d);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", d);
  }
  return buf;
}

// s as a JSON string literal (quoted, escaped as Boost.JSON writes it).
void append_json_string(std::string& out, std::string_view s) { out += json::serialize(json::string_view(s)); }

// Compact JSON text of a value (for const and enum).
void write_json(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += v.as_bool() ? "true" : "false"; break;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: out += number_text(v); break;
    case json::kind::string: append_json_string(out, v.as_string()); break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& x : v.as_array()) {
        if (!first) out += ',';
        first = false;
        write_json(out, x);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.as_object()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, kv.key());
        out += ':';
        write_json(out, kv.value());
      }
      out += '}';
      break;
    }
  }
}

// Decimal strings of equal length: every number in [a, b].
Expr same_length(const std::string& a, const std::string& b) {
  if (a.empty()) return Expr::empty();
  if (a[0] == b[0]) return Expr::seq({Expr::byte(a[0]), same_length(a.substr(1), b.substr(1))});
  const size_t rest = a.size() - 1;
  std::vector<Expr> alts;
  alts.push_back(Expr::seq({Expr::byte(a[0]), same_length(a.substr(1), std::string(rest, '9'))}));
  if (b[0] - a[0] > 1) alts.push_back(Expr::seq({Expr::range(a[0] + 1, b[0] - 1), digits(rest, rest)}));
  alts.push_back(Expr::seq({Expr::byte(b[0]), same_length(std::string(rest, '0'), b.substr(1))}));
  return Expr::alt(std::move(alts));
}

std::string pow10_minus_1(int len) { return std::string(len, '9'); }
std::string pow10(int len) { return "1" + std::string(len, '0'); }

// Decimal integers without leading zeros in [a, b]; b < 0 means unbounded (up to kMaxIntDigits digits).
Expr int_range(int64_t a, int64_t b) {
  std::string as = std::to_string(a);
  std::vector<Expr> alts;
  int la = static_cast<int>(as.size());
  int lb = b < 0 ? kMaxIntDigits : static_cast<int>(std::to_string(b).size());
  for (int len = la; len <= lb; ++len) {
    std::string lo = len == la ? as : pow10(len - 1);
    std::string hi = (b >= 0 && len == lb) ? std::to_string(b) : pow10_minus_1(len);
    if (b < 0 && len > la) {
      alts.push_back(Expr::seq({Expr::range('1', '9'), digits(len - 1, kMaxIntDigits - 1)}));
      break;
    }
    alts.push_back(same_length(lo, hi));
  }
  return Expr::alt(std::move(alts));
}

Expr frac() { return Expr::seq({Expr::byte('.'), digits(1, kMaxFracDigits)}); }

// Magnitudes in [a, b] (b < 0: unbounded), integers or, with `fraction`, decimals.
Expr magnitude(int64_t a, int64_t b, bool fraction) {
  if (!fraction) return int_range(a, b);
  std::vector<Expr> alts;
  if (b < 0) return Expr::seq({int_range(a, -1), Expr::optional(frac())});
  if (b > a) alts.push_back(Expr::seq({int_range(a, b - 1), Expr::optional(frac())}));
  std::string bs = std::to_string(b);
  alts.push_back(
      Expr::seq({Expr::literal(bs), Expr::optional(Expr::seq({Expr::byte('.'), Expr::plus(Expr::byte('0'))}))}));
  return Expr::alt(std::move(alts));
}

class SchemaCompiler {
 public:
  SchemaCompiler(const json::value& root, bool strict) : root_(root), strict_(strict) {}

  RuleSet compile() {
    int32_t r = rules_.add("root");
    rules_.define(r, value(root_, "", 0));
    rules_.root = r;
    return std::move(rules_);
  }

 private:
  [[noreturn]] void fail(const std::string& ptr, const std::string& what) {
    throw SchemaError{"json_schema: " + what + " at '" + (ptr.empty() ? std::string("#") : "#" + ptr) + "'"};
  }

  static std::string child(const std::string& ptr, std::string_view key) {
    std::string out = ptr + "/";
    for (char c : key) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
    return out;
  }

  int32_t shared(const std::string& name, Expr (SchemaCompiler::*make)()) {
    auto it = shared_.find(name);
    if (it != shared_.end()) return it->second;
    int32_t r = rules_.add(name);
    shared_[name] = r;
    rules_.define(r, (this->*make)());
    return r;
  }

  Expr any_value() { return Expr::ref(shared("value", &SchemaCompiler::make_any_value)); }
  Expr any_string() { return Expr::ref(shared("string", &SchemaCompiler::make_string)); }
  Expr any_number() { return Expr::ref(shared("number", &SchemaCompiler::make_number)); }
  Expr any_integer() { return Expr::ref(shared("integer", &SchemaCompiler::make_integer)); }

  Expr make_string() { return Expr::seq({Expr::byte('"'), Expr::star(json_char()), Expr::byte('"')}); }
  Expr make_integer() {
    return Expr::seq({Expr::optional(Expr::byte('-')),
                      Expr::alt({Expr::byte('0'), Expr::seq({Expr::range('1', '9'), digits(0, kMaxIntDigits - 1)})})});
  }
  Expr make_number() {
    return Expr::seq(
        {make_integer(), Expr::optional(frac()),
         Expr::optional(Expr::seq({Expr::byte_set(ByteSet().set('e').set('E')),
                                   Expr::optional(Expr::byte_set(ByteSet().set('+').set('-'))), digits(1, 2)}))});
  }
  Expr make_any_value() {
    int32_t value_rule = shared_["value"];
    Expr v = Expr::ref(value_rule);
    Expr member = Expr::seq({any_string(), ws(), Expr::byte(':'), ws(), v});
    Expr comma = Expr::seq({ws(), Expr::byte(','), ws()});
    Expr object =
        Expr::seq({Expr::byte('{'), ws(), Expr::optional(Expr::seq({member, Expr::star(Expr::seq({comma, member}))})),
                   ws(), Expr::byte('}')});
    Expr array = Expr::seq({Expr::byte('['), ws(), Expr::optional(Expr::seq({v, Expr::star(Expr::seq({comma, v}))})),
                            ws(), Expr::byte(']')});
    int32_t obj = rules_.add_defined("object", std::move(object));
    int32_t arr = rules_.add_defined("array", std::move(array));
    return Expr::alt({Expr::ref(obj), Expr::ref(arr), any_string(), any_number(), Expr::literal("true"),
                      Expr::literal("false"), Expr::literal("null")});
  }

  void check_keywords(const json::object& s, const std::string& ptr) {
    if (!strict_) return;
    for (const auto& kv : s) {
      std::string_view k = kv.key();
      if (kAnnotations.count(k) == 0 && kSupported.count(k) == 0) {
        fail(ptr, "unsupported keyword '" + std::string(k) + "'");
      }
    }
  }

  const json::value* get(const json::object& s, std::string_view key) {
    auto it = s.find(key);
    return it == s.end() ? nullptr : &it->value();
  }

  int64_t count(const json::object& s, std::string_view key, const std::string& ptr, int64_t dflt) {
    const json::value* v = get(s, key);
    if (v == nullptr) return dflt;
    if (v->is_int64() && v->as_int64() >= 0) return v->as_int64();
    if (v->is_uint64()) fail(child(ptr, key), "value too large");
    if (v->is_double() && v->as_double() >= 0 && std::floor(v->as_double()) == v->as_double() && v->as_double() < 1e9) {
      return static_cast<int64_t>(v->as_double());
    }
    fail(child(ptr, key), "'" + std::string(key) + "' must be a non-negative integer");
  }

  Expr value(const json::value& s, const std::string& ptr, int depth) {
    if (depth > kMaxDepth) fail(ptr, "schema nested too deeply");
    if (s.is_bool()) return s.as_bool() ? any_value() : Expr::nothing();
    if (!s.is_object()) fail(ptr, "a schema must be an object or a boolean");
    const json::object& o = s.as_object();
    check_keywords(o, ptr);
    if (const json::value* ref = get(o, "$ref")) {
      if (strict_) {
        for (const auto& kv : o) {
          if (kv.key() != "$ref" && kAnnotations.count(kv.key()) == 0) {
            fail(ptr, "'" + std::string(kv.key()) + "' beside '$ref' is not supported");
          }
        }
      }
      return reference(*ref, ptr, depth);
    }
    if (const json::value* c = get(o, "const")) {
      if (!type_allows(o, *c, ptr)) fail(child(ptr, "const"), "the 'const' value does not have the schema's 'type'");
      std::string text;
      write_json(text, *c);
      return Expr::literal(text);
    }
    if (const json::value* e = get(o, "enum")) {
      if (!e->is_array() || e->as_array().empty()) fail(child(ptr, "enum"), "'enum' must be a non-empty array");
      std::vector<Expr> alts;
      for (const json::value& x : e->as_array()) {
        if (!type_allows(o, x, ptr)) continue;  // a value of another type can never validate
        std::string text;
        write_json(text, x);
        alts.push_back(Expr::literal(text));
      }
      if (alts.empty()) fail(child(ptr, "enum"), "no 'enum' value has the schema's 'type'");
      return Expr::alt(std::move(alts));
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (const json::value* list = get(o, key)) {
        if (!list->is_array() || list->as_array().empty()) {
          fail(child(ptr, key), std::string("'") + key + "' must be a non-empty array");
        }
        if (strict_ && get(o, "type") != nullptr) {
          fail(ptr, std::string("'") + key + "' beside 'type' is not supported");
        }
        std::vector<Expr> alts;
        size_t i = 0;
        for (const json::value& sub : list->as_array()) {
          alts.push_back(value(sub, child(child(ptr, key), std::to_string(i++)), depth + 1));
        }
        return Expr::alt(std::move(alts));
      }
    }
    if (const json::value* all = get(o, "allOf")) {
      if (!all->is_array() || all->as_array().size() != 1) {
        fail(child(ptr, "allOf"), "'allOf' is supported with exactly one schema");
      }
      return value(all->as_array()[0], child(child(ptr, "allOf"), "0"), depth + 1);
    }
    std::vector<std::string> types;
    if (const json::value* t = get(o, "type")) {
      if (t->is_string()) {
        types.emplace_back(t->as_string());
      } else if (t->is_array() && !t->as_array().empty()) {
        for (const json::value& x : t->as_array()) {
          if (!x.is_string()) fail(child(ptr, "type"), "'type' must be a string or an array of strings");
          types.emplace_back(x.as_string());
        }
      } else {
        fail(child(ptr, "type"), "'type' must be a string or an array of strings");
      }
    } else {
      auto has = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys) {
          if (get(o, k) != nullptr) return true;
        }
        return false;
      };
      if (has({"properties", "required", "additionalProperties"})) types.emplace_back("object");
      if (has({"items", "minItems", "maxItems"})) types.emplace_back("array");
      if (has({"minLength", "maxLength", "pattern", "format"})) types.emplace_back("string");
      if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) types.emplace_back("number");
      if (types.empty()) return any_value();
    }
    std::vector<Expr> alts;
    for (const std::string& t : types) {
      if (t == "object") {
        alts.push_back(object(o, ptr, depth));
      } else if (t == "array") {
        alts.push_back(array(o, ptr, depth));
      } else if (t == "string") {
        alts.push_back(string(o, ptr));
      } else if (t == "number" || t == "integer") {
        alts.push_back(number(o, ptr, t == "integer"));
      } else if (t == "boolean") {
        alts.push_back(Expr::alt({Expr::literal("true"), Expr::literal("false")}));
      } else if (t == "null") {
        alts.push_back(Expr::literal("null"));
      } else {
        fail(child(ptr, "type"), "unknown type '" + t + "'");
      }
    }
    return Expr::alt(std::move(alts));
  }

  // Whether the schema's "type" (absent: any) admits the value x.
  bool type_allows(const json::object& o, const json::value& x, const std::string& ptr) {
    const json::value* t = get(o, "type");
    if (t == nullptr) return true;
    auto one = [&](std::string_view name) {
      if (name == "string") return x.is_string();
      if (name == "boolean") return x.is_bool();
      if (name == "null") return x.is_null();
      if (name == "object") return x.is_object();
      if (name == "array") return x.is_array();
      if (name == "number") return x.is_number();
      if (name == "integer") {
        return x.is_int64() || x.is_uint64() || (x.is_double() && std::floor(x.as_double()) == x.as_double());
      }
      fail(child(ptr, "type"), "unknown type '" + std::string(name) + "'");
    };
    if (t->is_string()) return one(t->as_string());
    if (t->is_array()) {
      for (const json::value& n : t->as_array()) {
        if (n.is_string() && one(n.as_string())) return true;
      }
      return false;
    }
    fail(child(ptr, "type"), "'type' must be a string or an array of strings");
  }

  Expr reference(const json::value& ref, const std::string& ptr, int depth) {
    if (!ref.is_string()) fail(child(ptr, "$ref"), "'$ref' must be a string");
    std::string r(ref.as_string());
    auto it = refs_.find(r);
    if (it != refs_.end()) return Expr::ref(it->second);
    if (r.empty() || r[0] != '#') fail(child(ptr, "$ref"), "only local references ('#...') are supported: '" + r + "'");
    // Resolve the JSON pointer (percent-decoded, ~1 -> '/', ~0 -> '~').
    const json::value* target = &root_;
    std::string decoded;
    for (size_t i = 1; i < r.size(); ++i) {
      if (r[i] == '%' && i + 2 < r.size() && std::isxdigit(static_cast<unsigned char>(r[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(r[i + 2]))) {
        decoded += static_cast<char>(std::stoi(r.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        decoded += r[i];
      }
    }
    if (!decoded.empty() && decoded[0] != '/') fail(child(ptr, "$ref"), "unsupported reference '" + r + "'");
    size_t pos = 1;
    while (pos <= decoded.size() && !decoded.empty()) {
      size_t end = decoded.find('/', pos);
      if (end == std::string::npos) end = decoded.size();
      std::string token;
      for (size_t i = pos; i < end; ++i) {
        if (decoded[i] == '~' && i + 1 < end && (decoded[i + 1] == '0' || decoded[i + 1] == '1')) {
          token += decoded[i + 1] == '0' ? '~' : '/';
          ++i;
        } else {
          token += decoded[i];
        }
      }
      if (target->is_object() && target->as_object().contains(token)) {
        target = &target->as_object().at(token);
      } else if (target->is_array() && !token.empty() && token.find_first_not_of("0123456789") == std::string::npos &&
                 token.size() < 9 && std::stoul(token) < target->as_array().size()) {
        target = &target->as_array()[std::stoul(token)];
      } else {
        fail(child(ptr, "$ref"), "reference '" + r + "' does not resolve");
      }
      pos = end + 1;
    }
    int32_t id = rules_.add("ref " + r);
    refs_[r] = id;
    rules_.define(id, value(*target, decoded, depth + 1));
    return Expr::ref(id);
  }

  Expr object(const json::object& o, const std::string& ptr, int depth) {
    struct Prop {
      std::string key;
      Expr value;
      bool required;
    };
    std::vector<Prop> props;
    std::set<std::string> required;
    if (const json::value* req = get(o, "required")) {
      if (!req->is_array()) fail(child(ptr, "required"), "'required' must be an array of strings");
      for (const json::value& x : req->as_array()) {
        if (!x.is_string()) fail(child(ptr, "required"), "'required' must be an array of strings");
        required.insert(std::string(x.as_string()));
      }
    }
    std::set<std::string> listed;
    if (const json::value* p = get(o, "properties")) {
      if (!p->is_object()) fail(child(ptr, "properties"), "'properties' must be an object");
      for (const auto& kv : p->as_object()) {
        std::string key(kv.key());
        listed.insert(key);
        props.push_back(
            {key, value(kv.value(), child(child(ptr, "properties"), key), depth + 1), required.count(key) != 0});
      }
    }
    // Extra members: additionalProperties (missing: false when strict, any value otherwise).
    std::optional<Expr> extra;
    const json::value* add = get(o, "additionalProperties");
    if (add == nullptr) {
      if (!strict_) extra = any_value();
    } else if (add->is_bool()) {
      if (add->as_bool()) extra = any_value();
    } else {
      extra = value(*add, child(ptr, "additionalProperties"), depth + 1);
    }
    for (const std::string& r : required) {
      if (listed.count(r) != 0) continue;
      if (!extra) fail(child(ptr, "required"), "required property '" + r + "' is not in 'properties'");
      props.push_back({r, *extra, true});
    }
    if (props.size() > 1000) fail(ptr, "more than 1000 properties");
    auto member = [&](const std::string& key, Expr v) {
      std::string k;
      append_json_string(k, key);
      return Expr::seq({Expr::literal(k), ws(), Expr::byte(':'), ws(), std::move(v)});
    };
    Expr comma = Expr::seq({ws(), Expr::byte(','), ws()});
    // after[i]: members i.. when one was written before (each preceded by a comma);
    // first[i]: members i.. when none was written yet. Linear in the number of properties.
    const size_t n = props.size();
    std::vector<int32_t> after(n + 1), first(n + 1);
    std::string base = "object " + (ptr.empty() ? std::string("#") : ptr);
    for (size_t i = 0; i <= n; ++i) {
      after[i] = rules_.add(base + " after " + std::to_string(i));
      first[i] = rules_.add(base + " first " + std::to_string(i));
    }
    if (extra) {
      Expr extra_member = member_any_key(*extra);
      rules_.define(after[n], Expr::star(Expr::seq({comma, extra_member})));
      rules_.define(first[n], Expr::optional(Expr::seq({extra_member, Expr::ref(after[n])})));
    } else {
      rules_.define(after[n], Expr::empty());
      rules_.define(first[n], Expr::empty());
    }
    for (size_t i = n; i-- > 0;) {
      Expr m = member(props[i].key, props[i].value);
      Expr with_comma = Expr::seq({comma, m, Expr::ref(after[i + 1])});
      Expr as_first = Expr::seq({m, Expr::ref(after[i + 1])});
      if (props[i].required) {
        rules_.define(after[i], std::move(with_comma));
        rules_.define(first[i], std::move(as_first));
      } else {
        rules_.define(after[i], Expr::alt({std::move(with_comma), Expr::ref(after[i + 1])}));
        rules_.define(first[i], Expr::alt({std::move(as_first), Expr::ref(first[i + 1])}));
      }
    }
    int32_t r =
        rules_.add_defined(base, Expr::seq({Expr::byte('{'), ws(), Expr::ref(first[0]), ws(), Expr::byte('}')}));
    return Expr::ref(r);
  }

  Expr member_any_key(const Expr& v) { return Expr::seq({any_string(), ws(), Expr::byte(':'), ws(), v}); }

  Expr array(const json::object& o, const std::string& ptr, int depth) {
    Expr item = any_value();
    if (const json::value* items = get(o, "items")) {
      if (items->is_array()) fail(child(ptr, "items"), "'items' as an array (tuple form) is not supported");
      item = value(*items, child(ptr, "items"), depth + 1);
    }
    int64_t lo = count(o, "minItems", ptr, 0);
    int64_t hi = count(o, "maxItems", ptr, -1);
    if (hi >= 0 && hi < lo) fail(ptr, "'maxItems' is less than 'minItems'");
    if (lo > 10000 || hi > 10000) fail(ptr, "'minItems'/'maxItems' above 10000 are not supported");
    Expr comma = Expr::seq({ws(), Expr::byte(','), ws()});
    Expr body;
    if (hi == 0) {
      body = Expr::empty();
    } else {
      int rest_lo = lo > 0 ? static_cast<int>(lo - 1) : 0;
      int rest_hi = hi < 0 ? -1 : static_cast<int>(hi - 1);
      body = Expr::seq({item, Expr::repeat(Expr::seq({comma, item}), rest_lo, rest_hi)});
      if (lo == 0) body = Expr::optional(std::move(body));
    }
    int32_t r = rules_.add_defined("array " + (ptr.empty() ? std::string("#") : ptr),
                                   Expr::seq({Expr::byte('['), ws(), std::move(body), ws(), Expr::byte(']')}));
    return Expr::ref(r);
  }

  Expr string(const json::object& o, const std::string& ptr) {
    const json::value* pattern = get(o, "pattern");
    const json::value* format = get(o, "format");
    bool lengths = get(o, "minLength") != nullptr || get(o, "maxLength") != nullptr;
    if (pattern != nullptr) {
      if (!pattern->is_string()) fail(child(ptr, "pattern"), "'pattern' must be a string");
      if (lengths) fail(ptr, "'pattern' together with 'minLength'/'maxLength' is not supported");
      std::string p(pattern->as_string());
      Result<Expr> re = parse_regex(p);
      if (!re.ok()) fail(child(ptr, "pattern"), re.status().message());
      bool start = !p.empty() && p[0] == '^';
      size_t slashes = 0;
      for (size_t i = p.size() - (p.empty() ? 0 : 1); i > 0 && p[i - 1] == '\\'; --i) ++slashes;
      bool end = !p.empty() && p.back() == '$' && slashes % 2 == 0;
      std::vector<Expr> parts{Expr::byte('"')};
      if (!start) parts.push_back(Expr::star(json_char()));
      parts.push_back(json_escape(*re));
      if (!end) parts.push_back(Expr::star(json_char()));
      parts.push_back(Expr::byte('"'));
      return own_rule("pattern " + p, Expr::seq(std::move(parts)));
    }
    if (format != nullptr) {
      if (!format->is_string()) fail(child(ptr, "format"), "'format' must be a string");
      std::string f(format->as_string());
      const char* re = format_regex(f);
      if (re != nullptr && !lengths) {
        Result<Expr> e = parse_regex(re);
        return own_rule("format " + f, Expr::seq({Expr::byte('"'), json_escape(*e), Expr::byte('"')}));
      }
      if (re != nullptr && strict_) fail(ptr, "'format' together with 'minLength'/'maxLength' is not supported");
      if (re == nullptr && strict_) fail(child(ptr, "format"), "unsupported format '" + f + "'");
    }
    if (!lengths) return any_string();
    int64_t lo = count(o, "minLength", ptr, 0);
    int64_t hi = count(o, "maxLength", ptr, -1);
    if (hi >= 0 && hi < lo) fail(ptr, "'maxLength' is less than 'minLength'");
    if (lo > 10000 || hi > 10000) fail(ptr, "'minLength'/'maxLength' above 10000 are not supported");
    return own_rule("string " + std::to_string(lo) + "," + std::to_string(hi),
                    Expr::seq({Expr::byte('"'), Expr::repeat(json_char(), static_cast<int>(lo), static_cast<int>(hi)),
                               Expr::byte('"')}));
  }

  static const char* format_regex(const std::string& f) {
    static const std::map<std::string, std::string> kFormats = [] {
      std::string date =
          "[1-9]\\d{3}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|"
          "02-(?:0[1-9]|1\\d|2[0-8]))";
      std::string time = "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)";
      std::string octet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
      std::map<std::string, std::string> m;
      m["date"] = date;
      m["time"] = time;
      m["date-time"] = date + "T" + time;
      m["uuid"] = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
      m["email"] =
          "[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+";
      m["ipv4"] = octet + "(?:\\." + octet + "){3}";
      m["hostname"] =
          "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*";
      m["uri"] = "[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+";
      return m;
    }();
    auto it = kFormats.find(f);
    return it == kFormats.end() ? nullptr : it->second.c_str();
  }

  Expr own_rule(const std::string& key, Expr body) {
    auto it = shared_.find(key);
    if (it != shared_.end()) return Expr::ref(it->second);
    int32_t r = rules_.add_defined(key, std::move(body));
    shared_[key] = r;
    return Expr::ref(r);
  }

  // A bound as a double, or nullopt. Draft 4's boolean exclusiveMinimum/Maximum are read too.
  std::optional<double> bound(const json::object& o, const char* key, const std::string& ptr) {
    const json::value* v = get(o, key);
    if (v == nullptr || v->is_bool()) return std::nullopt;
    if (!v->is_number()) fail(child(ptr, key), std::string("'") + key + "' must be a number");
    return v->to_number<double>();
  }

  Expr number(const json::object& o, const std::string& ptr, bool integer) {
    std::optional<double> mn = bound(o, "minimum", ptr), mx = bound(o, "maximum", ptr);
    std::optional<double> xmn = bound(o, "exclusiveMinimum", ptr), xmx = bound(o, "exclusiveMaximum", ptr);
    const json::value* bxmn = get(o, "exclusiveMinimum");
    const json::value* bxmx = get(o, "exclusiveMaximum");
    bool draft4_xmn = bxmn != nullptr && bxmn->is_bool() && bxmn->as_bool();
    bool draft4_xmx = bxmx != nullptr && bxmx->is_bool() && bxmx->as_bool();
    if (!mn && !mx && !xmn && !xmx) return integer ? any_integer() : any_number();
    // The allowed set, rounded inward to integer bounds (exact for integers, and for numbers whose
    // bounds are inclusive integers).
    constexpr double kBig = 9.0e18;
    double lo = -kBig, hi = kBig;
    bool has_lo = false, has_hi = false;
    auto raise_lo = [&](double v, bool exclusive) {
      double c = exclusive ? std::floor(v) + 1 : std::ceil(v);
      if (!has_lo || c > lo) lo = c;
      has_lo = true;
    };
    auto lower_hi = [&](double v, bool exclusive) {
      double c = exclusive ? std::ceil(v) - 1 : std::floor(v);
      if (!has_hi || c < hi) hi = c;
      has_hi = true;
    };
    if (mn) raise_lo(*mn, draft4_xmn);
    if (xmn) raise_lo(*xmn, true);
    if (mx) lower_hi(*mx, draft4_xmx);
    if (xmx) lower_hi(*xmx, true);
    if ((has_lo && std::fabs(lo) >= kBig) || (has_hi && std::fabs(hi) >= kBig))
      fail(ptr, "numeric bound out of the supported range (|x| < 9e18)");
    if (has_lo && has_hi && lo > hi) fail(ptr, "no integer satisfies the numeric bounds");
    const bool fraction = !integer;
    int64_t a = static_cast<int64_t>(lo), b = static_cast<int64_t>(hi);
    std::vector<Expr> alts;
    // Negative values: magnitudes in [max(1, -b), -a] (or unbounded).
    if (!has_lo || a < 0) {
      int64_t mlo = has_hi && b < 0 ? -b : (fraction ? 0 : 1);
      int64_t mhi = has_lo ? -a : -1;
      if (fraction && mlo == 0) {
        // (-1, 0): "-0.xxx" and "-0"
        alts.push_back(Expr::seq({Expr::byte('-'), magnitude(0, mhi, true)}));
      } else {
        alts.push_back(Expr::seq({Expr::byte('-'), magnitude(mlo, mhi, fraction)}));
      }
    }
    // Non-negative values: magnitudes in [max(0, a), b].
    if (!has_hi || b >= 0) {
      int64_t plo = has_lo && a > 0 ? a : 0;
      int64_t phi = has_hi ? b : -1;
      alts.push_back(magnitude(plo, phi, fraction));
    }
    std::string key = std::string(integer ? "integer " : "number ") + (has_lo ? std::to_string(a) : "") + ".." +
                      (has_hi ? std::to_string(b) : "");
    return own_rule(key, Expr::alt(std::move(alts)));
  }

  const json::value& root_;
  bool strict_;
  RuleSet rules_;
  std::map<std::string, int32_t> shared_;
  std::map<std::string, int32_t> refs_;
};

}  // namespace

Result<RuleSet> json_schema_rules(std::string_view schema_json, bool strict) {
  json::parse_options opts;
  opts.max_depth = 2 * kMaxDepth;
  json::stream_parser p(json::storage_ptr(), opts);
  boost::system::error_code ec;
  size_t n = p.write_some(schema_json.data(), schema_json.size(), ec);
  if (!ec && !p.done()) {
    p.finish(ec);
    n = schema_json.size();
  }
  if (ec) {
    return Status(ErrorKind::kInvalidRequest,
                  "json_schema: invalid JSON at offset " + std::to_string(n) + ": " + ec.message());
  }
  if (n != schema_json.size()) {
    return Status(ErrorKind::kInvalidRequest,
                  "json_schema: extra text after the schema at offset " + std::to_string(n));
  }
  json::value v = p.release();
  try {
    return SchemaCompiler(v, strict).compile();
  } catch (const SchemaError& e) {
    return Status(ErrorKind::kInvalidRequest, e.message);
  }
}

RuleSet any_json_object_rules() {
  RuleSet rules = *json_schema_rules(R"({"type":"object","additionalProperties":true})", true);
  return rules;
}

}  // namespace tandem::grammar
