// The GBNF dialect (llama.cpp's grammar syntax; README.md): rules `name ::= alternatives`, string
// literals, character classes, `.`, rule references, groups, `|`, `* + ?` and `{m}` `{m,}` `{m,n}`,
// `#` comments. A rule ends where the next `name ::=` begins. The root rule is `root`.
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "grammar/front_ends.h"
#include "grammar/scan.h"

namespace tandem::grammar {
namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;
constexpr int kMaxRepeat = 10000;

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view t) : t_(t) {}

  Result<RuleSet> parse() {
    skip_space();
    while (ok() && !at_end()) {
      size_t at = pos_;
      std::string name = read_name();
      if (name.empty()) {
        fail("expected a rule name");
        break;
      }
      skip_space();
      if (t_.substr(pos_, 3) != "::=") {
        fail("expected '::=' after rule name '" + name + "'");
        break;
      }
      pos_ += 3;
      int32_t id = rule_id(name, at);
      if (defined_.count(id) != 0) {
        pos_ = at;
        fail("rule '" + name + "' is defined twice");
        break;
      }
      defined_.insert({id, at});
      Expr body = alternatives(0);
      if (!ok()) break;
      rules_.define(id, std::move(body));
      skip_space();
    }
    if (!ok()) return status_;
    for (auto& [id, at] : first_use_) {
      if (!rules_.defined(id)) {
        pos_ = at;
        fail("rule '" + rules_.name(id) + "' is not defined");
        return status_;
      }
    }
    int32_t root = rules_.find("root");
    if (root < 0 || !rules_.defined(root)) {
      return Status(ErrorKind::kInvalidRequest, "grammar: no rule named 'root'");
    }
    rules_.root = root;
    return std::move(rules_);
  }

 private:
  bool ok() const { return status_.ok(); }
  bool at_end() const { return pos_ >= t_.size(); }

  void fail(const std::string& what) {
    if (!ok()) return;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < t_.size(); ++i) {
      if (t_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    status_ = Status(ErrorKind::kInvalidRequest,
                     "grammar: " + what + " at line " + std::to_string(line) + ":" + std::to_string(col));
  }

  void skip_space() {
    while (!at_end()) {
      char c = t_[pos_];
      if (c == '#') {
        while (!at_end() && t_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  static bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

  std::string read_name() {
    size_t s = pos_;
    while (!at_end() && name_char(t_[pos_])) ++pos_;
    return std::string(t_.substr(s, pos_ - s));
  }

  int32_t rule_id(const std::string& name, size_t at) {
    int32_t id = rules_.find(name);
    if (id < 0) {
      id = rules_.add(name);
      first_use_[id] = at;
    }
    return id;
  }

  // True when the text at pos_ is `name ::=` (the next rule begins).
  bool next_rule_starts() const {
    size_t q = pos_;
    while (q < t_.size() && name_char(t_[q])) ++q;
    if (q == pos_) return false;
    while (q < t_.size() && (t_[q] == ' ' || t_[q] == '\t' || t_[q] == '\n' || t_[q] == '\r')) ++q;
    return t_.substr(q, 3) == "::=";
  }

  Expr alternatives(int depth) {
    if (depth > 200) {
      fail("groups nested too deeply");
      return {};
    }
    std::vector<Expr> alts;
    alts.push_back(sequence(depth));
    while (ok()) {
      skip_space();
      if (at_end() || t_[pos_] != '|') break;
      ++pos_;
      alts.push_back(sequence(depth));
    }
    return Expr::alt(std::move(alts));
  }

  Expr sequence(int depth) {
    std::vector<Expr> items;
    while (ok()) {
      skip_space();
      if (at_end()) break;
      char c = t_[pos_];
      if (c == '|' || c == ')') break;
      if (name_char(c) && next_rule_starts()) break;
      Expr e = term(depth);
      if (!ok()) return {};
      items.push_back(postfix(std::move(e)));
    }
    return Expr::seq(std::move(items));
  }

  Expr postfix(Expr e) {
    if (at_end()) return e;
    char c = t_[pos_];
    if (c == '*') {
      ++pos_;
      return Expr::star(std::move(e));
    }
    if (c == '+') {
      ++pos_;
      return Expr::plus(std::move(e));
    }
    if (c == '?') {
      ++pos_;
      return Expr::optional(std::move(e));
    }
    if (c == '{') {
      ++pos_;
      skip_space();
      int m = 0, n = -1;
      bool has_m = number(m);
      skip_space();
      if (!at_end() && t_[pos_] == '}') {
        if (!has_m) {
          fail("expected a number in '{}'");
          return {};
        }
        n = m;
      } else if (!at_end() && t_[pos_] == ',') {
        ++pos_;
        skip_space();
        int v;
        if (number(v)) n = v;
        skip_space();
        if (at_end() || t_[pos_] != '}') {
          fail("expected '}'");
          return {};
        }
      } else {
        fail("expected ',' or '}'");
        return {};
      }
      ++pos_;
      if (m > kMaxRepeat || n > kMaxRepeat) {
        fail("repeat count above " + std::to_string(kMaxRepeat));
        return {};
      }
      if (n >= 0 && n < m) {
        fail("min repeat greater than max repeat");
        return {};
      }
      return Expr::repeat(std::move(e), m, n);
    }
    return e;
  }

  bool number(int& v) {
    size_t s = pos_;
    long x = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) {
      x = std::min<long>(x * 10 + (t_[pos_] - '0'), kMaxRepeat + 1);
      ++pos_;
    }
    v = static_cast<int>(x);
    return pos_ > s;
  }

  Expr term(int depth) {
    char c = t_[pos_];
    if (c == '"') return string_literal();
    if (c == '[') return char_class();
    if (c == '.') {
      ++pos_;
      return utf8_range(0, 0x10FFFF);
    }
    if (c == '(') {
      ++pos_;
      Expr e = alternatives(depth + 1);
      if (!ok()) return {};
      skip_space();
      if (at_end() || t_[pos_] != ')') {
        fail("missing ')'");
        return {};
      }
      ++pos_;
      return e;
    }
    if (name_char(c)) {
      size_t at = pos_;
      std::string name = read_name();
      return Expr::ref(rule_id(name, at));
    }
    fail(std::string("unexpected character '") + c + "'");
    return {};
  }

  uint32_t hex(int digits) {
    const std::optional<uint32_t> v = read_hex(t_, pos_, digits);
    if (!v) fail("bad hex escape");
    return v.value_or(0);
  }

  // One code point of a string or class, escapes decoded.
  uint32_t code_point() {
    if (t_[pos_] == '\\') {
      ++pos_;
      if (at_end()) {
        fail("trailing backslash");
        return 0;
      }
      char c = t_[pos_++];
      switch (c) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': return '\\';
        case '"': return '"';
        case '[': return '[';
        case ']': return ']';
        case '-': return '-';
        case '^': return '^';
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': return hex(8);
        default:
          --pos_;
          fail(std::string("unknown escape \\") + c);
          return 0;
      }
    }
    const std::optional<uint32_t> cp = next_code_point(t_, pos_);
    if (!cp) fail("invalid UTF-8");
    return cp.value_or(0);
  }

  Expr string_literal() {
    size_t start = pos_++;
    std::string bytes;
    while (true) {
      if (at_end() || t_[pos_] == '\n') {
        pos_ = start;
        fail("unterminated string");
        return {};
      }
      if (t_[pos_] == '"') {
        ++pos_;
        break;
      }
      uint32_t cp = code_point();
      if (!ok()) return {};
      if (cp > 0x10FFFF) {
        fail("code point out of range");
        return {};
      }
      append_utf8(bytes, cp);
    }
    return Expr::literal(bytes);
  }

  Expr char_class() {
    size_t start = pos_++;
    bool negate = false;
    if (!at_end() && t_[pos_] == '^') {
      negate = true;
      ++pos_;
    }
    Ranges r;
    while (true) {
      if (at_end()) {
        pos_ = start;
        fail("unterminated character class");
        return {};
      }
      if (t_[pos_] == ']') {
        ++pos_;
        break;
      }
      uint32_t lo = code_point();
      if (!ok()) return {};
      uint32_t hi = lo;
      if (pos_ + 1 < t_.size() && t_[pos_] == '-' && t_[pos_ + 1] != ']') {
        ++pos_;
        hi = code_point();
        if (!ok()) return {};
        if (hi < lo) {
          fail("bad character range");
          return {};
        }
      }
      if (hi > 0x10FFFF) {
        fail("code point out of range");
        return {};
      }
      r.emplace_back(lo, hi);
    }
    std::sort(r.begin(), r.end());
    if (negate) {
      Ranges c;
      uint32_t next = 0;
      for (auto& [lo, hi] : r) {
        if (lo > next) c.emplace_back(next, lo - 1);
        next = std::max(next, hi + 1);
      }
      if (next <= 0x10FFFF) c.emplace_back(next, 0x10FFFF);
      r = std::move(c);
    }
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

  std::string_view t_;
  size_t pos_ = 0;
  Status status_;
  RuleSet rules_;
  std::map<int32_t, size_t> first_use_;
  std::map<int32_t, size_t> defined_;
};

}  // namespace

Result<RuleSet> gbnf_rules(std::string_view text) { return GbnfParser(text).parse(); }

}  // namespace tandem::grammar
