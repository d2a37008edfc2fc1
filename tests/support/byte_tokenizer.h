// Test fixture: a text::Tokenizer with one token per byte (ids 0..255) plus
// three ChatML control tokens, so the frontend can be tested without a real
// vocabulary. Never served by `tandem serve`.
//
//   id 256 <|endoftext|>  (eos_id)
//   id 257 <|im_start|>
//   id 258 <|im_end|>
//
// No BOS. encode() with allow_special turns the control texts into their ids;
// decode() turns invalid UTF-8 into U+FFFD like HF. Thread-safe (immutable).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace tandem::test {

class ByteTokenizer : public text::Tokenizer {
 public:
  static constexpr int32_t kEndOfText = 256;
  static constexpr int32_t kImStart = 257;
  static constexpr int32_t kImEnd = 258;
  static constexpr int32_t kVocabSize = 259;

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool allow_special) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override;
  std::string token_bytes(int32_t id) const override;
  text::TokenKind kind(int32_t id) const override;
  int32_t vocab_size() const override { return kVocabSize; }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return kEndOfText; }
  std::string token_text(int32_t id) const override;
  int32_t token_id(std::string_view token) const override;
};

}  // namespace tandem::test
