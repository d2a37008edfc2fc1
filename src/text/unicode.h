// text::unicode: the Unicode facts the tokenizers and the Jinja interpreter
// need, over UTF-8 text: general categories (for the pre-tokenizer scanners'
// \p{L}, \p{N}, ...), White_Space (regex \s), UTF-8 decoding/encoding, the
// handling of invalid UTF-8, NFC normalization, and Python's str character
// model (str.isalpha/isdigit/... predicates, full case mappings). Tables are
// generated from Python's unicodedata and str methods by
// scripts/gen_unicode_tables.py (text/unicode_tables.cpp, text/unicode_python_tables.cpp).
//
// Invalid UTF-8: to_valid_utf8() replaces every maximal invalid subsequence
// with U+FFFD (the Unicode "maximal subpart" practice, the same as Rust's
// String::from_utf8_lossy and Python's bytes.decode("utf-8", "replace")).
// Encoders run it on their input first, so the scanners only see valid UTF-8.
//
// Threading: all functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::text::unicode {

// Order matches scripts/gen_unicode_tables.py (CATEGORIES).
enum class GeneralCategory : uint8_t {
  kCn,
  kLu,
  kLl,
  kLt,
  kLm,
  kLo,
  kMn,
  kMc,
  kMe,
  kNd,
  kNl,
  kNo,
  kPc,
  kPd,
  kPs,
  kPe,
  kPi,
  kPf,
  kPo,
  kSm,
  kSc,
  kSk,
  kSo,
  kZs,
  kZl,
  kZp,
  kCc,
  kCf,
  kCs,
  kCo,
};

constexpr char32_t kReplacementChar = 0xFFFD;
constexpr char32_t kMaxCodePoint = 0x10FFFF;

// Properties of one code point (0 for values beyond U+10FFFF).
uint8_t raw_props(char32_t cp);
GeneralCategory general_category(char32_t cp);
bool is_letter(char32_t cp);       // \p{L}
bool is_number(char32_t cp);       // \p{N}
bool is_mark(char32_t cp);         // \p{M}
bool is_punctuation(char32_t cp);  // \p{P}
bool is_symbol(char32_t cp);       // \p{S}
bool is_white_space(char32_t cp);  // \s (White_Space property)
uint8_t combining_class(char32_t cp);

// Decodes the code point starting at s[pos] of VALID UTF-8 (pos < s.size()).
// Returns its length in bytes (1..4) and stores it in *cp.
inline int decode_valid(std::string_view s, size_t pos, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  if (b0 < 0xE0) {
    *cp = (char32_t(b0 & 0x1F) << 6) | (static_cast<unsigned char>(s[pos + 1]) & 0x3F);
    return 2;
  }
  if (b0 < 0xF0) {
    *cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(static_cast<unsigned char>(s[pos + 1]) & 0x3F) << 6) |
          (static_cast<unsigned char>(s[pos + 2]) & 0x3F);
    return 3;
  }
  *cp = (char32_t(b0 & 0x07) << 18) | (char32_t(static_cast<unsigned char>(s[pos + 1]) & 0x3F) << 12) |
        (char32_t(static_cast<unsigned char>(s[pos + 2]) & 0x3F) << 6) |
        (static_cast<unsigned char>(s[pos + 3]) & 0x3F);
  return 4;
}

// Length of the valid UTF-8 sequence at s[pos], or 0 if the bytes there are
// not a complete, shortest-form, non-surrogate sequence.
int valid_sequence_length(std::string_view s, size_t pos);

// Decodes the code point at s[pos] (pos < s.size()) of any bytes and moves
// pos past it. An invalid sequence reads as U+FFFD and pos moves past its
// maximal subpart, exactly as to_valid_utf8() replaces it.
char32_t decode_utf8(std::string_view s, size_t& pos);

// Appends the UTF-8 encoding of cp (U+FFFD for surrogates / out of range).
void append_utf8(std::string& out, char32_t cp);

bool is_valid_utf8(std::string_view s);
// s with each maximal invalid subsequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view s);

// True when s (valid UTF-8) might not be in NFC; false guarantees nfc(s) == s.
bool may_need_nfc(std::string_view s);
// Canonical composition (NFC) of valid UTF-8 text.
std::string nfc(std::string_view s);

// Python's str character model (CPython's unicodectype.c over the same
// Unicode version). One code point each; string-level rules (final sigma,
// "at least one cased character") are the caller's.
bool py_is_alpha(char32_t cp);        // str.isalpha: Lu, Ll, Lt, Lm, Lo
bool py_is_decimal(char32_t cp);      // str.isdecimal (Nd)
bool py_is_digit(char32_t cp);        // str.isdigit (decimal + digits like U+00B2)
bool py_is_numeric(char32_t cp);      // str.isnumeric (digit + fractions, CJK numerals, ...)
bool py_is_alnum(char32_t cp);        // str.isalnum; regex \w is this or '_'
bool py_is_space(char32_t cp);        // str.isspace (White_Space plus U+001C..U+001F)
bool py_is_printable(char32_t cp);    // str.isprintable (repr() escapes the others)
bool is_lowercase(char32_t cp);       // Lowercase property
bool is_uppercase(char32_t cp);       // Uppercase property
bool is_titlecase(char32_t cp);       // general category Lt
bool is_cased(char32_t cp);           // Cased property
bool is_case_ignorable(char32_t cp);  // Case_Ignorable property

// A full case mapping (SpecialCasing's unconditional entries): 1..3 code points.
struct CaseMapping {
  char32_t cps[3];
  uint8_t size;
};
// Python's ch.upper(), ch.lower() (U+03A3 -> U+03C3: final sigma is the
// caller's), ch.title() and ch.casefold() of one code point.
CaseMapping to_upper_full(char32_t cp);
CaseMapping to_lower_full(char32_t cp);
CaseMapping to_title_full(char32_t cp);
CaseMapping case_fold_full(char32_t cp);

// The Unicode version of the tables ("14.0.0").
const char* tables_version();

}  // namespace tandem::text::unicode
