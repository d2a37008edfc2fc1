// Small scanners the grammar front ends share (regex and GBNF parsers).
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tandem::grammar {

// The code point of the UTF-8 sequence at s[pos], with pos moved past it;
// nullopt (pos unchanged) when the bytes there are not a whole sequence.
inline std::optional<uint32_t> next_code_point(std::string_view s, size_t& pos) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || pos + len > s.size()) return std::nullopt;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (int i = 1; i < len; ++i) {
    const unsigned char d = static_cast<unsigned char>(s[pos + i]);
    if ((d & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (d & 0x3F);
  }
  pos += len;
  return cp;
}

// The value of `digits` hex digits at s[pos], with pos moved past them;
// nullopt when fewer are there (pos then at the first non-digit).
inline std::optional<uint32_t> read_hex(std::string_view s, size_t& pos, int digits) {
  uint32_t v = 0;
  for (int i = 0; i < digits; ++i) {
    if (pos >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[pos]))) return std::nullopt;
    const char c = s[pos++];
    v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

}  // namespace tandem::grammar
