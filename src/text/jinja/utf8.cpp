#include "text/jinja/utf8.h"

#include "text/unicode.h"

namespace tandem::text::jinja::utf8 {

char32_t decode(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  int extra = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    extra = 1;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    ++pos;
    return 0xFFFD;
  }
  if (pos + extra >= s.size()) {
    ++pos;
    return 0xFFFD;
  }
  for (int i = 1; i <= extra; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++pos;
    return 0xFFFD;
  }
  pos += extra + 1;
  return cp;
}

void append(std::string& out, char32_t cp) { unicode::append_utf8(out, cp); }

std::vector<char32_t> to_code_points(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) out.push_back(decode(s, pos));
  return out;
}

std::string from_code_points(const std::vector<char32_t>& cps, size_t begin, size_t end) {
  std::string out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) append(out, cps[i]);
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

size_t length(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t pos = 0;
  size_t n = 0;
  while (pos < s.size()) {
    decode(s, pos);
    ++n;
  }
  return n;
}

bool is_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_digit(char32_t cp) {
  return (cp >= '0' && cp <= '9') || (cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x06F0 && cp <= 0x06F9) ||
         (cp >= 0x0966 && cp <= 0x096F) || (cp >= 0xFF10 && cp <= 0xFF19);
}

bool is_cased_upper(char32_t cp) { return to_lower(cp) != cp; }
bool is_cased_lower(char32_t cp) {
  return to_upper(cp) != cp || cp == 0xDF || cp == 0x138 || cp == 0x149;
}

bool is_alpha(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (cp == 0xAA || cp == 0xB5 || cp == 0xBA) return true;
  if (cp >= 0xC0 && cp <= 0x24F) return cp != 0xD7 && cp != 0xF7;
  if (cp >= 0x370 && cp <= 0x3FF) return cp != 0x375 && cp != 0x37E && cp != 0x384 && cp != 0x385 && cp != 0x387;
  if (cp >= 0x400 && cp <= 0x52F) return !(cp >= 0x482 && cp <= 0x489);
  if (cp >= 0x531 && cp <= 0x587) return true;              // Armenian
  if (cp >= 0x5D0 && cp <= 0x5EA) return true;              // Hebrew
  if (cp >= 0x620 && cp <= 0x64A) return true;              // Arabic
  if (cp >= 0x904 && cp <= 0x939) return true;              // Devanagari letters
  if (cp >= 0xE01 && cp <= 0xE30) return true;              // Thai
  if (cp >= 0x1E00 && cp <= 0x1FFF) return true;            // Latin/Greek extended
  if (cp >= 0x3041 && cp <= 0x3096) return true;            // Hiragana
  if (cp >= 0x30A1 && cp <= 0x30FA) return true;            // Katakana
  if (cp >= 0x3400 && cp <= 0x4DBF) return true;            // CJK ext A
  if (cp >= 0x4E00 && cp <= 0x9FFF) return true;            // CJK
  if (cp >= 0xAC00 && cp <= 0xD7A3) return true;            // Hangul
  if ((cp >= 0xFF21 && cp <= 0xFF3A) || (cp >= 0xFF41 && cp <= 0xFF5A)) return true;
  return false;
}

bool is_word(char32_t cp) { return cp == '_' || is_alpha(cp) || is_digit(cp); }

bool is_printable(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp >= 0x80 && cp <= 0xA0) return false;
  if (cp == 0xAD) return false;
  if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F)) return false;
  if ((cp >= 0x205F && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206F)) return false;
  if (cp == 0x3000 || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB)) return false;
  if (cp >= 0xD800 && cp <= 0xF8FF) return false;  // surrogates + private use
  if (cp == 0xFFFE || cp == 0xFFFF || cp >= 0xF0000) return false;
  return true;
}

namespace {
// Pairs where the upper-case letter is even (or odd) and its lower case is +1.
bool in_pair_range_even_upper(char32_t cp) {
  return (cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177) ||
         (cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) || (cp >= 0x4D0 && cp <= 0x52F) ||
         (cp >= 0x1E00 && cp <= 0x1E95) || (cp >= 0x1EA0 && cp <= 0x1EFF);
}
bool in_pair_range_odd_upper(char32_t cp) {
  return (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E) || (cp >= 0x4C1 && cp <= 0x4CE);
}
}  // namespace

char32_t to_upper(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
  if (cp == 0xFF) return 0x178;
  if (cp == 0xB5) return 0x39C;
  if (cp == 0x131) return 'I';
  if (cp == 0x17F) return 'S';
  if (in_pair_range_even_upper(cp)) return (cp % 2 == 1) ? cp - 1 : cp;
  if (in_pair_range_odd_upper(cp)) return (cp % 2 == 0) ? cp - 1 : cp;
  if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2) return cp - 32;
  if (cp == 0x3C2) return 0x3A3;
  if (cp == 0x3AC) return 0x386;
  if (cp >= 0x3AD && cp <= 0x3AF) return cp - 37;
  if (cp == 0x3CC) return 0x38C;
  if (cp == 0x3CD || cp == 0x3CE) return cp - 63;
  if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
  if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
  if (cp >= 0xFF41 && cp <= 0xFF5A) return cp - 32;
  return cp;
}

char32_t to_lower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
  if (cp == 0x178) return 0xFF;
  if (cp == 0x130) return 'i';
  if (in_pair_range_even_upper(cp)) return (cp % 2 == 0) ? cp + 1 : cp;
  if (in_pair_range_odd_upper(cp)) return (cp % 2 == 1) ? cp + 1 : cp;
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;
  if (cp == 0x386) return 0x3AC;
  if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
  if (cp == 0x38C) return 0x3CC;
  if (cp == 0x38E || cp == 0x38F) return cp + 63;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  if (cp >= 0xFF21 && cp <= 0xFF3A) return cp + 32;
  return cp;
}

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = decode(s, pos);
    if (cp == 0xDF) {
      out += "SS";
    } else {
      append(out, to_upper(cp));
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) append(out, to_lower(decode(s, pos)));
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  bool first = true;
  while (pos < s.size()) {
    const char32_t cp = decode(s, pos);
    if (first) {
      if (cp == 0xDF) {
        out += "Ss";
      } else {
        append(out, to_upper(cp));
      }
      first = false;
    } else {
      append(out, to_lower(cp));
    }
  }
  return out;
}

std::string python_title(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  bool previous_cased = false;
  while (pos < s.size()) {
    const char32_t cp = decode(s, pos);
    const bool cased = is_cased_upper(cp) || is_cased_lower(cp);
    if (previous_cased) {
      append(out, to_lower(cp));
    } else if (cp == 0xDF) {
      out += "Ss";
    } else {
      append(out, to_upper(cp));
    }
    previous_cased = cased;
  }
  return out;
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<char32_t> set;
  if (chars != nullptr) set = to_code_points(*chars);
  auto strippable = [&](char32_t cp) {
    if (chars == nullptr) return is_space(cp);
    for (char32_t c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      size_t next = begin;
      const char32_t cp = decode(s, next);
      if (!strippable(cp)) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t probe = start;
      const char32_t cp = decode(s, probe);
      if (probe != end) {
        // A malformed tail: treat the last byte on its own.
        start = end - 1;
        probe = start;
        if (!strippable(decode(s, probe))) break;
        end = start;
        continue;
      }
      if (!strippable(cp)) break;
      end = start;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

}  // namespace tandem::text::jinja::utf8
