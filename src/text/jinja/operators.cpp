#include "text/jinja/operators.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "text/jinja/template_error.h"
#include "text/jinja/utf8.h"
#include "text/unicode.h"

namespace tandem::text::jinja {

namespace {

const char* op_symbol(ast::BinaryOp op) {
  switch (op) {
    case ast::BinaryOp::kAdd: return "+";
    case ast::BinaryOp::kSub: return "-";
    case ast::BinaryOp::kMul: return "*";
    case ast::BinaryOp::kDiv: return "/";
    case ast::BinaryOp::kFloorDiv: return "//";
    case ast::BinaryOp::kMod: return "%";
    case ast::BinaryOp::kPow: return "** or pow()";
  }
  return "?";
}

[[noreturn]] void unsupported(ast::BinaryOp op, const Value& a, const Value& b) {
  fail(std::string("unsupported operand type(s) for ") + op_symbol(op) + ": '" + type_name(a) + "' and '" +
       type_name(b) + "'");
}

[[noreturn]] void overflow() { fail("integer overflow (Tandem's template integers are 64-bit)"); }

bool is_list_or_tuple(const Value& v) {
  return v.is_sequence() &&
         (v.as_sequence().style == SequenceStyle::kList || v.as_sequence().style == SequenceStyle::kTuple);
}

Value repeat(const Value& seq, int64_t n, size_t max_bytes) {
  if (n <= 0) {
    if (seq.is_string()) return Value::string("");
    return Value::sequence({}, seq.as_sequence().style);
  }
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(n) > max_bytes / s.size()) {
      fail("rendered output exceeds the limit of " + std::to_string(max_bytes) + " bytes");
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value::string(std::move(out));
  }
  const auto& items = seq.as_sequence().items;
  if (!items.empty() && static_cast<uint64_t>(n) > max_bytes / (items.size() * 16)) {
    fail("list repetition exceeds the output limit");
  }
  std::vector<Value> out;
  out.reserve(items.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::sequence(std::move(out), seq.as_sequence().style);
}

double float_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0.0) return std::copysign(0.0, a / b);
  double floordiv = std::floor(div);
  if (div - floordiv > 0.5) floordiv += 1.0;
  return floordiv;
}

double float_mod(double a, double b) {
  double mod = std::fmod(a, b);
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else {
    mod = std::copysign(0.0, b);
  }
  return mod;
}

Value numeric(ast::BinaryOp op, const Value& a, const Value& b) {
  const bool use_float = a.is_float() || b.is_float();
  if (!use_float) {
    const int64_t x = a.as_int();
    const int64_t y = b.as_int();
    int64_t r = 0;
    switch (op) {
      case ast::BinaryOp::kAdd:
        if (__builtin_add_overflow(x, y, &r)) overflow();
        return Value::integer(r);
      case ast::BinaryOp::kSub:
        if (__builtin_sub_overflow(x, y, &r)) overflow();
        return Value::integer(r);
      case ast::BinaryOp::kMul:
        if (__builtin_mul_overflow(x, y, &r)) overflow();
        return Value::integer(r);
      case ast::BinaryOp::kDiv:
        if (y == 0) fail("division by zero");
        return Value::number(static_cast<double>(x) / static_cast<double>(y));
      case ast::BinaryOp::kFloorDiv: {
        if (y == 0) fail("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow();
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      case ast::BinaryOp::kMod: {
        if (y == 0) fail("integer modulo by zero");
        if (y == -1) return Value::integer(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::integer(m);
      }
      case ast::BinaryOp::kPow: {
        if (y < 0) {
          if (x == 0) fail("0.0 cannot be raised to a negative power");
          return Value::number(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
        int64_t result = 1;
        int64_t base = x;
        int64_t e = y;
        while (e > 0) {
          if (e & 1) {
            if (__builtin_mul_overflow(result, base, &result)) overflow();
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
        }
        return Value::integer(result);
      }
    }
  }
  const double x = a.as_float();
  const double y = b.as_float();
  switch (op) {
    case ast::BinaryOp::kAdd: return Value::number(x + y);
    case ast::BinaryOp::kSub: return Value::number(x - y);
    case ast::BinaryOp::kMul: return Value::number(x * y);
    case ast::BinaryOp::kDiv:
      if (y == 0.0) fail("float division by zero");
      return Value::number(x / y);
    case ast::BinaryOp::kFloorDiv:
      if (y == 0.0) fail("float floor division by zero");
      return Value::number(float_floordiv(x, y));
    case ast::BinaryOp::kMod:
      if (y == 0.0) fail("float modulo");
      return Value::number(float_mod(x, y));
    case ast::BinaryOp::kPow:
      if (x == 0.0 && y < 0.0) fail("0.0 cannot be raised to a negative power");
      if (x < 0.0 && y != std::floor(y)) fail("complex results are not supported");
      return Value::number(std::pow(x, y));
  }
  return Value();
}

}  // namespace

Value binary_op(ast::BinaryOp op, const Value& a, const Value& b, size_t max_bytes) {
  if (op == ast::BinaryOp::kMod && a.is_string() && b.is_undefined()) {
    // Python formats with any object that has __getitem__ (Undefined has) as a mapping.
    return Value::string(percent_format(a.as_string(), b));
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) return numeric(op, a, b);
  switch (op) {
    case ast::BinaryOp::kAdd:
      if (a.is_string() && b.is_string()) {
        if (a.as_string().size() + b.as_string().size() > max_bytes) {
          fail("rendered output exceeds the limit of " + std::to_string(max_bytes) + " bytes");
        }
        return Value::string(a.as_string() + b.as_string());
      }
      if (a.is_string()) fail("can only concatenate str (not \"" + type_name(b) + "\") to str");
      if (is_list_or_tuple(a)) {
        if (b.is_sequence() && b.as_sequence().style == a.as_sequence().style) {
          std::vector<Value> out = a.as_sequence().items;
          out.insert(out.end(), b.as_sequence().items.begin(), b.as_sequence().items.end());
          return Value::sequence(std::move(out), a.as_sequence().style);
        }
        fail("can only concatenate " + type_name(a) + " (not \"" + type_name(b) + "\") to " + type_name(a));
      }
      unsupported(op, a, b);
    case ast::BinaryOp::kMul:
      if ((a.is_string() || is_list_or_tuple(a)) && (b.is_int() || b.is_bool()))
        return repeat(a, b.as_int(), max_bytes);
      if ((b.is_string() || is_list_or_tuple(b)) && (a.is_int() || a.is_bool()))
        return repeat(b, a.as_int(), max_bytes);
      if (a.is_string() || is_list_or_tuple(a))
        fail("can't multiply sequence by non-int of type '" + type_name(b) + "'");
      if (b.is_string() || is_list_or_tuple(b))
        fail("can't multiply sequence by non-int of type '" + type_name(a) + "'");
      unsupported(op, a, b);
    case ast::BinaryOp::kMod:
      if (a.is_string()) {
        std::string out = percent_format(a.as_string(), b);
        if (out.size() > max_bytes)
          fail("rendered output exceeds the limit of " + std::to_string(max_bytes) + " bytes");
        return Value::string(std::move(out));
      }
      unsupported(op, a, b);
    case ast::BinaryOp::kSub:
    case ast::BinaryOp::kDiv:
    case ast::BinaryOp::kFloorDiv:
    case ast::BinaryOp::kPow: unsupported(op, a, b);
  }
  unsupported(op, a, b);
}

Value negate(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return Value::number(-v.as_float());
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) overflow();
    return Value::integer(-v.as_int());
  }
  fail("bad operand type for unary -: '" + type_name(v) + "'");
}

Value unary_plus(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return v;
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  fail("bad operand type for unary +: '" + type_name(v) + "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined: return false;
    case Value::Kind::kString:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not " + type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kSequence:
      for (const auto& v : container.as_sequence().items) {
        if (equals(v, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      if (item.is_sequence() && !item.is_tuple()) fail("unhashable type: '" + type_name(item) + "'");
      if (item.is_dict()) fail("unhashable type: 'dict'");
      return container.as_dict().find(item) != nullptr;
    case Value::Kind::kGenerator:
      for (const auto& v : iterate(container)) {
        if (equals(v, item)) return true;
      }
      return false;
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
    case Value::Kind::kLoop: break;
  }
  fail("argument of type '" + type_name(container) + "' is not iterable");
}

Value slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto as_index = [](const Value& v, bool& ok) -> int64_t {
    if (v.is_none()) return 0;
    if (v.is_int() || v.is_bool()) return v.as_int();
    ok = false;
    return 0;
  };
  bool ok = true;
  int64_t step = step_v.is_none() ? 1 : as_index(step_v, ok);
  int64_t start = as_index(start_v, ok);
  int64_t stop = as_index(stop_v, ok);
  if (!ok) return Value::undefined_element(obj, Value::string("slice"));
  if (step == 0) fail("slice step cannot be zero");
  if (!obj.is_string() &&
      !(obj.is_sequence() && obj.as_sequence().style != SequenceStyle::kDictItems &&
        obj.as_sequence().style != SequenceStyle::kDictKeys && obj.as_sequence().style != SequenceStyle::kDictValues)) {
    return Value::undefined_element(obj, Value::string("slice"));
  }
  const bool ascii = obj.is_string() && utf8::is_ascii(obj.as_string());
  std::vector<char32_t> cps;
  if (obj.is_string() && !ascii) cps = utf8::to_code_points(obj.as_string());
  const int64_t len = obj.is_string()
                          ? (ascii ? static_cast<int64_t>(obj.as_string().size()) : static_cast<int64_t>(cps.size()))
                          : static_cast<int64_t>(obj.as_sequence().items.size());
  if (step > 0) {
    if (start_v.is_none()) start = 0;
    if (stop_v.is_none()) stop = len;
    if (start < 0) start = std::max<int64_t>(start + len, 0);
    if (stop < 0) stop = std::max<int64_t>(stop + len, 0);
    start = std::min(start, len);
    stop = std::min(stop, len);
  } else {
    if (start_v.is_none()) {
      start = len - 1;
    } else {
      if (start < 0) start += len;
      if (start < 0) start = -1;
      if (start >= len) start = len - 1;
    }
    if (stop_v.is_none()) {
      stop = -1;
    } else {
      if (stop < 0) stop += len;
      if (stop < 0) stop = -1;
      if (stop >= len) stop = len - 1;
    }
  }
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    if (ascii && step == 1) return Value::string(start < stop ? s.substr(start, stop - start) : std::string());
    std::string out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (ascii) {
        out.push_back(s[static_cast<size_t>(i)]);
      } else {
        unicode::append_utf8(out, cps[static_cast<size_t>(i)]);
      }
    }
    return Value::string(std::move(out));
  }
  const auto& items = obj.as_sequence().items;
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(items[static_cast<size_t>(i)]);
  const SequenceStyle style =
      obj.as_sequence().style == SequenceStyle::kTuple ? SequenceStyle::kTuple : SequenceStyle::kList;
  return Value::sequence(std::move(out), style);
}

// ---- printf-style formatting ---------------------------------------------------

namespace {

struct Spec {
  bool left = false, plus = false, space = false, zero = false, alt = false;
  int width = -1;
  int precision = -1;
};

std::string apply_width(std::string body, const Spec& spec, bool numeric) {
  const int len = static_cast<int>(utf8::length(body));
  if (spec.width <= len) return body;
  const size_t pad = static_cast<size_t>(spec.width - len);
  if (spec.left) return body + std::string(pad, ' ');
  if (spec.zero && numeric) {
    size_t sign = (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
    return body.substr(0, sign) + std::string(pad, '0') + body.substr(sign);
  }
  return std::string(pad, ' ') + body;
}

std::string format_one(char type, const Spec& spec, const Value& v) {
  switch (type) {
    case 's':
    case 'r':
    case 'a': {
      std::string s = type == 's' ? to_str(v) : to_repr(v);
      if (spec.precision >= 0) {
        const auto cps = utf8::to_code_points(s);
        if (cps.size() > static_cast<size_t>(spec.precision)) s = utf8::from_code_points(cps, 0, spec.precision);
      }
      return apply_width(s, spec, false);
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) fail("%" + std::string(1, type) + " format: a real number is required, not " + type_name(v));
      const int64_t n = v.is_float() ? static_cast<int64_t>(std::trunc(v.as_float())) : v.as_int();
      const bool neg = n < 0;
      const uint64_t mag = neg ? (0 - static_cast<uint64_t>(n)) : static_cast<uint64_t>(n);
      char buf[32];
      const char* fmt = (type == 'x') ? "%llx" : (type == 'X') ? "%llX" : (type == 'o') ? "%llo" : "%llu";
      std::snprintf(buf, sizeof(buf), fmt, static_cast<unsigned long long>(mag));
      std::string digits = buf;
      if (spec.precision > 0 && digits.size() < static_cast<size_t>(spec.precision)) {
        digits = std::string(spec.precision - digits.size(), '0') + digits;
      }
      if (spec.alt && type == 'x') digits = "0x" + digits;
      if (spec.alt && type == 'X') digits = "0X" + digits;
      if (spec.alt && type == 'o') digits = "0o" + digits;
      std::string sign = neg ? "-" : spec.plus ? "+" : spec.space ? " " : "";
      return apply_width(sign + digits, spec, true);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) fail("must be real number, not " + type_name(v));
      std::string f = "%";
      if (spec.plus) f += '+';
      if (spec.space) f += ' ';
      if (spec.alt) f += '#';
      f += "." + std::to_string(spec.precision >= 0 ? spec.precision : 6);
      f += type;
      char buf[512];
      std::snprintf(buf, sizeof(buf), f.c_str(), v.as_float());
      return apply_width(buf, spec, true);
    }
    case 'c': {
      if (v.is_string() && utf8::length(v.as_string()) == 1) return apply_width(v.as_string(), spec, false);
      if (v.is_int() && v.as_int() >= 0 && v.as_int() <= 0x10FFFF) {
        std::string s;
        unicode::append_utf8(s, static_cast<char32_t>(v.as_int()));
        return apply_width(s, spec, false);
      }
      fail("%c requires an int or a unicode character");
    }
    default: break;
  }
  fail(std::string("unsupported format character '") + type + "'");
}

}  // namespace

std::string percent_format(const std::string& format, const Value& args) {
  std::vector<Value> list;
  // Python treats any non-tuple argument with __getitem__ (dict, list, ...) as a
  // mapping: unused, it raises no "not all arguments converted".
  const bool mapping = args.is_dict() || args.is_undefined() || (args.is_sequence() && !args.is_tuple());
  if (args.is_tuple()) {
    list = args.as_sequence().items;
  } else if (!mapping) {
    list.push_back(args);
  }
  size_t next = 0;
  std::string out;
  size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c != '%') {
      out.push_back(c);
      ++i;
      continue;
    }
    ++i;
    if (i >= format.size()) fail("incomplete format");
    Value arg;
    bool have_arg = false;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string::npos) fail("incomplete format key");
      if (!mapping) fail("format requires a mapping");
      const std::string key = format.substr(i + 1, close - i - 1);
      if (args.is_undefined()) fail_undefined(args);
      if (!args.is_dict()) fail(type_name(args) + " indices must be integers or slices, not str");
      const Value* v = args.as_dict().find(std::string_view(key));
      if (v == nullptr) fail(repr_string(key));
      arg = *v;
      have_arg = true;
      i = close + 1;
    }
    Spec spec;
    while (i < format.size() && std::string_view("-+ 0#").find(format[i]) != std::string_view::npos) {
      switch (format[i]) {
        case '-': spec.left = true; break;
        case '+': spec.plus = true; break;
        case ' ': spec.space = true; break;
        case '0': spec.zero = true; break;
        default: spec.alt = true; break;
      }
      ++i;
    }
    auto read_num = [&](int& target) {
      if (i < format.size() && format[i] == '*') {
        if (next >= list.size()) fail("not enough arguments for format string");
        target = static_cast<int>(list[next++].as_int());
        ++i;
        return;
      }
      int n = -1;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        n = (n < 0 ? 0 : n) * 10 + (format[i] - '0');
        if (n > 100000) fail("width too big");
        ++i;
      }
      target = n;
    };
    read_num(spec.width);
    if (i < format.size() && format[i] == '.') {
      ++i;
      read_num(spec.precision);
      if (spec.precision < 0) spec.precision = 0;
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) fail("incomplete format");
    const char type = format[i++];
    if (type == '%') {
      out.push_back('%');
      continue;
    }
    if (!have_arg) {
      if (mapping) {
        arg = args;
      } else {
        if (next >= list.size()) fail("not enough arguments for format string");
        arg = list[next++];
      }
    }
    out += format_one(type, spec, arg);
  }
  if (!mapping && next < list.size()) fail("not all arguments converted during string formatting");
  return out;
}

// ---- str.format ---------------------------------------------------------------

namespace {

std::string format_spec(const Value& v, const std::string& spec_text) {
  // [[fill]align][sign][#][0][width][,_][.precision][type]
  size_t i = 0;
  std::string fill = " ";
  char align = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  {
    size_t probe = 0;
    std::string first;
    if (!spec_text.empty()) {
      unicode::decode_utf8(spec_text, probe);
      first = spec_text.substr(0, probe);
    }
    if (probe < spec_text.size() && is_align(spec_text[probe])) {
      fill = first;
      align = spec_text[probe];
      i = probe + 1;
    } else if (!spec_text.empty() && is_align(spec_text[0])) {
      align = spec_text[0];
      i = 1;
    }
  }
  char sign = '-';
  if (i < spec_text.size() && (spec_text[i] == '+' || spec_text[i] == '-' || spec_text[i] == ' '))
    sign = spec_text[i++];
  bool alt = false;
  if (i < spec_text.size() && spec_text[i] == '#') {
    alt = true;
    ++i;
  }
  if (i < spec_text.size() && spec_text[i] == '0') {
    if (align == 0) {
      fill = "0";
      align = '=';
    }
    ++i;
  }
  int width = 0;
  while (i < spec_text.size() && spec_text[i] >= '0' && spec_text[i] <= '9') {
    width = width * 10 + (spec_text[i++] - '0');
    if (width > 100000) fail("Too many decimal digits in format string");
  }
  char grouping = 0;
  if (i < spec_text.size() && (spec_text[i] == ',' || spec_text[i] == '_')) grouping = spec_text[i++];
  int precision = -1;
  if (i < spec_text.size() && spec_text[i] == '.') {
    ++i;
    precision = 0;
    while (i < spec_text.size() && spec_text[i] >= '0' && spec_text[i] <= '9')
      precision = precision * 10 + (spec_text[i++] - '0');
  }
  char type = 0;
  if (i < spec_text.size()) type = spec_text[i++];
  if (i != spec_text.size()) fail("Invalid format specifier");

  std::string body;
  bool numeric = false;
  if (v.is_string() || (type == 's')) {
    if (!v.is_string()) fail("Unknown format code 's' for object of type '" + type_name(v) + "'");
    body = v.as_string();
    if (precision >= 0) {
      const auto cps = utf8::to_code_points(body);
      if (cps.size() > static_cast<size_t>(precision)) body = utf8::from_code_points(cps, 0, precision);
    }
    if (align == 0) align = '<';
  } else if (v.is_number() && !v.is_float() &&
             (type == 0 || type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b' || type == 'n')) {
    numeric = true;
    const int64_t n = v.as_int();
    Spec s;
    s.alt = alt;
    const char t = type == 0 || type == 'n' ? 'd' : type;
    if (t == 'b') {
      uint64_t mag = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
      std::string bits;
      do {
        bits.insert(bits.begin(), static_cast<char>('0' + (mag & 1)));
        mag >>= 1;
      } while (mag);
      body = (n < 0 ? "-" : "") + std::string(alt ? "0b" : "") + bits;
    } else {
      body = format_one(t, s, Value::integer(n));
    }
    if (grouping && t == 'd') {
      const bool neg = !body.empty() && body[0] == '-';
      std::string digits = neg ? body.substr(1) : body;
      std::string grouped;
      for (size_t k = 0; k < digits.size(); ++k) {
        if (k > 0 && (digits.size() - k) % 3 == 0) grouped.push_back(grouping);
        grouped.push_back(digits[k]);
      }
      body = (neg ? "-" : "") + grouped;
    }
    if (sign == '+' && n >= 0) body = "+" + body;
    if (sign == ' ' && n >= 0) body = " " + body;
    if (align == 0) align = '>';
  } else if (v.is_number()) {
    numeric = true;
    const double d = v.as_float();
    if (type == 0 && precision < 0) {
      body = float_repr(d);
    } else {
      char t = type == 0 ? 'g' : type;
      double val = d;
      std::string suffix;
      if (t == '%') {
        val *= 100;
        t = 'f';
        suffix = "%";
      }
      if (std::string_view("eEfFgG").find(t) == std::string_view::npos) {
        fail(std::string("Unknown format code '") + t + "' for object of type 'float'");
      }
      char buf[512];
      std::string f = std::string("%") + (alt ? "#" : "") + "." + std::to_string(precision < 0 ? 6 : precision) + t;
      std::snprintf(buf, sizeof(buf), f.c_str(), val);
      body = std::string(buf) + suffix;
    }
    if (sign == '+' && d >= 0) body = "+" + body;
    if (sign == ' ' && d >= 0) body = " " + body;
    if (align == 0) align = '>';
  } else {
    if (!spec_text.empty() && type != 0) fail("unsupported format string passed to " + type_name(v) + ".__format__");
    body = to_str(v);
    if (align == 0) align = '<';
  }
  const int len = static_cast<int>(utf8::length(body));
  if (width <= len) return body;
  const int pad = width - len;
  auto fills = [&](int n) {
    std::string s;
    for (int k = 0; k < n; ++k) s += fill;
    return s;
  };
  switch (align) {
    case '<': return body + fills(pad);
    case '>': return fills(pad) + body;
    case '^': return fills(pad / 2) + body + fills(pad - pad / 2);
    case '=': {
      size_t sign_len = (numeric && !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
      return body.substr(0, sign_len) + fills(pad) + body.substr(sign_len);
    }
    default: return body;
  }
}

}  // namespace

std::string format_method(const std::string& format, const std::vector<Value>& args,
                          const std::vector<std::pair<std::string, Value>>& kwargs) {
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false;
  bool used_manual = false;
  size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out.push_back('}');
        i += 2;
        continue;
      }
      fail("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out.push_back('{');
      i += 2;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) fail("expected '}' before end of string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close + 1;
    std::string spec;
    const size_t colon = field.find(':');
    if (colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    char conversion = 0;
    const size_t bang = field.find('!');
    if (bang != std::string::npos) {
      if (bang + 2 != field.size()) fail("expected ':' after conversion specifier");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    // Split the first name from .attr / [key] accessors.
    size_t name_end = field.find_first_of(".[");
    const std::string first = field.substr(0, name_end);
    Value value;
    if (first.empty()) {
      if (used_manual) fail("cannot switch from manual field specification to automatic field numbering");
      used_auto = true;
      if (auto_index >= args.size())
        fail("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
      value = args[auto_index++];
    } else if (first.find_first_not_of("0123456789") == std::string::npos) {
      if (used_auto) fail("cannot switch from automatic field numbering to manual field specification");
      used_manual = true;
      const size_t idx = first.size() > 9 ? args.size() : std::stoul(first);
      if (idx >= args.size()) fail("Replacement index " + first + " out of range for positional args tuple");
      value = args[idx];
    } else {
      bool found = false;
      for (const auto& [k, v] : kwargs) {
        if (k == first) {
          value = v;
          found = true;
        }
      }
      if (!found) fail(repr_string(first));
    }
    while (name_end != std::string::npos && name_end < field.size()) {
      if (field[name_end] == '.') {
        const size_t end = field.find_first_of(".[", name_end + 1);
        const std::string attr =
            field.substr(name_end + 1, end == std::string::npos ? std::string::npos : end - name_end - 1);
        if (value.is_namespace() && value.as_namespace().find(attr) != nullptr) {
          value = *value.as_namespace().find(attr);
        } else {
          fail(repr_string(type_name(value)) + " object has no attribute " + repr_string(attr));
        }
        name_end = end;
      } else {
        const size_t end = field.find(']', name_end);
        if (end == std::string::npos) fail("Missing ']' in format string");
        const std::string key = field.substr(name_end + 1, end - name_end - 1);
        const Value* found = nullptr;
        if (value.is_dict()) found = value.as_dict().find(std::string_view(key));
        if (value.is_sequence() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos) {
          const size_t idx = key.size() > 9 ? SIZE_MAX : std::stoul(key);
          if (idx < value.as_sequence().items.size()) found = &value.as_sequence().items[idx];
        }
        if (found == nullptr) fail(repr_string(key));
        value = *found;
        name_end = end + 1;
      }
    }
    if (conversion == 'r' || conversion == 'a') {
      value = Value::string(to_repr(value));
    } else if (conversion == 's') {
      value = Value::string(to_str(value));
    } else if (conversion != 0) {
      fail(std::string("Unknown conversion specifier ") + conversion);
    }
    out += spec.empty() ? to_str(value) : format_spec(value, spec);
  }
  return out;
}

}  // namespace tandem::text::jinja
