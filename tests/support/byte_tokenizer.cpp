#include "support/byte_tokenizer.h"

#include <array>

#include "text/detokenizer.h"

namespace tandem::test {
namespace {

constexpr std::array<std::string_view, 3> kControl = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

}  // namespace

std::vector<int32_t> ByteTokenizer::encode(std::string_view text, bool /*add_special*/, bool allow_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    if (allow_special && text[i] == '<') {
      for (size_t c = 0; c < kControl.size(); ++c) {
        if (text.substr(i, kControl[c].size()) == kControl[c]) {
          ids.push_back(kEndOfText + static_cast<int32_t>(c));
          i += kControl[c].size();
          matched = true;
          break;
        }
      }
    }
    if (!matched) {
      ids.push_back(static_cast<unsigned char>(text[i]));
      ++i;
    }
  }
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (skip_special && kind(id) == text::TokenKind::kControl) continue;
    bytes += token_bytes(id);
  }
  std::string out;
  text::append_utf8_lossy(bytes, false, out);
  return out;
}

std::string ByteTokenizer::token_bytes(int32_t id) const {
  if (id >= 0 && id < 256) return std::string(1, static_cast<char>(id));
  if (id >= kEndOfText && id < kVocabSize) return std::string(kControl[id - kEndOfText]);
  return {};
}

text::TokenKind ByteTokenizer::kind(int32_t id) const {
  if (id >= kEndOfText && id < kVocabSize) return text::TokenKind::kControl;
  if (id >= 0 && id < 256) return text::TokenKind::kNormal;
  return text::TokenKind::kUnused;
}

std::string ByteTokenizer::token_text(int32_t id) const { return token_bytes(id); }

int32_t ByteTokenizer::token_id(std::string_view token) const {
  for (size_t c = 0; c < kControl.size(); ++c) {
    if (token == kControl[c]) return kEndOfText + static_cast<int32_t>(c);
  }
  if (token.size() == 1) return static_cast<unsigned char>(token[0]);
  return -1;
}

}  // namespace tandem::test
