// text::Vocabulary: a model's token table: id -> text and kind, text -> id.
// Token texts are stored as the vocabulary spells them (byte-level BPE:
// "Ġhello"; SentencePiece: "▁hello", "<0x0A>").
//
// Threading: built once by a loader, then immutable; const methods are
// thread-safe. Failure: add() refuses duplicate texts by returning false.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer.h"

namespace tandem::text {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept;
};

class Vocabulary {
 public:
  // Sets token `id` (ids may be added in any order; gaps stay empty kUnused
  // entries). Returns false when `text` already names another id.
  bool set(int32_t id, std::string text, TokenKind kind);

  int32_t size() const { return static_cast<int32_t>(texts_.size()); }
  bool contains(int32_t id) const { return id >= 0 && id < size() && present_[static_cast<size_t>(id)]; }
  const std::string& text(int32_t id) const { return texts_[static_cast<size_t>(id)]; }
  TokenKind kind(int32_t id) const { return kinds_[static_cast<size_t>(id)]; }
  void set_kind(int32_t id, TokenKind kind) { kinds_[static_cast<size_t>(id)] = kind; }
  // Id of a token text, or -1.
  int32_t find(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  std::vector<std::string> texts_;
  std::vector<TokenKind> kinds_;
  std::vector<bool> present_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
};

}  // namespace tandem::text

namespace tandem::text {

// What encode(..., add_special = true) adds around the text, and the model's
// BOS/EOS ids (-1 when none).
struct SpecialTokens {
  int32_t bos = -1;
  int32_t eos = -1;
  std::vector<int32_t> prefix;  // e.g. {bos} when the model adds BOS
  std::vector<int32_t> suffix;  // e.g. {eos} for add_eos_token models
};

}  // namespace tandem::text
