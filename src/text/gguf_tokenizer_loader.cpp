// load_tokenizer_gguf (declared in text/tokenizer_loader.h): GGUF tokenizer
// metadata (llama.cpp's keys) -> ByteLevelBpeTokenizer ("gpt2") or
// SentencePieceBpeTokenizer ("llama").
#include <algorithm>
#include <string>
#include <vector>

#include "model_files/gguf_file.h"
#include "text/byte_level_bpe_tokenizer.h"
#include "text/sentencepiece_bpe_tokenizer.h"
#include "text/tokenizer_loader.h"

namespace tandem::text {
namespace {

// llama.cpp token types (llama_token_type).
enum GgufTokenType : int32_t {
  kTypeUndefined = 0,
  kTypeNormal = 1,
  kTypeUnknown = 2,
  kTypeControl = 3,
  kTypeUserDefined = 4,
  kTypeUnused = 5,
  kTypeByte = 6,
};

struct PreMapping {
  const char* names[12];
  std::vector<SplitPattern> steps;
  bool nfc;
};

// tokenizer.ggml.pre -> split steps (llama.cpp's llama_vocab pre types that
// share a regex are grouped). Qwen2's tokenizer.json normalizes to NFC, so
// its GGUF does too, to stay HF-identical.
const std::vector<PreMapping>& pre_mappings() {
  static const std::vector<PreMapping> kMappings = {
      {{"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "trillion", "roberta-bpe", "default"},
       {SplitPattern::kGpt2},
       false},
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
       {SplitPattern::kDigitEach, SplitPattern::kGpt2},
       false},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "dbrx", "smaug-bpe"}, {SplitPattern::kLlama3}, false},
      {{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan"}, {SplitPattern::kQwen2}, true},
      {{"deepseek-v3"}, {SplitPattern::kDigits1To3, SplitPattern::kCjkRun, SplitPattern::kDeepseekV3}, false},
  };
  return kMappings;
}

const PreMapping* find_pre(const std::string& pre) {
  for (const PreMapping& m : pre_mappings()) {
    for (const char* n : m.names) {
      if (n && pre == n) return &m;
    }
  }
  return nullptr;
}

TokenKind kind_of(int32_t type) {
  switch (type) {
    case kTypeControl:
    case kTypeUnknown: return TokenKind::kControl;
    case kTypeUserDefined: return TokenKind::kUserDefined;
    case kTypeByte: return TokenKind::kByte;
    case kTypeUnused: return TokenKind::kUnused;
    default: return TokenKind::kNormal;
  }
}

Status malformed(const model_files::GgufFile& f, const std::string& key, const std::string& what) {
  return Status(ErrorKind::kMalformedFile, f.name() + ": " + key + ": " + what);
}

}  // namespace

Result<std::shared_ptr<const Tokenizer>> load_tokenizer_gguf(const model_files::GgufFile& gguf) {
  auto model = gguf.require_string("tokenizer.ggml.model");
  if (!model.ok()) return model.status();
  if (*model != "gpt2" && *model != "llama") {
    return Status(ErrorKind::kUnsupported,
                  gguf.name() + ": tokenizer.ggml.model \"" + *model + "\" is not supported (gpt2 and llama are)");
  }
  const auto tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->empty()) return malformed(gguf, "tokenizer.ggml.tokens", "missing or not a string array");
  if (tokens->size() >= (size_t{1} << 24)) return malformed(gguf, "tokenizer.ggml.tokens", "too many tokens");
  const auto n = static_cast<int32_t>(tokens->size());
  std::vector<int32_t> types(tokens->size(), kTypeNormal);
  if (gguf.has("tokenizer.ggml.token_type")) {
    auto t = gguf.get_i32_array("tokenizer.ggml.token_type");
    if (!t || t->size() != tokens->size()) {
      return malformed(gguf, "tokenizer.ggml.token_type", "not an integer array of one entry per token");
    }
    types = std::move(*t);
  }

  Vocabulary vocab;
  AddedTokens added;
  for (int32_t id = 0; id < n; ++id) {
    const std::string& text = (*tokens)[static_cast<size_t>(id)];
    const TokenKind kind = kind_of(types[static_cast<size_t>(id)]);
    if (!vocab.set(id, text, kind)) {
      // Duplicate texts happen in some converted vocabularies; the first id wins lookups.
      continue;
    }
    if ((kind == TokenKind::kControl || kind == TokenKind::kUserDefined) && !text.empty()) {
      AddedToken tok;
      tok.id = id;
      tok.content = text;
      tok.special = kind == TokenKind::kControl;
      added.add(std::move(tok));
    }
  }

  auto optional_id = [&](const char* key, int32_t* out) -> Status {
    if (!gguf.has(key)) return Status::ok_status();
    const auto v = gguf.get_u32(key);
    if (!v) return malformed(gguf, key, "not an unsigned integer");
    if (*v >= static_cast<uint32_t>(n)) {
      // llama.cpp writes -1 as 0xFFFFFFFF for "none".
      *out = -1;
      return Status::ok_status();
    }
    *out = static_cast<int32_t>(*v);
    return Status::ok_status();
  };
  SpecialTokens special;
  int32_t unk = -1;
  if (Status s = optional_id("tokenizer.ggml.bos_token_id", &special.bos); !s.ok()) return s;
  if (Status s = optional_id("tokenizer.ggml.eos_token_id", &special.eos); !s.ok()) return s;
  if (Status s = optional_id("tokenizer.ggml.unknown_token_id", &unk); !s.ok()) return s;
  const bool is_spm = *model == "llama";
  const bool add_bos = gguf.get_bool("tokenizer.ggml.add_bos_token").value_or(is_spm);
  const bool add_eos = gguf.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  if (add_bos && special.bos >= 0) special.prefix.push_back(special.bos);
  if (add_eos && special.eos >= 0) special.suffix.push_back(special.eos);

  BpeModel merges;
  if (!is_spm) {
    const auto merge_list = gguf.get_string_array("tokenizer.ggml.merges");
    if (!merge_list) return malformed(gguf, "tokenizer.ggml.merges", "missing or not a string array");
    merges.reserve(merge_list->size());
    std::string joined;
    for (size_t i = 0; i < merge_list->size(); ++i) {
      const std::string& m = (*merge_list)[i];
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) {
        return malformed(gguf, "tokenizer.ggml.merges[" + std::to_string(i) + "]", "\"" + m + "\" is not two tokens");
      }
      const std::string_view left = std::string_view(m).substr(0, sp);
      const std::string_view right = std::string_view(m).substr(sp + 1);
      joined.assign(left);
      joined.append(right);
      const int32_t l = vocab.find(left), r = vocab.find(right), res = vocab.find(joined);
      if (l < 0 || r < 0 || res < 0) {
        return malformed(gguf, "tokenizer.ggml.merges[" + std::to_string(i) + "]",
                         "\"" + m + "\" uses a token not in the vocabulary");
      }
      merges.add_merge(l, r, static_cast<int32_t>(i), res);
    }
    std::string pre = gguf.get_string("tokenizer.ggml.pre").value_or("default");
    const PreMapping* mapping = find_pre(pre);
    if (!mapping) {
      return Status(ErrorKind::kUnsupported,
                    gguf.name() + ": tokenizer.ggml.pre \"" + pre + "\" has no pre-tokenizer here");
    }
    ByteLevelBpeOptions opt;
    opt.pretokenizer = PreTokenizer(mapping->steps);
    opt.nfc = mapping->nfc;
    opt.ignore_merges = mapping->steps.front() == SplitPattern::kLlama3;  // Llama 3's tokenizer.json sets it
    opt.unk = unk;
    opt.special = special;
    auto tok = ByteLevelBpeTokenizer::create(std::move(vocab), std::move(merges), std::move(added), std::move(opt));
    if (!tok.ok()) return Status(tok.status().kind(), gguf.name() + ": " + tok.status().message());
    return std::shared_ptr<const Tokenizer>(*tok);
  }

  // SentencePiece: merges are implied by the scores; a pair (a, b) merges
  // into the normal token a+b, higher score first (equal scores share a rank).
  const auto scores = gguf.get_f32_array("tokenizer.ggml.scores");
  if (!scores || scores->size() != tokens->size()) {
    return malformed(gguf, "tokenizer.ggml.scores", "missing or not a float array of one entry per token");
  }
  std::vector<int32_t> order;
  for (int32_t id = 0; id < n; ++id) {
    if (types[static_cast<size_t>(id)] == kTypeNormal && vocab.find((*tokens)[static_cast<size_t>(id)]) == id) {
      order.push_back(id);
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return (*scores)[static_cast<size_t>(a)] > (*scores)[static_cast<size_t>(b)];
  });
  merges.reserve(order.size() * 2);
  int32_t rank = -1;
  float last = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const int32_t id = order[i];
    const float score = (*scores)[static_cast<size_t>(id)];
    if (i == 0 || score != last) ++rank;
    last = score;
    const std::string& text = (*tokens)[static_cast<size_t>(id)];
    for (size_t cut = 1; cut < text.size(); ++cut) {
      if ((static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) continue;  // inside a character
      const int32_t l = vocab.find(std::string_view(text).substr(0, cut));
      const int32_t r = vocab.find(std::string_view(text).substr(cut));
      if (l >= 0 && r >= 0) merges.add_merge(l, r, rank, id);
    }
  }
  SentencePieceOptions opt;
  const bool add_space_prefix = gguf.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  opt.prefix = add_space_prefix ? SpacePrefix::kEverySegment : SpacePrefix::kNever;
  opt.decoder = add_space_prefix ? SentencePieceDecoder::kStripFirstSpace : SentencePieceDecoder::kKeepSpaces;
  opt.byte_fallback = true;
  for (int b = 0; b < 256 && opt.byte_fallback; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    if (vocab.find(name) < 0) opt.byte_fallback = false;
  }
  opt.fuse_unk = true;
  opt.unk = unk;
  opt.special = special;
  auto tok = SentencePieceBpeTokenizer::create(std::move(vocab), std::move(merges), std::move(added), std::move(opt));
  if (!tok.ok()) return Status(tok.status().kind(), gguf.name() + ": " + tok.status().message());
  return std::shared_ptr<const Tokenizer>(*tok);
}

}  // namespace tandem::text
