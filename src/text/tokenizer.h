// text::Tokenizer: text <-> token ids for one model's vocabulary.
// Implementations: byte-level BPE (GPT-2 family) and SentencePiece-style BPE,
// built from GGUF metadata or tokenizer.json (text/tokenizer_loader.h).
//
// Threading: const methods are safe to call from any thread concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

enum class TokenKind {
  kNormal,
  kControl,      // special tokens (<|im_end|>, <s>, ...): never produced from plain text
  kUserDefined,  // added tokens that are matched in text (non-special added tokens)
  kByte,         // SentencePiece byte-fallback tokens <0xNN>
  kUnused,
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes text. With `allow_special`, control/special tokens written
  // literally in the text (e.g. "<|im_start|>") become their ids; without it
  // they are tokenized as plain text. `add_special` adds the model's BOS (and
  // EOS where the model's post-processor does) as HF's add_special_tokens.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool allow_special) const = 0;

  // Decodes ids to text; invalid UTF-8 bytes become U+FFFD (as HF does).
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special) const = 0;

  // The raw bytes a token contributes to the output (byte-level BPE: its
  // bytes; SentencePiece: with U+2581 turned into a space and <0xNN> into the
  // byte). Used by the incremental detokenizer. Empty for unknown ids.
  virtual std::string token_bytes(int32_t id) const = 0;

  // True if decoding with leading-space removal applies to the first token
  // (SentencePiece "add dummy prefix" models).
  virtual bool strips_leading_space() const { return false; }

  virtual TokenKind kind(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when none
  virtual int32_t eos_id() const = 0;  // -1 when none
  // Text of a token as it appears in the vocabulary ("<|im_end|>").
  virtual std::string token_text(int32_t id) const = 0;
  // Id of a token text, or -1.
  virtual int32_t token_id(std::string_view token) const = 0;
};

}  // namespace tandem::text
