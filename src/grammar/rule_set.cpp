#include "grammar/rule_set.h"

namespace tandem::grammar {

Expr Expr::byte_set(const ByteSet& s) {
  Expr e;
  e.kind = Kind::kBytes;
  e.bytes = s;
  return e;
}

Expr Expr::byte(uint8_t b) {
  ByteSet s;
  s.set(b);
  return byte_set(s);
}

Expr Expr::range(uint8_t lo, uint8_t hi) {
  ByteSet s;
  for (int b = lo; b <= hi; ++b) s.set(b);
  return byte_set(s);
}

Expr Expr::literal(std::string_view s) {
  Expr e;
  for (char c : s) e.items.push_back(byte(static_cast<uint8_t>(c)));
  return e;
}

Expr Expr::seq(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.items = std::move(items);
  return e;
}

Expr Expr::alt(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.kind = Kind::kAlt;
  e.items = std::move(items);
  return e;
}

Expr Expr::repeat(Expr item, int min, int max) {
  Expr e;
  e.kind = Kind::kRepeat;
  e.items.push_back(std::move(item));
  e.min = min;
  e.max = max;
  return e;
}

Expr Expr::ref(int32_t rule) {
  Expr e;
  e.kind = Kind::kRef;
  e.rule = rule;
  return e;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

int utf8_len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// Code points in [lo, hi] whose encodings have the same length, as byte-set sequences: split the range
// until every byte position is a full range [x, y] independent of the others.
void same_length(uint32_t lo, uint32_t hi, std::vector<Expr>& out) {
  int n = utf8_len(lo);
  if (n == 1) {
    out.push_back(Expr::range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi)));
    return;
  }
  for (int i = 1; i < n; ++i) {
    uint32_t m = (1u << (6 * i)) - 1;  // the low 6*i bits: continuation bytes
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        same_length(lo, lo | m, out);
        same_length((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        same_length(lo, (hi & ~m) - 1, out);
        same_length(hi & ~m, hi, out);
        return;
      }
    }
  }
  std::string a, b;
  append_utf8(a, lo);
  append_utf8(b, hi);
  std::vector<Expr> parts;
  for (size_t i = 0; i < a.size(); ++i) {
    parts.push_back(Expr::range(static_cast<uint8_t>(a[i]), static_cast<uint8_t>(b[i])));
  }
  out.push_back(Expr::seq(std::move(parts)));
}

}  // namespace

Expr utf8_range(uint32_t lo, uint32_t hi) {
  std::vector<Expr> alts;
  const uint32_t bounds[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
  auto add = [&](uint32_t a, uint32_t b) {
    for (uint32_t bound : bounds) {
      if (a > b) return;
      if (a <= bound) {
        uint32_t e = b < bound ? b : bound;
        same_length(a, e, alts);
        a = e + 1;
      }
    }
  };
  if (hi > 0x10FFFF) hi = 0x10FFFF;
  if (lo > hi) return Expr::nothing();
  if (lo < 0xD800 && hi > 0xDFFF) {  // no surrogates
    add(lo, 0xD7FF);
    add(0xE000, hi);
  } else if (hi < 0xD800 || lo > 0xDFFF) {
    add(lo, hi);
  } else if (lo < 0xD800) {
    add(lo, 0xD7FF);
  } else if (hi > 0xDFFF) {
    add(0xE000, hi);
  }
  if (alts.empty()) return Expr::nothing();
  return Expr::alt(std::move(alts));
}

int32_t RuleSet::add(std::string name) {
  names_.push_back(std::move(name));
  bodies_.emplace_back();
  return static_cast<int32_t>(names_.size() - 1);
}

int32_t RuleSet::add_defined(std::string name, Expr body) {
  int32_t id = add(std::move(name));
  define(id, std::move(body));
  return id;
}

int32_t RuleSet::find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return static_cast<int32_t>(i);
  }
  return -1;
}

}  // namespace tandem::grammar
