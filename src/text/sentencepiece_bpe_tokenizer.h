// text::SentencePieceBpeTokenizer: SentencePiece-style BPE (Llama 2, Mistral
// v0.1-v0.3): spaces become U+2581 "▁", a "▁" is prepended as the model's
// add-dummy-prefix rule says, the segment's characters are merged by the
// BpeModel (merges of tokenizer.json, or score order for GGUF "llama"
// vocabularies), and characters outside the vocabulary fall back to their
// UTF-8 bytes as <0xNN> tokens (or <unk> without byte fallback).
//
// Prefix rules (SpacePrefix), as the three sources define them:
//   kEverySegment   HF normalizer Prepend("▁") (legacy Llama/Mistral
//                   tokenizer.json) and llama.cpp/GGUF: every text segment
//                   between special tokens gets a "▁", even if it starts
//                   with a space.
//   kFirstSegment   HF Metaspace(prepend_scheme="first"): only a segment at
//                   offset 0, and not when it already starts with a space.
//   kAlways         HF Metaspace(prepend_scheme="always"): every segment
//                   that does not already start with a space.
//   kNever          no prefix.
// Decode follows HF's decoders: "▁" -> " ", consecutive <0xNN> tokens are
// joined and must form valid UTF-8 (else one U+FFFD per byte, as HF's
// ByteFallback), then one leading space is stripped (Strip / Metaspace).
//
// Threading: immutable; every method is const and thread-safe.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "text/added_tokens.h"
#include "text/bpe_model.h"
#include "text/tokenizer.h"
#include "text/vocabulary.h"

namespace tandem::text {

enum class SpacePrefix { kNever, kFirstSegment, kEverySegment, kAlways };

enum class SentencePieceDecoder {
  kStripFirstSpace,  // Replace(▁, " "), ByteFallback, Fuse, Strip(" ", 1, 0)
  kMetaspace,        // Metaspace decoder: every ▁ of the first token is dropped
  kKeepSpaces,       // Replace, ByteFallback, Fuse (no strip)
};

struct SentencePieceOptions {
  SpacePrefix prefix = SpacePrefix::kEverySegment;
  bool split_on_metaspace = false;  // HF Metaspace(split=true): BPE per "▁word"
  bool byte_fallback = true;
  bool fuse_unk = true;
  int32_t unk = -1;
  SentencePieceDecoder decoder = SentencePieceDecoder::kStripFirstSpace;
  SpecialTokens special;
};

class SentencePieceBpeTokenizer final : public Tokenizer {
 public:
  // Fails with kMalformedFile when byte fallback is on and a <0xNN> token is
  // missing, or when neither byte fallback nor an unk token is available.
  static Result<std::shared_ptr<const SentencePieceBpeTokenizer>> create(Vocabulary vocab, BpeModel merges,
                                                                         AddedTokens added,
                                                                         SentencePieceOptions options);

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool allow_special) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override;
  std::string token_bytes(int32_t id) const override;
  bool strips_leading_space() const override {
    return options_.decoder != SentencePieceDecoder::kKeepSpaces && options_.prefix != SpacePrefix::kNever;
  }
  TokenKind kind(int32_t id) const override;
  int32_t vocab_size() const override { return vocab_.size(); }
  int32_t bos_id() const override { return options_.special.bos; }
  int32_t eos_id() const override { return options_.special.eos; }
  std::string token_text(int32_t id) const override;
  int32_t token_id(std::string_view token) const override { return vocab_.find(token); }

  const SentencePieceOptions& options() const { return options_; }

 private:
  SentencePieceBpeTokenizer(Vocabulary vocab, BpeModel merges, AddedTokens added, SentencePieceOptions options);

  void encode_segment(std::string_view segment, size_t offset, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  int32_t byte_token(uint8_t b) const { return byte_ids_[b]; }

  Vocabulary vocab_;
  BpeModel merges_;
  AddedTokens added_;
  SentencePieceOptions options_;
  std::array<int32_t, 256> byte_ids_{};
  std::array<int32_t, 128> ascii_ids_{};
  std::vector<int16_t> byte_value_;  // by id: the byte of a <0xNN> token, else -1
};

}  // namespace tandem::text
