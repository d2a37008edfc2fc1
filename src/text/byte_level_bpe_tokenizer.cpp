#include "text/byte_level_bpe_tokenizer.h"

#include <string>

#include "text/byte_level.h"
#include "text/unicode.h"

namespace tandem::text {

Result<std::shared_ptr<const ByteLevelBpeTokenizer>> ByteLevelBpeTokenizer::create(Vocabulary vocab, BpeModel merges,
                                                                                   AddedTokens added,
                                                                                   ByteLevelBpeOptions options) {
  if (options.unk >= 0 && !vocab.contains(options.unk)) {
    return Status(ErrorKind::kMalformedFile,
                  "unk token id " + std::to_string(options.unk) + " is not in the vocabulary");
  }
  return std::shared_ptr<const ByteLevelBpeTokenizer>(
      new ByteLevelBpeTokenizer(std::move(vocab), std::move(merges), std::move(added), std::move(options)));
}

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(Vocabulary vocab, BpeModel merges, AddedTokens added,
                                             ByteLevelBpeOptions options)
    : vocab_(std::move(vocab)), merges_(std::move(merges)), added_(std::move(added)), options_(std::move(options)) {
  const ByteLevel& bl = byte_level();
  for (int b = 0; b < 256; ++b) byte_ids_[static_cast<size_t>(b)] = vocab_.find(bl.utf8_of(static_cast<uint8_t>(b)));
  token_bytes_.resize(static_cast<size_t>(vocab_.size()));
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    if (!vocab_.contains(id)) continue;
    const std::string& text = vocab_.text(id);
    std::string bytes;
    // As HF's ByteLevel decoder: a token whose characters are all byte-level
    // characters spells those bytes; any other token stands for its own text.
    if (!bl.decode(text, bytes)) bytes = text;
    if (options_.ignore_merges && (vocab_.kind(id) == TokenKind::kNormal || vocab_.kind(id) == TokenKind::kByte)) {
      whole_piece_ids_.emplace(bytes, id);
    }
    token_bytes_[static_cast<size_t>(id)] = std::move(bytes);
  }
}

std::vector<int32_t> ByteLevelBpeTokenizer::encode(std::string_view text, bool add_special, bool allow_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special) out.insert(out.end(), options_.special.prefix.begin(), options_.special.prefix.end());
  std::string repaired;
  if (!unicode::is_valid_utf8(text)) {
    repaired = unicode::to_valid_utf8(text);
    text = repaired;
  }
  if (added_.empty()) {
    encode_segment(text, out);
  } else {
    added_.split(text, allow_special, [&](const AddedTokens::Segment& seg) {
      if (seg.id >= 0) {
        out.push_back(seg.id);
      } else {
        encode_segment(seg.text, out);
      }
    });
  }
  if (add_special) out.insert(out.end(), options_.special.suffix.begin(), options_.special.suffix.end());
  return out;
}

void ByteLevelBpeTokenizer::encode_segment(std::string_view segment, std::vector<int32_t>& out) const {
  std::string normalized;
  if (options_.nfc && unicode::may_need_nfc(segment)) {
    normalized = unicode::nfc(segment);
    segment = normalized;
  }
  std::vector<int32_t> scratch;
  options_.pretokenizer.split(segment, [&](std::string_view piece) { encode_piece(piece, out, scratch); });
}

void ByteLevelBpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out,
                                         std::vector<int32_t>& scratch) const {
  if (piece.size() == 1) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(piece[0])];
    if (id >= 0) {
      out.push_back(id);
    } else if (options_.unk >= 0) {
      out.push_back(options_.unk);
    }
    return;
  }
  if (options_.ignore_merges) {
    const auto it = whole_piece_ids_.find(piece);
    if (it != whole_piece_ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = piece.size() <= kMaxCachedPiece;
  CacheShard* shard = nullptr;
  if (cacheable) {
    shard = &cache_[StringHash{}(piece) % kCacheShards];
    std::lock_guard<std::mutex> lock(shard->mu);
    const auto it = shard->map.find(piece);
    if (it != shard->map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  scratch.clear();
  for (char ch : piece) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(ch)];
    if (id >= 0) {
      scratch.push_back(id);
    } else if (options_.unk >= 0) {
      scratch.push_back(options_.unk);  // HF: a byte missing from the vocabulary is unk, or dropped
    }
  }
  merges_.merge(scratch);
  out.insert(out.end(), scratch.begin(), scratch.end());
  if (shard) {
    std::lock_guard<std::mutex> lock(shard->mu);
    if (shard->map.size() >= kCacheShardCapacity) shard->map.clear();
    shard->map.emplace(std::string(piece), scratch);
  }
}

std::string ByteLevelBpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (!vocab_.contains(id)) continue;
    if (skip_special && vocab_.kind(id) == TokenKind::kControl) continue;
    bytes += token_bytes_[static_cast<size_t>(id)];
  }
  if (unicode::is_valid_utf8(bytes)) return bytes;
  return unicode::to_valid_utf8(bytes);
}

std::string ByteLevelBpeTokenizer::token_bytes(int32_t id) const {
  return vocab_.contains(id) ? token_bytes_[static_cast<size_t>(id)] : std::string();
}

TokenKind ByteLevelBpeTokenizer::kind(int32_t id) const {
  return vocab_.contains(id) ? vocab_.kind(id) : TokenKind::kUnused;
}

std::string ByteLevelBpeTokenizer::token_text(int32_t id) const {
  return vocab_.contains(id) ? vocab_.text(id) : std::string();
}

}  // namespace tandem::text
