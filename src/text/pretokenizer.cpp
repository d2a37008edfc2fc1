#include "text/pretokenizer.h"

#include <array>
#include <string>

#include "text/unicode.h"

namespace tandem::text {
namespace {

// Class bits of one code point.
enum : uint8_t {
  kL = 1,         // \p{L}
  kN = 2,         // \p{N}
  kWs = 4,        // \s
  kP = 8,         // \p{P}
  kS = 16,        // \p{S}
  kM = 32,        // \p{M}
  kNewline = 64,  // \r or \n
};

constexpr std::array<uint8_t, 30> kCategoryBits = {
    0,                           // Cn
    kL, kL, kL, kL, kL,          // Lu Ll Lt Lm Lo
    kM, kM, kM,                  // Mn Mc Me
    kN, kN, kN,                  // Nd Nl No
    kP, kP, kP, kP, kP, kP, kP,  // Pc Pd Ps Pe Pi Pf Po
    kS, kS, kS, kS,              // Sm Sc Sk So
    0,  0,  0,                   // Zs Zl Zp (white space comes from the property bit)
    0,  0,  0,  0,               // Cc Cf Cs Co
};

uint8_t class_of_slow(char32_t cp) {
  const uint8_t props = unicode::raw_props(cp);
  uint8_t bits = kCategoryBits[props & 0x1F];
  if (props & 0x20) bits |= kWs;
  if (cp == '\r' || cp == '\n') bits |= kNewline;
  return bits;
}

struct AsciiClasses {
  std::array<uint8_t, 128> bits{};
  AsciiClasses() {
    for (char32_t c = 0; c < 128; ++c) bits[c] = class_of_slow(c);
  }
};

const AsciiClasses& ascii_classes() {
  static const AsciiClasses kTable;
  return kTable;
}

inline uint8_t class_of(char32_t cp) { return cp < 128 ? ascii_classes().bits[cp] : class_of_slow(cp); }

// A code point and its class at a byte position of one piece.
struct Cursor {
  std::string_view s;

  bool at_end(size_t pos) const { return pos >= s.size(); }
  // Decodes at pos (pos < size): returns the code point, sets *len.
  char32_t at(size_t pos, size_t* len) const {
    char32_t cp;
    *len = static_cast<size_t>(unicode::decode_valid(s, pos, &cp));
    return cp;
  }
  // End of the run of code points whose class has any of `mask` bits.
  size_t run_end(size_t pos, uint8_t mask) const {
    while (pos < s.size()) {
      size_t len;
      const char32_t cp = at(pos, &len);
      if (!(class_of(cp) & mask)) break;
      pos += len;
    }
    return pos;
  }
  // End of the run of code points whose class has none of `mask` bits.
  size_t run_end_not(size_t pos, uint8_t mask) const {
    while (pos < s.size()) {
      size_t len;
      const char32_t cp = at(pos, &len);
      if (class_of(cp) & mask) break;
      pos += len;
    }
    return pos;
  }
  // Lower-cased ASCII letter at pos (with U+017F LONG S folding to 's', as
  // Unicode case folding does), or 0.
  char folded_letter(size_t pos, size_t* len) const {
    if (pos >= s.size()) return 0;
    const char32_t cp = at(pos, len);
    if (cp == 0x17F) return 's';
    if (cp >= 'A' && cp <= 'Z') return static_cast<char>(cp - 'A' + 'a');
    if (cp >= 'a' && cp <= 'z') return static_cast<char>(cp);
    return 0;
  }
};

// 's|'t|'re|'ve|'m|'ll|'d at pos (s[pos] == '\''), case-(in)sensitive.
size_t contraction(const Cursor& c, size_t pos, bool ignore_case) {
  size_t l1 = 0, l2 = 0;
  char a, b;
  if (ignore_case) {
    a = c.folded_letter(pos + 1, &l1);
    b = a ? c.folded_letter(pos + 1 + l1, &l2) : 0;
  } else {
    a = pos + 1 < c.s.size() ? c.s[pos + 1] : 0;
    b = pos + 2 < c.s.size() ? c.s[pos + 2] : 0;
    l1 = l2 = 1;
  }
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 1 + l1;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 1 + l1 + l2;
  return 0;
}

// The whitespace alternatives at pos (a white-space code point):
// with_newline_rule: \s*[\r\n]+ first; then \s+(?!\S) | \s+.
size_t whitespace_match(const Cursor& c, size_t pos, bool with_newline_rule) {
  size_t p = pos;
  size_t last_start = pos;
  size_t newline_end = 0;
  int count = 0;
  while (p < c.s.size()) {
    size_t len;
    const char32_t cp = c.at(p, &len);
    const uint8_t cls = class_of(cp);
    if (!(cls & kWs)) break;
    last_start = p;
    p += len;
    ++count;
    if (cls & kNewline) newline_end = p;
  }
  if (with_newline_rule && newline_end != 0) return newline_end - pos;
  if (p == c.s.size() || count == 1) return p - pos;
  return last_start - pos;  // \s+(?!\S): leave the last one for the next piece
}

size_t match_gpt2(const Cursor& c, size_t pos) {
  size_t n;
  const char32_t ch = c.at(pos, &n);
  if (ch == '\'') {
    if (size_t m = contraction(c, pos, false)) return m;
  }
  size_t q = pos;
  char32_t d = ch;
  if (ch == ' ' && pos + 1 < c.s.size()) {
    q = pos + 1;
    size_t dl;
    d = c.at(q, &dl);
  }
  const uint8_t dc = class_of(d);
  if (!(ch == ' ' && q == pos)) {
    if (dc & kL) return c.run_end(q, kL) - pos;
    if (dc & kN) return c.run_end(q, kN) - pos;
    if (!(dc & (kWs | kL | kN))) return c.run_end_not(q, kWs | kL | kN) - pos;
  }
  return whitespace_match(c, pos, false);
}

size_t match_llama3(const Cursor& c, size_t pos, size_t max_digits) {
  size_t n;
  const char32_t ch = c.at(pos, &n);
  const uint8_t cls = class_of(ch);
  if (ch == '\'') {
    if (size_t m = contraction(c, pos, true)) return m;
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (cls & kL) return c.run_end(pos, kL) - pos;
  if (!(cls & (kNewline | kN)) && pos + n < c.s.size()) {
    size_t l2;
    if (class_of(c.at(pos + n, &l2)) & kL) return c.run_end(pos + n, kL) - pos;
  }
  // \p{N}{1,max_digits}
  if (cls & kN) {
    size_t p = pos;
    for (size_t k = 0; k < max_digits && p < c.s.size(); ++k) {
      size_t len;
      if (!(class_of(c.at(p, &len)) & kN)) break;
      p += len;
    }
    return p - pos;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t q = pos;
  uint8_t dc = cls;
  if (ch == ' ' && pos + 1 < c.s.size()) {
    q = pos + 1;
    size_t dl;
    dc = class_of(c.at(q, &dl));
  }
  if (!(dc & (kWs | kL | kN))) {
    const size_t r = c.run_end_not(q, kWs | kL | kN);
    return c.run_end(r, kNewline) - pos;
  }
  if (!(cls & kWs)) return 0;  // unreachable: every code point is L, N, \s or other
  return whitespace_match(c, pos, true);
}

bool is_ascii_punct(char32_t ch) {
  return (ch >= '!' && ch <= '/') || (ch >= ':' && ch <= '@') || (ch >= '[' && ch <= '`') || (ch >= '{' && ch <= '~');
}

bool is_ascii_letter(char32_t ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

size_t match_deepseek_v3(const Cursor& c, size_t pos) {
  size_t n;
  const char32_t ch = c.at(pos, &n);
  const uint8_t cls = class_of(ch);
  // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+
  if (is_ascii_punct(ch) && pos + 1 < c.s.size() && is_ascii_letter(static_cast<unsigned char>(c.s[pos + 1]))) {
    size_t p = pos + 1;
    while (p < c.s.size() && is_ascii_letter(static_cast<unsigned char>(c.s[p]))) ++p;
    return p - pos;
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
  if (cls & (kL | kM)) return c.run_end(pos, kL | kM) - pos;
  if (!(cls & (kNewline | kP | kS)) && pos + n < c.s.size()) {
    size_t l2;
    if (class_of(c.at(pos + n, &l2)) & (kL | kM)) return c.run_end(pos + n, kL | kM) - pos;
  }
  //  ?[\p{P}\p{S}]+[\r\n]*
  size_t q = pos;
  uint8_t dc = cls;
  if (ch == ' ' && pos + 1 < c.s.size()) {
    q = pos + 1;
    size_t dl;
    dc = class_of(c.at(q, &dl));
  }
  if (dc & (kP | kS)) {
    const size_t r = c.run_end(q, kP | kS);
    return c.run_end(r, kNewline) - pos;
  }
  if (!(cls & kWs)) return 0;  // digits, controls, format chars...: not matched
  return whitespace_match(c, pos, true);
}

bool is_cjk_run_char(char32_t ch) {
  return (ch >= 0x4E00 && ch <= 0x9FA5) || (ch >= 0x3040 && ch <= 0x309F) || (ch >= 0x30A0 && ch <= 0x30FF);
}

size_t match_cjk_run(const Cursor& c, size_t pos) {
  size_t p = pos;
  while (p < c.s.size()) {
    size_t len;
    if (!is_cjk_run_char(c.at(p, &len))) break;
    p += len;
  }
  return p - pos;
}

size_t match_digits(const Cursor& c, size_t pos, size_t max_count) {
  size_t p = pos;
  for (size_t k = 0; k < max_count && p < c.s.size(); ++k) {
    size_t len;
    if (!(class_of(c.at(p, &len)) & kN)) break;
    p += len;
  }
  return p - pos;
}

// Literal CR/LF characters in a pattern are the same as the \r \n escapes.
std::string canonical_regex(std::string_view regex) {
  std::string out;
  for (char ch : regex) {
    if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

const char* split_pattern_name(SplitPattern pattern) {
  switch (pattern) {
    case SplitPattern::kGpt2: return "gpt2";
    case SplitPattern::kLlama3: return "llama3";
    case SplitPattern::kQwen2: return "qwen2";
    case SplitPattern::kDeepseekV3: return "deepseek-v3";
    case SplitPattern::kCjkRun: return "cjk-run";
    case SplitPattern::kDigits1To3: return "digits-1-3";
    case SplitPattern::kDigitEach: return "digit-each";
    case SplitPattern::kDigitRuns: return "digit-runs";
  }
  return "?";
}

std::optional<SplitPattern> split_pattern_from_regex(std::string_view regex) {
  struct Known {
    const char* regex;
    SplitPattern pattern;
  };
  static const Known kKnown[] = {
      {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", SplitPattern::kGpt2},
      {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))", SplitPattern::kGpt2},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       SplitPattern::kLlama3},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       SplitPattern::kQwen2},
      {R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       SplitPattern::kDeepseekV3},
      {"[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+", SplitPattern::kCjkRun},
      {R"([\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+)", SplitPattern::kCjkRun},
      {R"(\p{N}{1,3})", SplitPattern::kDigits1To3},
      {R"(\p{N})", SplitPattern::kDigitEach},
      {R"(\p{N}+)", SplitPattern::kDigitRuns},
  };
  const std::string canon = canonical_regex(regex);
  for (const Known& k : kKnown) {
    if (canon == k.regex) return k.pattern;
  }
  return std::nullopt;
}

size_t match_length(SplitPattern pattern, std::string_view text, size_t pos) {
  const Cursor c{text};
  switch (pattern) {
    case SplitPattern::kGpt2: return match_gpt2(c, pos);
    case SplitPattern::kLlama3: return match_llama3(c, pos, 3);
    case SplitPattern::kQwen2: return match_llama3(c, pos, 1);
    case SplitPattern::kDeepseekV3: return match_deepseek_v3(c, pos);
    case SplitPattern::kCjkRun: return match_cjk_run(c, pos);
    case SplitPattern::kDigits1To3: return match_digits(c, pos, 3);
    case SplitPattern::kDigitEach: return match_digits(c, pos, 1);
    case SplitPattern::kDigitRuns: return match_digits(c, pos, static_cast<size_t>(-1));
  }
  return 0;
}

}  // namespace tandem::text
