#include "text/unicode.h"

#include <algorithm>
#include <vector>

#include "text/unicode_tables.h"

namespace tandem::text::unicode {
namespace {

namespace ud = unicode_data;

constexpr uint8_t kCategoryMask = 0x1F;
constexpr uint8_t kWhiteSpaceBit = 0x20;
constexpr uint8_t kNfcMaybeBit = 0x40;

// kPython flag bits (scripts/gen_unicode_tables.py, PY_*).
constexpr uint8_t kPyDecimal = 0x01;
constexpr uint8_t kPyDigit = 0x02;
constexpr uint8_t kPyNumeric = 0x04;
constexpr uint8_t kPySpace = 0x08;
constexpr uint8_t kPyLower = 0x10;
constexpr uint8_t kPyUpper = 0x20;
constexpr uint8_t kPyCased = 0x40;
constexpr uint8_t kPyCaseIgnorable = 0x80;

// A case-mapping value with this bit is (length << 16 | offset) into kSpecialCasingPool.
constexpr uint32_t kCaseMulti = 0x80000000u;

constexpr char32_t kHangulSBase = 0xAC00;
constexpr char32_t kHangulLBase = 0x1100;
constexpr char32_t kHangulVBase = 0x1161;
constexpr char32_t kHangulTBase = 0x11A7;
constexpr int kHangulLCount = 19;
constexpr int kHangulVCount = 21;
constexpr int kHangulTCount = 28;
constexpr int kHangulNCount = kHangulVCount * kHangulTCount;
constexpr int kHangulSCount = kHangulLCount * kHangulNCount;

bool cat_in(char32_t cp, GeneralCategory lo, GeneralCategory hi) {
  const auto c = static_cast<uint8_t>(general_category(cp));
  return c >= static_cast<uint8_t>(lo) && c <= static_cast<uint8_t>(hi);
}

bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

// Number of bytes (>= 1) forming the maximal subpart of an ill-formed
// sequence starting at pos, or the full length when well-formed (the second
// value says which).
std::pair<int, bool> scan_sequence(std::string_view s, size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {1, true};
  int need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 == 0xE0) {
    need = 2, lo = 0xA0;
  } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    need = 2;
  } else if (b0 == 0xED) {
    need = 2, hi = 0x9F;
  } else if (b0 == 0xF0) {
    need = 3, lo = 0x90;
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    need = 3;
  } else if (b0 == 0xF4) {
    need = 3, hi = 0x8F;
  } else {
    return {1, false};
  }
  int len = 1;
  for (int k = 0; k < need; ++k) {
    if (pos + len >= s.size()) return {len, false};
    const auto b = static_cast<unsigned char>(s[pos + len]);
    const bool ok = k == 0 ? (b >= lo && b <= hi) : is_cont(b);
    if (!ok) return {len, false};
    ++len;
  }
  return {len, true};
}

const ud::DecompositionEntry* find_decomposition(char32_t cp) {
  const auto* begin = ud::kDecompositions;
  const auto* end = ud::kDecompositions + ud::kDecompositionCount;
  const auto* it =
      std::lower_bound(begin, end, cp, [](const ud::DecompositionEntry& e, char32_t v) { return e.cp < v; });
  return (it != end && it->cp == cp) ? it : nullptr;
}

// Primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kHangulLBase && a < kHangulLBase + kHangulLCount && b >= kHangulVBase && b < kHangulVBase + kHangulVCount) {
    return kHangulSBase + ((a - kHangulLBase) * kHangulVCount + (b - kHangulVBase)) * kHangulTCount;
  }
  if (a >= kHangulSBase && a < kHangulSBase + kHangulSCount && (a - kHangulSBase) % kHangulTCount == 0 &&
      b > kHangulTBase && b < kHangulTBase + kHangulTCount) {
    return a + (b - kHangulTBase);
  }
  const auto* begin = ud::kCompositions;
  const auto* end = ud::kCompositions + ud::kCompositionCount;
  const auto* it = std::lower_bound(begin, end, std::make_pair(a, b),
                                    [](const ud::CompositionEntry& e, const std::pair<char32_t, char32_t>& v) {
                                      return e.first != v.first ? e.first < v.first : e.second < v.second;
                                    });
  return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kHangulSBase && cp < kHangulSBase + kHangulSCount) {
    const char32_t s = cp - kHangulSBase;
    out.push_back(kHangulLBase + s / kHangulNCount);
    out.push_back(kHangulVBase + (s % kHangulNCount) / kHangulTCount);
    if (s % kHangulTCount != 0) out.push_back(kHangulTBase + s % kHangulTCount);
    return;
  }
  if (const auto* e = find_decomposition(cp)) {
    out.insert(out.end(), ud::kDecompositionPool + e->offset, ud::kDecompositionPool + e->offset + e->length);
    return;
  }
  out.push_back(cp);
}

uint8_t python_flags(char32_t cp) {
  if (cp > kMaxCodePoint) return 0;
  return ud::kPythonStage2[ud::kPythonStage1[cp >> 8] * 256 + (cp & 0xFF)];
}

bool has_python_flag(char32_t cp, uint8_t flag) { return (python_flags(cp) & flag) != 0; }

const ud::CaseMappingEntry* find_case_mapping(char32_t cp) {
  const auto* begin = ud::kCaseMappings;
  const auto* end = ud::kCaseMappings + ud::kCaseMappingCount;
  const auto* it = std::lower_bound(begin, end, cp, [](const ud::CaseMappingEntry& e, char32_t v) { return e.cp < v; });
  return (it != end && it->cp == cp) ? it : nullptr;
}

CaseMapping single(char32_t cp) { return CaseMapping{{cp, 0, 0}, 1}; }

CaseMapping expand(uint32_t value) {
  if ((value & kCaseMulti) == 0) return single(value);
  CaseMapping m{{0, 0, 0}, static_cast<uint8_t>((value >> 16) & 0x3)};
  const uint32_t offset = value & 0xFFFF;
  for (uint8_t i = 0; i < m.size; ++i) m.cps[i] = ud::kSpecialCasingPool[offset + i];
  return m;
}

// One of cp's mappings; ASCII (where every mapping is the plain upper or lower one) skips the table.
CaseMapping case_mapping(char32_t cp, uint32_t ud::CaseMappingEntry::*which, bool ascii_upper) {
  if (cp < 0x80) {
    if (ascii_upper) return single((cp >= 'a' && cp <= 'z') ? cp - 32 : cp);
    return single((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
  }
  const auto* e = find_case_mapping(cp);
  return e != nullptr ? expand(e->*which) : single(cp);
}

}  // namespace

uint8_t raw_props(char32_t cp) {
  if (cp > kMaxCodePoint) return 0;
  return ud::kPropsStage2[ud::kPropsStage1[cp >> 8] * 256 + (cp & 0xFF)];
}

GeneralCategory general_category(char32_t cp) { return static_cast<GeneralCategory>(raw_props(cp) & kCategoryMask); }

bool is_letter(char32_t cp) { return cat_in(cp, GeneralCategory::kLu, GeneralCategory::kLo); }
bool is_number(char32_t cp) { return cat_in(cp, GeneralCategory::kNd, GeneralCategory::kNo); }
bool is_mark(char32_t cp) { return cat_in(cp, GeneralCategory::kMn, GeneralCategory::kMe); }
bool is_punctuation(char32_t cp) { return cat_in(cp, GeneralCategory::kPc, GeneralCategory::kPo); }
bool is_symbol(char32_t cp) { return cat_in(cp, GeneralCategory::kSm, GeneralCategory::kSo); }
bool is_white_space(char32_t cp) { return (raw_props(cp) & kWhiteSpaceBit) != 0; }

uint8_t combining_class(char32_t cp) {
  if (cp > kMaxCodePoint) return 0;
  return ud::kCccStage2[ud::kCccStage1[cp >> 8] * 256 + (cp & 0xFF)];
}

bool py_is_alpha(char32_t cp) { return is_letter(cp); }
bool py_is_decimal(char32_t cp) { return has_python_flag(cp, kPyDecimal); }
bool py_is_digit(char32_t cp) { return has_python_flag(cp, kPyDigit); }
bool py_is_numeric(char32_t cp) { return has_python_flag(cp, kPyNumeric); }
bool py_is_alnum(char32_t cp) {
  return is_letter(cp) || (python_flags(cp) & (kPyDecimal | kPyDigit | kPyNumeric)) != 0;
}
bool py_is_space(char32_t cp) { return has_python_flag(cp, kPySpace); }

bool py_is_printable(char32_t cp) {
  // Python escapes "Other" (Cc Cf Cs Co Cn) and "Separator" (Zl Zp Zs) characters, except ' '.
  constexpr auto bit = [](GeneralCategory c) { return uint32_t{1} << static_cast<uint8_t>(c); };
  constexpr uint32_t kUnprintable = bit(GeneralCategory::kCc) | bit(GeneralCategory::kCf) | bit(GeneralCategory::kCs) |
                                    bit(GeneralCategory::kCo) | bit(GeneralCategory::kCn) | bit(GeneralCategory::kZl) |
                                    bit(GeneralCategory::kZp) | bit(GeneralCategory::kZs);
  return cp == ' ' || (kUnprintable & bit(general_category(cp))) == 0;
}

bool is_lowercase(char32_t cp) { return has_python_flag(cp, kPyLower); }
bool is_uppercase(char32_t cp) { return has_python_flag(cp, kPyUpper); }
bool is_titlecase(char32_t cp) { return general_category(cp) == GeneralCategory::kLt; }
bool is_cased(char32_t cp) { return has_python_flag(cp, kPyCased); }
bool is_case_ignorable(char32_t cp) { return has_python_flag(cp, kPyCaseIgnorable); }

CaseMapping to_upper_full(char32_t cp) { return case_mapping(cp, &ud::CaseMappingEntry::upper, true); }
CaseMapping to_lower_full(char32_t cp) { return case_mapping(cp, &ud::CaseMappingEntry::lower, false); }
CaseMapping to_title_full(char32_t cp) { return case_mapping(cp, &ud::CaseMappingEntry::title, true); }
CaseMapping case_fold_full(char32_t cp) { return case_mapping(cp, &ud::CaseMappingEntry::fold, false); }

char32_t decode_utf8(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  const auto [len, ok] = scan_sequence(s, pos);
  char32_t cp = kReplacementChar;
  if (ok) decode_valid(s, pos, &cp);
  pos += static_cast<size_t>(len);
  return cp;
}

int valid_sequence_length(std::string_view s, size_t pos) {
  const auto [len, ok] = scan_sequence(s, pos);
  return ok ? len : 0;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementChar;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const auto [len, ok] = scan_sequence(s, i);
    if (!ok) return false;
    i += len;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto [len, ok] = scan_sequence(s, i);
    if (ok) {
      out.append(s.substr(i, len));
    } else {
      append_utf8(out, kReplacementChar);
    }
    i += len;
  }
  return out;
}

bool may_need_nfc(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0xCC) {  // below U+0300 nothing changes under NFC
      i += b < 0x80 ? 1 : 2;
      continue;
    }
    char32_t cp;
    i += decode_valid(s, i, &cp);
    if (raw_props(cp) & kNfcMaybeBit) return true;
  }
  return false;
}

std::string nfc(std::string_view s) {
  if (!may_need_nfc(s)) return std::string(s);
  std::vector<char32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    i += decode_valid(s, i, &cp);
    decompose(cp, cps);
  }
  // Canonical ordering: stable sort of each run of non-starters by class.
  for (size_t i = 0; i < cps.size();) {
    if (combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + static_cast<std::ptrdiff_t>(i), cps.begin() + static_cast<std::ptrdiff_t>(j),
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  // Canonical composition.
  std::vector<char32_t> out;
  out.reserve(cps.size());
  ptrdiff_t starter = -1;
  int last_class = -1;  // class of the last char kept after the starter; -1: none
  for (char32_t cp : cps) {
    const int cls = combining_class(cp);
    if (starter >= 0 && (last_class == -1 || (last_class != 0 && last_class < cls))) {
      if (const char32_t c = compose_pair(out[static_cast<size_t>(starter)], cp); c != 0) {
        out[static_cast<size_t>(starter)] = c;
        continue;
      }
    }
    if (cls == 0) {
      starter = static_cast<ptrdiff_t>(out.size());
      last_class = -1;
    } else {
      last_class = cls;
    }
    out.push_back(cp);
  }
  std::string result;
  result.reserve(s.size());
  for (char32_t cp : out) append_utf8(result, cp);
  return result;
}

const char* tables_version() { return ud::kUnicodeVersion; }

}  // namespace tandem::text::unicode
