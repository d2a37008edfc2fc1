#include "text/vocabulary.h"

namespace tandem::text {

size_t StringHash::operator()(std::string_view s) const noexcept {
  // FNV-1a, 64-bit: short keys, good enough spread, no allocation.
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

bool Vocabulary::set(int32_t id, std::string text, TokenKind kind) {
  if (id < 0) return false;
  const auto [it, inserted] = ids_.emplace(text, id);
  if (!inserted && it->second != id) return false;
  const auto idx = static_cast<size_t>(id);
  if (idx >= texts_.size()) {
    texts_.resize(idx + 1);
    kinds_.resize(idx + 1, TokenKind::kUnused);
    present_.resize(idx + 1, false);
  }
  if (present_[idx] && texts_[idx] != text) ids_.erase(texts_[idx]);
  texts_[idx] = std::move(text);
  kinds_[idx] = kind;
  present_[idx] = true;
  return true;
}

}  // namespace tandem::text
