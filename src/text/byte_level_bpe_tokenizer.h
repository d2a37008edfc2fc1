// text::ByteLevelBpeTokenizer: byte-level BPE (GPT-2 family: SmolLM2, Qwen2/3,
// Llama 3, DeepSeek V3). Encode: invalid UTF-8 -> U+FFFD; split out added /
// special tokens; optional NFC (Qwen2's normalizer); pre-tokenizer split;
// each piece's bytes become their byte-level tokens and are merged by the
// BpeModel (or, with ignore_merges as in Llama 3, taken whole when the piece
// is itself a vocabulary entry). Decode: each token's bytes (skipping
// special tokens on request), then invalid UTF-8 -> U+FFFD, as HF's
// ByteLevel decoder does.
//
// Built by text/tokenizer_loader.h. Threading: immutable; every method is
// const and thread-safe (the piece cache is internally locked).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "text/added_tokens.h"
#include "text/bpe_model.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"
#include "text/vocabulary.h"

namespace tandem::text {

struct ByteLevelBpeOptions {
  PreTokenizer pretokenizer;
  bool nfc = false;            // apply NFC to text segments (Qwen2 tokenizer.json)
  bool ignore_merges = false;  // a piece that is a vocabulary entry is one token
  int32_t unk = -1;            // stands for bytes missing from the vocabulary (-1: they are dropped, as HF)
  SpecialTokens special;
};

class ByteLevelBpeTokenizer final : public Tokenizer {
 public:
  // `vocab` holds the model vocabulary (byte-level spelling) and the added
  // tokens; `merges` the merge table over its ids. Fails with kMalformedFile
  // when options.unk is set but not a token.
  static Result<std::shared_ptr<const ByteLevelBpeTokenizer>> create(Vocabulary vocab, BpeModel merges,
                                                                     AddedTokens added, ByteLevelBpeOptions options);

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool allow_special) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override;
  std::string token_bytes(int32_t id) const override;
  TokenKind kind(int32_t id) const override;
  int32_t vocab_size() const override { return vocab_.size(); }
  int32_t bos_id() const override { return options_.special.bos; }
  int32_t eos_id() const override { return options_.special.eos; }
  std::string token_text(int32_t id) const override;
  int32_t token_id(std::string_view token) const override { return vocab_.find(token); }

  const ByteLevelBpeOptions& options() const { return options_; }

 private:
  ByteLevelBpeTokenizer(Vocabulary vocab, BpeModel merges, AddedTokens added, ByteLevelBpeOptions options);

  void encode_segment(std::string_view segment, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out, std::vector<int32_t>& scratch) const;

  // A bounded cache piece bytes -> ids, sharded to keep lock contention low.
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  };
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheShardCapacity = 8192;
  static constexpr size_t kMaxCachedPiece = 64;

  Vocabulary vocab_;
  BpeModel merges_;
  AddedTokens added_;
  ByteLevelBpeOptions options_;
  std::array<int32_t, 256> byte_ids_{};
  std::vector<std::string> token_bytes_;                                                   // by id
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> whole_piece_ids_;  // ignore_merges
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace tandem::text
