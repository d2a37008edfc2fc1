// text::ByteLevel: GPT-2's reversible byte <-> character map. Byte-level BPE
// vocabularies spell every byte as one printable code point: bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to themselves, the other 68 bytes
// to U+0100.. in order (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
//
// Threading: the table is immutable after construction; byte_level() returns
// a process-wide instance that any thread may read.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::text {

class ByteLevel {
 public:
  ByteLevel();

  // The character spelling byte b.
  char32_t char_of(uint8_t b) const { return byte_to_char_[b]; }
  // UTF-8 of char_of(b) (1 or 2 bytes).
  std::string_view utf8_of(uint8_t b) const { return std::string_view(byte_utf8_[b].data(), byte_utf8_len_[b]); }
  // The byte a character spells, or -1 when the character is not one of the 256.
  int byte_of(char32_t c) const { return c < kCharRange ? char_to_byte_[c] : -1; }

  // Byte-level spelling of raw bytes ("a b" -> "aĠb").
  std::string encode(std::string_view bytes) const;
  // The bytes spelled by `text`, or false when a character of `text` is not a
  // byte-level character (or `text` is not valid UTF-8); `out` is appended to.
  bool decode(std::string_view text, std::string& out) const;

 private:
  static constexpr char32_t kCharRange = 0x144;
  std::array<char32_t, 256> byte_to_char_{};
  std::array<std::array<char, 2>, 256> byte_utf8_{};
  std::array<uint8_t, 256> byte_utf8_len_{};
  std::array<int16_t, kCharRange> char_to_byte_{};
};

const ByteLevel& byte_level();

}  // namespace tandem::text
