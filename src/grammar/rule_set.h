// The one internal grammar form every front end compiles into: a context-free grammar over bytes.
// A RuleSet is a list of named rules; each rule body is an Expr tree of byte sets, sequences,
// alternatives, bounded or unbounded repetition and references to rules (recursion allowed, left
// recursion refused by the automaton builder). Front ends: json_schema.h, regex_parser.h,
// gbnf_parser.h, and choice/any-JSON in compiler.cpp.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::grammar {

using ByteSet = std::bitset<256>;

struct Expr {
  enum class Kind { kBytes, kSeq, kAlt, kRepeat, kRef };
  Kind kind = Kind::kSeq;   // an empty sequence matches the empty string
  ByteSet bytes;            // kBytes: one byte from this set
  std::vector<Expr> items;  // kSeq, kAlt: the parts; kRepeat: exactly one item
  int min = 0;              // kRepeat: at least min
  int max = -1;             // kRepeat: at most max; -1 = unbounded
  int32_t rule = -1;        // kRef: rule id

  static Expr empty() { return Expr{}; }
  static Expr byte_set(const ByteSet& s);
  static Expr byte(uint8_t b);
  static Expr range(uint8_t lo, uint8_t hi);
  static Expr literal(std::string_view s);
  static Expr seq(std::vector<Expr> items);
  static Expr alt(std::vector<Expr> items);
  static Expr repeat(Expr item, int min, int max);
  static Expr optional(Expr item) { return repeat(std::move(item), 0, 1); }
  static Expr star(Expr item) { return repeat(std::move(item), 0, -1); }
  static Expr plus(Expr item) { return repeat(std::move(item), 1, -1); }
  static Expr ref(int32_t rule);
  // Never matches (an alternation of nothing).
  static Expr nothing() {
    Expr e;
    e.kind = Kind::kAlt;
    return e;
  }
};

// UTF-8 encodings of the code points in [lo, hi] as an Expr of byte-set sequences (surrogates excluded).
Expr utf8_range(uint32_t lo, uint32_t hi);
// Appends the UTF-8 encoding of code point cp to out.
void append_utf8(std::string& out, uint32_t cp);

class RuleSet {
 public:
  // Adds a rule named `name` (not yet defined) and returns its id.
  int32_t add(std::string name);
  void define(int32_t id, Expr body) { bodies_[id] = std::move(body); }
  int32_t add_defined(std::string name, Expr body);
  bool defined(int32_t id) const { return bodies_[id].has_value(); }
  // -1 when no rule has that name.
  int32_t find(std::string_view name) const;
  size_t size() const { return names_.size(); }
  const std::string& name(int32_t id) const { return names_[id]; }
  const Expr& body(int32_t id) const { return *bodies_[id]; }
  int32_t root = 0;

 private:
  std::vector<std::string> names_;
  std::vector<std::optional<Expr>> bodies_;
};

}  // namespace tandem::grammar
