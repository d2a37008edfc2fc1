// The regex subset (README.md): literals, escapes, classes, `.`, groups, alternation, quantifiers.
// Semantics are Python's re.fullmatch with re.ASCII for \d \w \s; `.` is any code point but "\n".
#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "grammar/front_ends.h"
#include "grammar/scan.h"

namespace tandem::grammar {
namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxRepeat = 10000;

Ranges normalize(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (auto& [lo, hi] : r) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

Ranges complement(const Ranges& in) {
  Ranges r = normalize(in), out;
  uint32_t next = 0;
  for (auto& [lo, hi] : r) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.emplace_back(next, kMaxCodePoint);
  return out;
}

Expr ranges_expr(const Ranges& in) {
  Ranges r = normalize(in);
  ByteSet ascii;
  std::vector<Expr> alts;
  for (auto [lo, hi] : r) {
    for (; lo <= hi && lo < 0x80; ++lo) ascii.set(lo);
    if (lo <= hi) alts.push_back(utf8_range(lo, hi));
  }
  if (ascii.any()) alts.insert(alts.begin(), Expr::byte_set(ascii));
  if (alts.empty()) return Expr::nothing();
  return Expr::alt(std::move(alts));
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'}, {' ', ' '}};

class RegexParser {
 public:
  explicit RegexParser(std::string_view p) : p_(p) {}

  Result<Expr> parse() {
    if (!p_.empty() && p_[0] == '^') ++pos_;
    Expr e = alternation(0);
    if (!ok()) return status_;
    if (pos_ < p_.size()) {
      fail(p_[pos_] == ')' ? "unbalanced ')'" : "unexpected character");
      return status_;
    }
    return e;
  }

 private:
  bool ok() const { return status_.ok(); }
  void fail(const std::string& what) {
    if (ok()) {
      status_ = Status(ErrorKind::kInvalidRequest, "regex: " + what + " at offset " + std::to_string(pos_));
    }
  }
  bool at_end() const { return pos_ >= p_.size(); }

  Expr alternation(int depth) {
    if (depth > 200) {
      fail("groups nested too deeply");
      return {};
    }
    std::vector<Expr> alts;
    alts.push_back(concat(depth));
    while (ok() && !at_end() && p_[pos_] == '|') {
      ++pos_;
      alts.push_back(concat(depth));
    }
    return Expr::alt(std::move(alts));
  }

  Expr concat(int depth) {
    std::vector<Expr> items;
    while (ok() && !at_end() && p_[pos_] != '|' && p_[pos_] != ')') {
      if (p_[pos_] == '$' && pos_ + 1 == p_.size()) {  // end anchor: implicit
        ++pos_;
        break;
      }
      Expr a = atom(depth);
      if (!ok()) return {};
      a = quantifiers(std::move(a));
      items.push_back(std::move(a));
    }
    return Expr::seq(std::move(items));
  }

  Expr quantifiers(Expr a) {
    bool quantified = false;
    while (ok() && !at_end()) {
      char c = p_[pos_];
      int lo, hi;
      if (c == '*') {
        lo = 0, hi = -1, ++pos_;
      } else if (c == '+') {
        lo = 1, hi = -1, ++pos_;
      } else if (c == '?') {
        lo = 0, hi = 1, ++pos_;
      } else if (c == '{' && counted(lo, hi)) {
      } else {
        break;
      }
      if (!ok()) return {};
      if (quantified) {
        fail("multiple repeat");
        return {};
      }
      quantified = true;
      a = Expr::repeat(std::move(a), lo, hi);
      if (!at_end() && p_[pos_] == '?') ++pos_;  // lazy: same language
      if (!at_end() && p_[pos_] == '+') {
        fail("possessive quantifiers are not supported");
        return {};
      }
    }
    return a;
  }

  // {m}, {m,}, {m,n}, {,n}; false (nothing consumed) when the brace is a literal, as in Python.
  bool counted(int& lo, int& hi) {
    size_t q = pos_ + 1;
    auto number = [&](int& v) {
      size_t s = q;
      long x = 0;
      while (q < p_.size() && p_[q] >= '0' && p_[q] <= '9') {
        x = x * 10 + (p_[q] - '0');
        if (x > kMaxRepeat) x = kMaxRepeat + 1;
        ++q;
      }
      v = static_cast<int>(x);
      return q > s;
    };
    int m = 0, n = -1;
    bool has_m = number(m);
    if (q < p_.size() && p_[q] == '}') {
      if (!has_m) return false;
      n = m;
    } else if (q < p_.size() && p_[q] == ',') {
      ++q;
      int v;
      if (number(v)) n = v;
      if (q >= p_.size() || p_[q] != '}') return false;
      if (!has_m) m = 0;
    } else {
      return false;
    }
    pos_ = q + 1;
    if (m > kMaxRepeat || n > kMaxRepeat) {
      fail("repeat count above " + std::to_string(kMaxRepeat));
    } else if (n >= 0 && n < m) {
      fail("min repeat greater than max repeat");
    }
    lo = m;
    hi = n;
    return true;
  }

  uint32_t code_point() {
    const std::optional<uint32_t> cp = next_code_point(p_, pos_);
    if (!cp) fail("invalid UTF-8");
    return cp.value_or(0);
  }

  uint32_t hex(int digits) {
    const std::optional<uint32_t> v = read_hex(p_, pos_, digits);
    if (!v) fail("bad hex escape");
    return v.value_or(0);
  }

  // After a backslash: a class (\d \w \s and negations) into `cls` and true, or a single code point.
  bool escape(Ranges& cls, uint32_t& cp, bool in_class) {
    if (at_end()) {
      fail("trailing backslash");
      return false;
    }
    char c = p_[pos_++];
    switch (c) {
      case 'd': cls = kDigit; return true;
      case 'w': cls = kWord; return true;
      case 's': cls = kSpace; return true;
      case 'D': cls = complement(kDigit); return true;
      case 'W': cls = complement(kWord); return true;
      case 'S': cls = complement(kSpace); return true;
      case 'n': cp = '\n'; return false;
      case 't': cp = '\t'; return false;
      case 'r': cp = '\r'; return false;
      case 'f': cp = '\f'; return false;
      case 'v': cp = '\v'; return false;
      case 'a': cp = 7; return false;
      case '0': cp = 0; return false;
      case 'x': cp = hex(2); return false;
      case 'u': cp = hex(4); return false;
      case 'U':
        cp = hex(8);
        if (cp > kMaxCodePoint) fail("code point out of range");
        return false;
      case 'b':
        if (in_class) {
          cp = 8;
          return false;
        }
        break;
      default:
        if (!std::isalnum(static_cast<unsigned char>(c))) {
          --pos_;
          cp = code_point();
          return false;
        }
    }
    pos_ -= 2;
    fail(std::string("unsupported escape \\") + c);
    return false;
  }

  Expr atom(int depth) {
    char c = p_[pos_];
    switch (c) {
      case '(': {
        ++pos_;
        if (!at_end() && p_[pos_] == '?') {
          if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
            pos_ += 2;
          } else if (pos_ + 1 < p_.size() && p_[pos_ + 1] == 'P' && pos_ + 2 < p_.size() && p_[pos_ + 2] == '<') {
            size_t close = p_.find('>', pos_);
            if (close == std::string_view::npos) {
              fail("unterminated group name");
              return {};
            }
            pos_ = close + 1;
          } else {
            fail("unsupported group construct (lookaround, flags or backreference)");
            return {};
          }
        }
        Expr e = alternation(depth + 1);
        if (!ok()) return {};
        if (at_end() || p_[pos_] != ')') {
          fail("missing ')'");
          return {};
        }
        ++pos_;
        return e;
      }
      case '[': return char_class();
      case '.': ++pos_; return ranges_expr(complement({{'\n', '\n'}}));
      case '\\': {
        ++pos_;
        Ranges cls;
        uint32_t cp = 0;
        if (escape(cls, cp, false)) return ranges_expr(cls);
        if (!ok()) return {};
        return ranges_expr({{cp, cp}});
      }
      case '*':
      case '+':
      case '?': fail("nothing to repeat"); return {};
      case '^': fail("'^' is only supported at the start of the pattern"); return {};
      case '$': fail("'$' is only supported at the end of the pattern"); return {};
      default: {
        uint32_t cp = code_point();
        if (!ok()) return {};
        std::string s;
        append_utf8(s, cp);
        return Expr::literal(s);
      }
    }
  }

  Expr char_class() {
    size_t start = pos_++;
    bool negate = false;
    if (!at_end() && p_[pos_] == '^') {
      negate = true;
      ++pos_;
    }
    Ranges r;
    bool first = true;
    while (true) {
      if (at_end()) {
        pos_ = start;
        fail("unterminated character class");
        return {};
      }
      if (p_[pos_] == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      uint32_t lo;
      if (p_[pos_] == '\\') {
        ++pos_;
        Ranges cls;
        if (escape(cls, lo, true)) {
          r.insert(r.end(), cls.begin(), cls.end());
          continue;
        }
        if (!ok()) return {};
      } else {
        if (p_[pos_] == '[' && pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
          fail("POSIX classes are not supported");
          return {};
        }
        lo = code_point();
        if (!ok()) return {};
      }
      uint32_t hi = lo;
      if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        if (p_[pos_] == '\\') {
          ++pos_;
          Ranges cls;
          if (escape(cls, hi, true)) {
            fail("bad character range");
            return {};
          }
          if (!ok()) return {};
        } else {
          hi = code_point();
          if (!ok()) return {};
        }
        if (hi < lo) {
          fail("bad character range");
          return {};
        }
      }
      r.emplace_back(lo, hi);
    }
    return ranges_expr(negate ? complement(r) : r);
  }

  std::string_view p_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace

Result<Expr> parse_regex(std::string_view pattern) { return RegexParser(pattern).parse(); }

Result<RuleSet> regex_rules(std::string_view pattern) {
  Result<Expr> e = parse_regex(pattern);
  if (!e.ok()) return e.status();
  RuleSet rules;
  rules.root = rules.add_defined("root", std::move(e).value());
  return rules;
}

}  // namespace tandem::grammar
