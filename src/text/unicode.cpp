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
  const auto* it = std::lower_bound(begin, end, cp,
                                    [](const ud::DecompositionEntry& e, char32_t v) { return e.cp < v; });
  return (it != end && it->cp == cp) ? it : nullptr;
}

// Primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kHangulLBase && a < kHangulLBase + kHangulLCount && b >= kHangulVBase &&
      b < kHangulVBase + kHangulVCount) {
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

}  // namespace

uint8_t raw_props(char32_t cp) {
  if (cp > kMaxCodePoint) return 0;
  return ud::kPropsStage2[ud::kPropsStage1[cp >> 8] * 256 + (cp & 0xFF)];
}

GeneralCategory general_category(char32_t cp) {
  return static_cast<GeneralCategory>(raw_props(cp) & kCategoryMask);
}

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
