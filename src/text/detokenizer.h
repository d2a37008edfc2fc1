// text::Detokenizer: turns a stream of generated token ids into UTF-8 text,
// incrementally, for streaming responses.
//
// Generic over text::Tokenizer: it concatenates each token's raw bytes
// (Tokenizer::token_bytes) and emits only complete UTF-8. A multi-byte
// character split across tokens is held back until its last byte arrives;
// bytes that can never form valid UTF-8 become U+FFFD, one per maximal
// invalid subpart (the Unicode "substitution of maximal subparts" practice,
// which HF tokenizers' from_utf8_lossy and Python's errors="replace" follow),
// so the concatenation of every push() plus finish() equals
// Tokenizer::decode(ids) for byte-level vocabularies.
//
// Control tokens (TokenKind::kControl) are dropped when skip_special is set
// (HF skip_special_tokens); otherwise they contribute their vocabulary text.
//
// Threading: one instance per sequence, used by one thread at a time. The
// tokenizer must outlive the detokenizer. Never fails: unknown ids contribute
// nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "text/tokenizer.h"

namespace tandem::text {

class Detokenizer {
 public:
  Detokenizer(const Tokenizer& tokenizer, bool skip_special);

  // Appends the token's bytes; appends to `out` the text that became complete
  // (possibly nothing). Returns the number of bytes appended to `out`.
  size_t push(int32_t id, std::string& out);

  // End of the sequence: appends what is still held (an incomplete character
  // becomes U+FFFD). Further pushes start a fresh character.
  size_t finish(std::string& out);

  // Bytes currently held back (an incomplete UTF-8 sequence, at most 3).
  size_t held_bytes() const { return held_.size(); }

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string held_;  // raw bytes not yet emitted
};

// Appends `bytes` to `out` as valid UTF-8: complete sequences are copied,
// each maximal invalid subpart becomes U+FFFD. When `keep_incomplete_tail`
// is set, a trailing sequence that is a valid but incomplete prefix is not
// consumed. Returns the number of input bytes consumed.
size_t append_utf8_lossy(std::string_view bytes, bool keep_incomplete_tail, std::string& out);

}  // namespace tandem::text
