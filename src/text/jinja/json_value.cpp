#include "text/jinja/json_value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "text/jinja/template_error.h"
#include "text/unicode.h"

namespace tandem::text::jinja {

namespace {

Value convert(const boost::json::value& json, int depth) {
  if (depth > kMaxJsonDepth) fail("context nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  switch (json.kind()) {
    case boost::json::kind::null: return Value::none();
    case boost::json::kind::bool_: return Value::boolean(json.get_bool());
    case boost::json::kind::int64: return Value::integer(json.get_int64());
    case boost::json::kind::uint64: {
      const uint64_t u = json.get_uint64();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::integer(static_cast<int64_t>(u));
      return Value::number(static_cast<double>(u));
    }
    case boost::json::kind::double_: return Value::number(json.get_double());
    case boost::json::kind::string: {
      const boost::json::string& s = json.get_string();
      return Value::string(std::string(s.data(), s.size()));
    }
    case boost::json::kind::array: {
      std::vector<Value> items;
      items.reserve(json.get_array().size());
      for (const auto& v : json.get_array()) items.push_back(convert(v, depth + 1));
      return Value::sequence(std::move(items));
    }
    case boost::json::kind::object: {
      Dict d;
      d.items.reserve(json.get_object().size());
      for (const auto& kv : json.get_object()) {
        d.items.emplace_back(Value::string(std::string(kv.key())), convert(kv.value(), depth + 1));
      }
      return Value::dict(std::move(d));
    }
  }
  return Value::none();
}

void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  size_t pos = 0;
  while (pos < s.size()) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c < 0x80) {
      ++pos;
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      continue;
    }
    const size_t start = pos;
    const char32_t cp = unicode::decode_utf8(s, pos);
    if (!ensure_ascii) {
      out.append(s, start, pos - start);
      continue;
    }
    char buf[16];
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                    static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
    } else {
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
    }
    out += buf;
  }
  out.push_back('"');
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

std::string key_text(const Value& k) {
  switch (k.kind()) {
    case Value::Kind::kString: return k.as_string();
    case Value::Kind::kBool: return k.as_bool() ? "true" : "false";
    case Value::Kind::kInt: return std::to_string(k.as_int());
    case Value::Kind::kFloat: return float_json(k.as_float());
    case Value::Kind::kNone: return "null";
    case Value::Kind::kUndefined:
    case Value::Kind::kSequence:
    case Value::Kind::kDict:
    case Value::Kind::kGenerator:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
    case Value::Kind::kLoop: break;
  }
  fail("keys must be str, int, float, bool or None, not " + type_name(k));
}

class Dumper {
 public:
  Dumper(const JsonDumpOptions& o, std::string& out) : o_(o), out_(out) {}

  void dump(const Value& v, int depth) {
    if (depth > kMaxValueDepth + 88) fail("maximum recursion depth exceeded while encoding a JSON object");
    switch (v.kind()) {
      case Value::Kind::kNone: out_ += "null"; return;
      case Value::Kind::kBool: out_ += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::kInt: out_ += std::to_string(v.as_int()); return;
      case Value::Kind::kFloat: out_ += float_json(v.as_float()); return;
      case Value::Kind::kString: dump_string(out_, v.as_string(), o_.ensure_ascii); return;
      case Value::Kind::kSequence: {
        const Sequence& s = v.as_sequence();
        if (s.style != SequenceStyle::kList && s.style != SequenceStyle::kTuple) break;
        if (s.items.empty()) {
          out_ += "[]";
          return;
        }
        out_.push_back('[');
        for (size_t i = 0; i < s.items.size(); ++i) {
          if (i > 0) out_ += separator();
          newline(depth + 1);
          dump(s.items[i], depth + 1);
        }
        newline(depth);
        out_.push_back(']');
        return;
      }
      case Value::Kind::kDict: {
        const Dict& d = v.as_dict();
        if (d.items.empty()) {
          out_ += "{}";
          return;
        }
        std::vector<const std::pair<Value, Value>*> items;
        for (const auto& kv : d.items) items.push_back(&kv);
        if (o_.sort_keys) {
          std::stable_sort(items.begin(), items.end(),
                           [](const auto* a, const auto* b) { return less(a->first, b->first); });
        }
        out_.push_back('{');
        bool first = true;
        for (const auto* kv : items) {
          if (!first) out_ += separator();
          first = false;
          newline(depth + 1);
          dump_string(out_, key_text(kv->first), o_.ensure_ascii);
          out_ += o_.key_separator;
          dump(kv->second, depth + 1);
        }
        newline(depth);
        out_.push_back('}');
        return;
      }
      case Value::Kind::kUndefined:
      case Value::Kind::kGenerator:
      case Value::Kind::kNamespace:
      case Value::Kind::kCallable:
      case Value::Kind::kLoop: break;
    }
    fail("Object of type " + type_name(v) + " is not JSON serializable");
  }

 private:
  const std::string& separator() const { return o_.item_separator; }
  void newline(int depth) {
    if (!o_.indent) return;
    out_.push_back('\n');
    for (int i = 0; i < depth; ++i) out_ += *o_.indent;
  }

  const JsonDumpOptions& o_;
  std::string& out_;
};

}  // namespace

Value from_json(const boost::json::value& json) { return convert(json, 0); }

std::string dump_json(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  Dumper(options, out).dump(value, 0);
  return out;
}

}  // namespace tandem::text::jinja
