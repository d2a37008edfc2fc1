// Generated Unicode property tables (src/text/unicode_tables.cpp: the
// tokenizer's model; src/text/unicode_python_tables.cpp: Python's str model),
// written by scripts/gen_unicode_tables.py from Python's unicodedata. Read them through
// text/unicode.h; this header only declares the data.
//
// Layout: a two-level lookup per property. For code point cp < 0x110000,
//   value = kXStage2[kXStage1[cp >> 8] * 256 + (cp & 0xFF)].
// kProps: bits 0..4 = GeneralCategory (text/unicode.h order), 0x20 =
// White_Space, 0x40 = "may change or combine under NFC". kCcc: canonical
// combining class. Decompositions: full canonical (NFD) expansions, sorted
// by code point (Hangul syllables excluded: algorithmic). Compositions:
// primary composite pairs (first, second) -> composite, sorted by pair.
// kPython: Python's str flags (bits named in text/unicode.cpp, read from
// Python's str methods). Case mappings: Python's full str.upper / lower /
// title / casefold of each code point that any of them changes, sorted by
// code point; a value with bit 31 set is (length << 16 | offset) into
// kSpecialCasingPool (SpecialCasing's multi-code-point results, length <= 3).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::text::unicode_data {

struct DecompositionEntry {
  char32_t cp;
  uint32_t offset;  // into kDecompositionPool
  uint32_t length;
};

struct CaseMappingEntry {
  char32_t cp;
  uint32_t upper;
  uint32_t lower;
  uint32_t title;
  uint32_t fold;
};

struct CompositionEntry {
  char32_t first;
  char32_t second;
  char32_t composite;
};

extern const char kUnicodeVersion[];
extern const uint16_t kPropsStage1[4352];
extern const uint8_t kPropsStage2[];
extern const uint16_t kCccStage1[4352];
extern const uint8_t kCccStage2[];
extern const DecompositionEntry kDecompositions[];
extern const size_t kDecompositionCount;
extern const char32_t kDecompositionPool[];
extern const CompositionEntry kCompositions[];
extern const size_t kCompositionCount;
extern const uint16_t kPythonStage1[4352];
extern const uint8_t kPythonStage2[];
extern const CaseMappingEntry kCaseMappings[];
extern const size_t kCaseMappingCount;
extern const char32_t kSpecialCasingPool[];

}  // namespace tandem::text::unicode_data
