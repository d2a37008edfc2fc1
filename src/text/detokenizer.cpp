#include "text/detokenizer.h"

namespace tandem::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 prefix of a sequence starting at s[0], following
// the well-formed byte sequences table of Unicode 15 (Table 3-7). Returns:
//   > 0 : a complete valid sequence of that many bytes
//   0   : s[0] starts an invalid subpart of length `*bad` (>= 1)
//   < 0 : a valid but incomplete prefix of -result bytes (input ended)
int classify(std::string_view s, size_t* bad) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds for the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 == 0xE0) {
    len = 3;
    lo = 0xA0;
  } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    len = 3;
  } else if (b0 == 0xED) {
    len = 3;
    hi = 0x9F;
  } else if (b0 == 0xF0) {
    len = 4;
    lo = 0x90;
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    len = 4;
  } else if (b0 == 0xF4) {
    len = 4;
    hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  for (int i = 1; i < len; ++i) {
    if (static_cast<size_t>(i) >= s.size()) return -i;
    const auto b = static_cast<unsigned char>(s[i]);
    const unsigned char l = i == 1 ? lo : 0x80;
    const unsigned char h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) {
      *bad = static_cast<size_t>(i);  // the maximal subpart ends before this byte
      return 0;
    }
  }
  return len;
}

}  // namespace

size_t append_utf8_lossy(std::string_view bytes, bool keep_incomplete_tail, std::string& out) {
  size_t i = 0;
  size_t run = 0;  // start of a run of plain valid bytes not yet copied
  while (i < bytes.size()) {
    // Fast path for ASCII.
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 0;
    const int r = classify(bytes.substr(i), &bad);
    if (r > 0) {
      i += static_cast<size_t>(r);
      continue;
    }
    out.append(bytes.data() + run, i - run);
    if (r < 0) {
      if (keep_incomplete_tail) return i;
      out.append(kReplacement);
      return bytes.size();
    }
    out.append(kReplacement);
    i += bad;
    run = i;
  }
  out.append(bytes.data() + run, i - run);
  return bytes.size();
}

Detokenizer::Detokenizer(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

size_t Detokenizer::push(int32_t id, std::string& out) {
  const size_t before = out.size();
  if (tokenizer_.kind(id) == TokenKind::kControl) {
    if (skip_special_) return 0;
    // A control token is a whole piece of text; it never completes a character.
    if (!held_.empty()) {
      append_utf8_lossy(held_, false, out);
      held_.clear();
    }
    out += tokenizer_.token_text(id);
    return out.size() - before;
  }
  const std::string bytes = tokenizer_.token_bytes(id);
  if (held_.empty()) {
    const size_t used = append_utf8_lossy(bytes, true, out);
    held_.assign(bytes, used, std::string::npos);
  } else {
    held_ += bytes;
    const size_t used = append_utf8_lossy(held_, true, out);
    held_.erase(0, used);
  }
  return out.size() - before;
}

size_t Detokenizer::finish(std::string& out) {
  const size_t before = out.size();
  if (!held_.empty()) {
    append_utf8_lossy(held_, false, out);
    held_.clear();
  }
  return out.size() - before;
}

}  // namespace tandem::text
