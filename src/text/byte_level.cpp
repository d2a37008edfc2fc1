#include "text/byte_level.h"

#include "text/unicode.h"

namespace tandem::text {

ByteLevel::ByteLevel() {
  char_to_byte_.fill(-1);
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const char32_t c = printable ? static_cast<char32_t>(b) : next++;
    byte_to_char_[b] = c;
    char_to_byte_[c] = static_cast<int16_t>(b);
    std::string u;
    unicode::append_utf8(u, c);
    byte_utf8_len_[b] = static_cast<uint8_t>(u.size());
    for (size_t i = 0; i < u.size(); ++i) byte_utf8_[b][i] = u[i];
  }
}

std::string ByteLevel::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) out.append(utf8_of(static_cast<uint8_t>(ch)));
  return out;
}

bool ByteLevel::decode(std::string_view text, std::string& out) const {
  const size_t start = out.size();
  for (size_t i = 0; i < text.size();) {
    const int len = unicode::valid_sequence_length(text, i);
    if (len == 0) {
      out.resize(start);
      return false;
    }
    char32_t c;
    unicode::decode_valid(text, i, &c);
    const int b = byte_of(c);
    if (b < 0) {
      out.resize(start);
      return false;
    }
    out.push_back(static_cast<char>(b));
    i += static_cast<size_t>(len);
  }
  return true;
}

const ByteLevel& byte_level() {
  static const ByteLevel kInstance;
  return kInstance;
}

}  // namespace tandem::text
