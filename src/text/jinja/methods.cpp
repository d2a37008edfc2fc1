#include "text/jinja/methods.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "text/jinja/interpreter.h"
#include "text/jinja/operators.h"
#include "text/jinja/template_error.h"
#include "text/jinja/utf8.h"
#include "text/unicode.h"

namespace tandem::text::jinja {

namespace {

constexpr std::array<std::string_view, 40> kStrMethods = {
    "startswith", "endswith", "split",      "rsplit",   "strip",     "lstrip",     "rstrip",       "upper",
    "lower",      "title",    "capitalize", "swapcase", "casefold",  "replace",    "find",         "rfind",
    "index",      "rindex",   "count",      "join",     "format",    "splitlines", "isdigit",      "isalpha",
    "isalnum",    "isspace",  "islower",    "isupper",  "isnumeric", "isdecimal",  "removeprefix", "removesuffix",
    "center",     "ljust",    "rjust",      "zfill",    "partition", "rpartition", "isprintable",  "istitle"};
constexpr std::array<std::string_view, 5> kDictMethods = {"items", "keys", "values", "get", "copy"};
constexpr std::array<std::string_view, 5> kDictUnsafe = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr std::array<std::string_view, 2> kSeqMethods = {"index", "count"};
constexpr std::array<std::string_view, 8> kListUnsafe = {"append", "clear", "pop",    "reverse",
                                                         "insert", "sort",  "extend", "remove"};

template <size_t N>
bool in(const std::array<std::string_view, N>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// Fails with Python's message `<prefix>must be str, not <type>` for non-strings.
const std::string& need_str(const Value& v, const std::string& prefix, const char* expected = "str") {
  if (!v.is_string()) {
    if (v.is_undefined()) fail_undefined(v);
    fail(prefix + "must be " + expected + ", not " + type_name(v));
  }
  return v.as_string();
}

int64_t need_int(const Value& v, const char* method) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_undefined()) fail_undefined(v);
  fail(std::string(method) + "(): '" + type_name(v) + "' object cannot be interpreted as an integer");
}

// Code-point index of a byte offset.
int64_t cp_index(const std::string& s, size_t byte_offset) {
  return static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, byte_offset)));
}

// Byte offset of code point index `i` (clamped to [0, len]).
size_t byte_offset(const std::string& s, int64_t i) {
  if (i <= 0) return 0;
  size_t pos = 0;
  int64_t n = 0;
  while (pos < s.size() && n < i) {
    unicode::decode_utf8(s, pos);
    ++n;
  }
  return pos;
}

// Python's start/end normalization for find/count/startswith.
std::pair<size_t, size_t> byte_window(const std::string& s, const CallArgs& args, size_t first) {
  const int64_t len = static_cast<int64_t>(utf8::length(s));
  int64_t start = 0;
  int64_t end = len;
  auto norm = [len](int64_t i) {
    if (i < 0) i += len;
    return std::clamp<int64_t>(i, 0, len);
  };
  if (args.positional.size() > first && !args.positional[first].is_none()) {
    start = norm(need_int(args.positional[first], "slice"));
  }
  if (args.positional.size() > first + 1 && !args.positional[first + 1].is_none()) {
    end = norm(need_int(args.positional[first + 1], "slice"));
  }
  if (end < start) end = start;
  return {byte_offset(s, start), byte_offset(s, end)};
}

bool is_line_break(char32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E || cp == 0x85 ||
         cp == 0x2028 || cp == 0x2029;
}

std::vector<Value> split_whitespace(const std::string& s, int64_t maxsplit) {
  std::vector<Value> out;
  const auto cps = utf8::to_code_points(s);
  size_t i = 0;
  const size_t n = cps.size();
  while (i < n) {
    while (i < n && unicode::py_is_space(cps[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.push_back(Value::string(utf8::from_code_points(cps, i, n)));
      return out;
    }
    size_t j = i;
    while (j < n && !unicode::py_is_space(cps[j])) ++j;
    out.push_back(Value::string(utf8::from_code_points(cps, i, j)));
    i = j;
  }
  return out;
}

std::vector<Value> rsplit_whitespace(const std::string& s, int64_t maxsplit) {
  std::vector<Value> out;
  const auto cps = utf8::to_code_points(s);
  size_t i = cps.size();
  while (i > 0) {
    while (i > 0 && unicode::py_is_space(cps[i - 1])) --i;
    if (i == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.push_back(Value::string(utf8::from_code_points(cps, 0, i)));
      break;
    }
    size_t j = i;
    while (j > 0 && !unicode::py_is_space(cps[j - 1])) --j;
    out.push_back(Value::string(utf8::from_code_points(cps, j, i)));
    i = j;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<Value> split_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
  if (sep.empty()) fail("empty separator");
  std::vector<Value> out;
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    const size_t hit = s.find(sep, start);
    if (hit == std::string::npos) break;
    out.push_back(Value::string(s.substr(start, hit - start)));
    start = hit + sep.size();
  }
  out.push_back(Value::string(s.substr(start)));
  return out;
}

std::vector<Value> rsplit_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
  if (sep.empty()) fail("empty separator");
  std::vector<Value> out;
  size_t end = s.size();
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    if (end < sep.size()) break;
    const size_t hit = s.rfind(sep, end - sep.size());
    if (hit == std::string::npos) break;
    out.push_back(Value::string(s.substr(hit + sep.size(), end - hit - sep.size())));
    end = hit;
  }
  out.push_back(Value::string(s.substr(0, end)));
  std::reverse(out.begin(), out.end());
  return out;
}

std::string pad(const std::string& s, int64_t width, const std::string& fill, int where /*-1 left,0 center,1 right*/) {
  const int64_t len = static_cast<int64_t>(utf8::length(s));
  if (width <= len) return s;
  const int64_t marg = width - len;
  int64_t left = 0;
  if (where == 0) {
    left = marg / 2 + (marg & width & 1);
  } else if (where == 1) {
    left = marg;
  }
  const int64_t right = marg - left;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < right; ++i) out += fill;
  return out;
}

Value string_method(Interpreter& interp, const std::string& s, const std::string& name, const CallArgs& args) {
  const size_t max = interp.options().limits.max_output_bytes;
  if (name == "startswith" || name == "endswith") {
    const bool starts = name == "startswith";
    if (args.positional.empty()) fail(name + "() takes at least 1 argument (0 given)");
    const auto [b, e] = byte_window(s, args, 1);
    const std::string_view window = std::string_view(s).substr(b, e - b);
    auto test = [&](const Value& p) {
      if (!p.is_string()) {
        if (p.is_undefined()) fail_undefined(p);
        fail("tuple for " + name + " must only contain str, not " + type_name(p));
      }
      const std::string& affix = p.as_string();
      if (affix.size() > window.size()) return false;
      return starts ? window.substr(0, affix.size()) == affix : window.substr(window.size() - affix.size()) == affix;
    };
    const Value& arg = args.positional[0];
    if (arg.is_tuple()) {
      for (const auto& p : arg.as_sequence().items) {
        if (test(p)) return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (!arg.is_string()) {
      fail(name + " first arg must be str or a tuple of str, not " + type_name(arg));
    }
    return Value::boolean(test(arg));
  }
  if (name == "split" || name == "rsplit") {
    ArgBinder b(name, {"sep", "maxsplit"}, args);
    const int64_t maxsplit = b.has(1) ? need_int(b.get(1), name.c_str()) : -1;
    const Value sep = b.get_or(0, Value::none());
    const bool right = name == "rsplit";
    if (sep.is_none()) {
      return Value::sequence(right ? rsplit_whitespace(s, maxsplit) : split_whitespace(s, maxsplit));
    }
    const std::string& sep_str = need_str(sep, "", "str or None");
    return Value::sequence(right ? rsplit_sep(s, sep_str, maxsplit) : split_sep(s, sep_str, maxsplit));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    ArgBinder b(name, {"chars"}, args);
    const Value chars = b.get_or(0, Value::none());
    if (!chars.is_none() && !chars.is_string()) {
      if (chars.is_undefined()) fail_undefined(chars);
      fail(name + " arg must be None or str");
    }
    const std::string* set = chars.is_none() ? nullptr : &chars.as_string();
    return Value::string(utf8::strip(s, set, name != "rstrip", name != "lstrip"));
  }
  if (!args.positional.empty() || !args.keyword.empty()) {
    // Methods below that take no arguments.
    static constexpr std::array<std::string_view, 16> kNoArgs = {
        "upper",   "lower",   "title",   "capitalize", "swapcase",  "casefold",  "isdigit",     "isalpha",
        "isalnum", "isspace", "islower", "isupper",    "isnumeric", "isdecimal", "isprintable", "istitle"};
    if (in(kNoArgs, name))
      fail("str." + name + "() takes no arguments (" + std::to_string(args.positional.size()) + " given)");
  }
  if (name == "upper") return Value::string(utf8::upper(s));
  if (name == "lower") return Value::string(utf8::lower(s));
  if (name == "casefold") return Value::string(utf8::casefold(s));
  if (name == "title") return Value::string(utf8::python_title(s));
  if (name == "capitalize") return Value::string(utf8::capitalize(s));
  if (name == "swapcase") return Value::string(utf8::swapcase(s));
  if (name == "isdigit") return Value::boolean(utf8::all_code_points(s, unicode::py_is_digit));
  if (name == "isnumeric") return Value::boolean(utf8::all_code_points(s, unicode::py_is_numeric));
  if (name == "isdecimal") return Value::boolean(utf8::all_code_points(s, unicode::py_is_decimal));
  if (name == "isalpha") return Value::boolean(utf8::all_code_points(s, unicode::py_is_alpha));
  if (name == "isalnum") return Value::boolean(utf8::all_code_points(s, unicode::py_is_alnum));
  if (name == "isspace") return Value::boolean(utf8::all_code_points(s, unicode::py_is_space));
  if (name == "islower") return Value::boolean(utf8::is_lower(s));
  if (name == "isupper") return Value::boolean(utf8::is_upper(s));
  if (name == "istitle") return Value::boolean(utf8::is_title(s));
  if (name == "isprintable") {
    return Value::boolean(s.empty() || utf8::all_code_points(s, unicode::py_is_printable));
  }
  if (name == "replace") {
    ArgBinder b(name, {"old", "new", "count"}, args);
    if (!b.has(0) || !b.has(1))
      fail("replace expected at least 2 arguments, got " + std::to_string(args.positional.size()));
    const std::string& from = need_str(b.get(0), "replace() argument 1 ");
    const std::string& to = need_str(b.get(1), "replace() argument 2 ");
    int64_t count = b.has(2) ? need_int(b.get(2), "replace") : -1;
    std::string out;
    if (from.empty()) {
      size_t pos = 0;
      while (pos <= s.size()) {
        if (count >= 0 && count-- == 0) {
          out.append(s, pos, std::string::npos);
          break;
        }
        out += to;
        if (pos == s.size()) break;
        const size_t start = pos;
        unicode::decode_utf8(s, pos);
        out.append(s, start, pos - start);
        interp.check_size(out.size());
      }
      return Value::string(std::move(out));
    }
    size_t start = 0;
    while (count != 0) {
      const size_t hit = s.find(from, start);
      if (hit == std::string::npos) break;
      out.append(s, start, hit - start);
      out += to;
      interp.check_size(out.size());
      start = hit + from.size();
      if (count > 0) --count;
    }
    out.append(s, start, std::string::npos);
    interp.check_size(out.size());
    return Value::string(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    if (args.positional.empty()) fail(name + "() takes at least 1 argument (0 given)");
    const std::string& sub = need_str(args.positional[0], "");
    const auto [b, e] = byte_window(s, args, 1);
    const std::string_view window = std::string_view(s).substr(b, e - b);
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8::length(window)) + 1);
      int64_t n = 0;
      size_t pos = 0;
      while ((pos = window.find(sub, pos)) != std::string_view::npos) {
        ++n;
        pos += sub.size();
      }
      return Value::integer(n);
    }
    const bool reverse = name[0] == 'r';
    const size_t hit = reverse ? window.rfind(sub) : window.find(sub);
    if (hit == std::string_view::npos) {
      if (name == "index" || name == "rindex") fail("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(cp_index(s, b + hit));
  }
  if (name == "join") {
    ArgBinder b(name, {"iterable"}, args);
    if (!b.has(0)) fail("str.join() takes exactly one argument (0 given)");
    std::string out;
    size_t i = 0;
    for (const auto& item : iterate(b.get(0))) {
      if (!item.is_string()) {
        fail("sequence item " + std::to_string(i) + ": expected str instance, " + type_name(item) + " found");
      }
      if (i > 0) out += s;
      out += item.as_string();
      interp.check_size(out.size());
      ++i;
    }
    return Value::string(std::move(out));
  }
  if (name == "format") {
    std::string out = format_method(s, args.positional, args.keyword);
    interp.check_size(out.size());
    return Value::string(std::move(out));
  }
  if (name == "splitlines") {
    ArgBinder b(name, {"keepends"}, args);
    const bool keep = b.has(0) && truthy(b.get(0));
    std::vector<Value> out;
    const auto cps = utf8::to_code_points(s);
    size_t start = 0;
    size_t i = 0;
    while (i < cps.size()) {
      if (is_line_break(cps[i])) {
        size_t eol = i + 1;
        if (cps[i] == '\r' && eol < cps.size() && cps[eol] == '\n') ++eol;
        out.push_back(Value::string(utf8::from_code_points(cps, start, keep ? eol : i)));
        start = eol;
        i = eol;
      } else {
        ++i;
      }
    }
    if (start < cps.size()) out.push_back(Value::string(utf8::from_code_points(cps, start, cps.size())));
    return Value::sequence(std::move(out));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    ArgBinder b(name, {"affix"}, args);
    if (!b.has(0)) fail(name + "() takes exactly one argument (0 given)");
    const std::string& affix = need_str(b.get(0), name + "() argument ");
    if (name == "removeprefix") {
      if (s.compare(0, affix.size(), affix) == 0 && affix.size() <= s.size())
        return Value::string(s.substr(affix.size()));
    } else if (affix.size() <= s.size() && s.compare(s.size() - affix.size(), affix.size(), affix) == 0) {
      return Value::string(s.substr(0, s.size() - affix.size()));
    }
    return Value::string(s);
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    ArgBinder b(name, {"width", "fillchar"}, args);
    if (!b.has(0)) fail(name + "() takes at least 1 argument (0 given)");
    const int64_t width = need_int(b.get(0), name.c_str());
    const std::string fill =
        b.has(1) ? need_str(b.get(1), "The fill character ", "a unicode character") : std::string(" ");
    if (utf8::length(fill) != 1) fail("The fill character must be exactly one character long");
    interp.check_size(static_cast<size_t>(std::max<int64_t>(width, 0)) * fill.size());
    return Value::string(pad(s, width, fill, name == "center" ? 0 : name == "ljust" ? -1 : 1));
  }
  if (name == "zfill") {
    ArgBinder b(name, {"width"}, args);
    if (!b.has(0)) fail("zfill() takes exactly one argument (0 given)");
    const int64_t width = need_int(b.get(0), "zfill");
    interp.check_size(static_cast<size_t>(std::max<int64_t>(width, 0)));
    const int64_t len = static_cast<int64_t>(utf8::length(s));
    if (width <= len) return Value::string(s);
    std::string sign;
    std::string rest = s;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
      sign = s.substr(0, 1);
      rest = s.substr(1);
    }
    return Value::string(sign + std::string(static_cast<size_t>(width - len), '0') + rest);
  }
  if (name == "partition" || name == "rpartition") {
    ArgBinder b(name, {"sep"}, args);
    if (!b.has(0)) fail(name + "() takes exactly one argument (0 given)");
    const std::string& sep = need_str(b.get(0), "");
    if (sep.empty()) fail("empty separator");
    const size_t hit = name == "partition" ? s.find(sep) : s.rfind(sep);
    std::vector<Value> parts;
    if (hit == std::string::npos) {
      if (name == "partition") {
        parts = {Value::string(s), Value::string(""), Value::string("")};
      } else {
        parts = {Value::string(""), Value::string(""), Value::string(s)};
      }
    } else {
      parts = {Value::string(s.substr(0, hit)), Value::string(sep), Value::string(s.substr(hit + sep.size()))};
    }
    return Value::sequence(std::move(parts), SequenceStyle::kTuple);
  }
  (void)max;
  fail("'str object' has no attribute " + repr_string(name));
}

Value dict_method(const Value& self, const std::string& name, const CallArgs& args) {
  const Dict& d = self.as_dict();
  if (name == "get") {
    ArgBinder b("get", {"key", "default"}, args);
    if (!b.has(0)) fail("get expected at least 1 argument, got 0");
    if (const Value* v = d.find(b.get(0))) return *v;
    return b.get_or(1, Value::none());
  }
  if (!args.positional.empty() || !args.keyword.empty()) {
    fail("dict." + name + "() takes no arguments (" + std::to_string(args.positional.size()) + " given)");
  }
  if (name == "copy") return self;
  std::vector<Value> out;
  out.reserve(d.items.size());
  for (const auto& [k, v] : d.items) {
    if (name == "items") {
      out.push_back(Value::sequence({k, v}, SequenceStyle::kTuple));
    } else if (name == "keys") {
      out.push_back(k);
    } else {
      out.push_back(v);
    }
  }
  const SequenceStyle style = name == "items"  ? SequenceStyle::kDictItems
                              : name == "keys" ? SequenceStyle::kDictKeys
                                               : SequenceStyle::kDictValues;
  return Value::sequence(std::move(out), style);
}

Value sequence_method(const Value& self, const std::string& name, const CallArgs& args) {
  const auto& items = self.as_sequence().items;
  if (name == "copy") return Value::sequence(items);
  if (args.positional.empty()) fail(name + "() takes at least 1 argument (0 given)");
  const Value& x = args.positional[0];
  if (name == "count") {
    int64_t n = 0;
    for (const auto& item : items) n += equals(item, x) ? 1 : 0;
    return Value::integer(n);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (equals(items[i], x)) return Value::integer(static_cast<int64_t>(i));
  }
  fail(to_repr(x) + " is not in " + type_name(self));
}

}  // namespace

MethodKind method_kind(const Value& self, const std::string& name) {
  switch (self.kind()) {
    case Value::Kind::kString: return in(kStrMethods, name) ? MethodKind::kSafe : MethodKind::kNone;
    case Value::Kind::kDict:
      if (in(kDictMethods, name)) return MethodKind::kSafe;
      return in(kDictUnsafe, name) ? MethodKind::kUnsafe : MethodKind::kNone;
    case Value::Kind::kSequence: {
      const SequenceStyle style = self.as_sequence().style;
      if (style != SequenceStyle::kList && style != SequenceStyle::kTuple) return MethodKind::kNone;
      if (in(kSeqMethods, name)) return MethodKind::kSafe;
      if (style == SequenceStyle::kList) {
        if (name == "copy") return MethodKind::kSafe;
        if (in(kListUnsafe, name)) return MethodKind::kUnsafe;
      }
      return MethodKind::kNone;
    }
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kGenerator:
    case Value::Kind::kNamespace:
    case Value::Kind::kCallable:
    case Value::Kind::kLoop: return MethodKind::kNone;
  }
  return MethodKind::kNone;
}

Value call_method(Interpreter& interp, const Value& self, const std::string& name, CallArgs args) {
  switch (self.kind()) {
    case Value::Kind::kString: return string_method(interp, self.as_string(), name, args);
    case Value::Kind::kDict: return dict_method(self, name, args);
    case Value::Kind::kSequence: return sequence_method(self, name, args);
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
  fail(repr_string(object_type_repr(self)) + " has no attribute " + repr_string(name));
}

}  // namespace tandem::text::jinja
