#include "text/sentencepiece_bpe_tokenizer.h"

#include <cstdio>

#include "text/unicode.h"

namespace tandem::text {
namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581

int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = t[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

std::string replace_metaspace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, kMetaspace.size(), kMetaspace) == 0) {
      out.push_back(' ');
      i += kMetaspace.size();
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

}  // namespace

Result<std::shared_ptr<const SentencePieceBpeTokenizer>> SentencePieceBpeTokenizer::create(
    Vocabulary vocab, BpeModel merges, AddedTokens added, SentencePieceOptions options) {
  if (options.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      if (vocab.find(name) < 0) {
        return Status(ErrorKind::kMalformedFile,
                      std::string("byte_fallback is on but the vocabulary has no token ") + name);
      }
    }
  } else if (options.unk < 0 || !vocab.contains(options.unk)) {
    return Status(ErrorKind::kMalformedFile, "SentencePiece BPE without byte_fallback needs an unk token");
  }
  return std::shared_ptr<const SentencePieceBpeTokenizer>(
      new SentencePieceBpeTokenizer(std::move(vocab), std::move(merges), std::move(added), std::move(options)));
}

SentencePieceBpeTokenizer::SentencePieceBpeTokenizer(Vocabulary vocab, BpeModel merges, AddedTokens added,
                                                     SentencePieceOptions options)
    : vocab_(std::move(vocab)), merges_(std::move(merges)), added_(std::move(added)), options_(std::move(options)) {
  byte_ids_.fill(-1);
  if (options_.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_ids_[static_cast<size_t>(b)] = vocab_.find(name);
    }
  }
  for (int c = 0; c < 128; ++c) {
    const char ch = static_cast<char>(c);
    ascii_ids_[static_cast<size_t>(c)] = vocab_.find(std::string_view(&ch, 1));
  }
  byte_value_.assign(static_cast<size_t>(vocab_.size()), -1);
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    if (vocab_.contains(id))
      byte_value_[static_cast<size_t>(id)] = static_cast<int16_t>(parse_byte_token(vocab_.text(id)));
  }
}

std::vector<int32_t> SentencePieceBpeTokenizer::encode(std::string_view text, bool add_special,
                                                       bool allow_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special) out.insert(out.end(), options_.special.prefix.begin(), options_.special.prefix.end());
  std::string repaired;
  if (!unicode::is_valid_utf8(text)) {
    repaired = unicode::to_valid_utf8(text);
    text = repaired;
  }
  added_.split(text, allow_special, [&](const AddedTokens::Segment& seg) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
    } else {
      encode_segment(seg.text, seg.offset, out);
    }
  });
  if (add_special) out.insert(out.end(), options_.special.suffix.begin(), options_.special.suffix.end());
  return out;
}

void SentencePieceBpeTokenizer::encode_segment(std::string_view segment, size_t offset,
                                               std::vector<int32_t>& out) const {
  const bool starts_with_space =
      !segment.empty() && (segment[0] == ' ' || segment.substr(0, kMetaspace.size()) == kMetaspace);
  bool prefix = false;
  switch (options_.prefix) {
    case SpacePrefix::kNever: break;
    case SpacePrefix::kEverySegment: prefix = true; break;
    case SpacePrefix::kFirstSegment: prefix = offset == 0 && !starts_with_space; break;
    case SpacePrefix::kAlways: prefix = !starts_with_space; break;
  }
  std::string s;
  s.reserve(segment.size() + segment.size() / 4 + 3);
  if (prefix) s.append(kMetaspace);
  for (char ch : segment) {
    if (ch == ' ') {
      s.append(kMetaspace);
    } else {
      s.push_back(ch);
    }
  }
  if (!options_.split_on_metaspace) {
    encode_word(s, out);
    return;
  }
  // Split before every "▁" (HF SplitDelimiterBehavior::MergedWithNext).
  size_t start = 0;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s.compare(i, kMetaspace.size(), kMetaspace) == 0) {
      encode_word(std::string_view(s).substr(start, i - start), out);
      start = i;
    }
  }
  encode_word(std::string_view(s).substr(start), out);
}

void SentencePieceBpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  // Symbols are characters; out-of-vocabulary characters become their bytes
  // (which no merge joins) or one unk.
  for (size_t i = 0; i < word.size();) {
    const auto b = static_cast<unsigned char>(word[i]);
    const size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    const int32_t id = b < 0x80 ? ascii_ids_[b] : vocab_.find(word.substr(i, len));
    if (id >= 0) {
      symbols.push_back(id);
    } else if (options_.byte_fallback) {
      for (size_t k = 0; k < len; ++k) symbols.push_back(byte_ids_[static_cast<unsigned char>(word[i + k])]);
    } else {
      symbols.push_back(options_.unk);
    }
    i += len;
  }
  merges_.merge(symbols);
  for (int32_t id : symbols) {
    if (options_.fuse_unk && id == options_.unk && !out.empty() && out.back() == options_.unk) continue;
    out.push_back(id);
  }
}

std::string SentencePieceBpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  std::string pending;  // bytes of consecutive <0xNN> tokens
  auto flush = [&] {
    if (pending.empty()) return;
    if (unicode::is_valid_utf8(pending)) {
      out += pending;
    } else {
      for (size_t i = 0; i < pending.size(); ++i) unicode::append_utf8(out, unicode::kReplacementChar);
    }
    pending.clear();
  };
  bool first = true;
  for (int32_t id : ids) {
    if (!vocab_.contains(id)) continue;
    if (skip_special && vocab_.kind(id) == TokenKind::kControl) continue;
    const int byte = byte_value_[static_cast<size_t>(id)];
    if (byte >= 0 && options_.byte_fallback) {
      pending.push_back(static_cast<char>(byte));
      first = false;
      continue;
    }
    flush();
    const std::string& text = vocab_.text(id);
    if (first && options_.decoder == SentencePieceDecoder::kMetaspace && options_.prefix != SpacePrefix::kNever) {
      // The Metaspace decoder drops every "▁" of the first token.
      size_t i = 0;
      std::string kept;
      std::string_view tv = text;
      while (i < tv.size()) {
        if (tv.compare(i, kMetaspace.size(), kMetaspace) == 0) {
          i += kMetaspace.size();
        } else {
          kept.push_back(tv[i++]);
        }
      }
      out += kept;
    } else {
      out += replace_metaspace(text);
    }
    first = false;
  }
  flush();
  if (options_.decoder == SentencePieceDecoder::kStripFirstSpace && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return unicode::is_valid_utf8(out) ? out : unicode::to_valid_utf8(out);
}

std::string SentencePieceBpeTokenizer::token_bytes(int32_t id) const {
  if (!vocab_.contains(id)) return {};
  const int byte = byte_value_[static_cast<size_t>(id)];
  if (byte >= 0) return std::string(1, static_cast<char>(byte));
  return replace_metaspace(vocab_.text(id));
}

TokenKind SentencePieceBpeTokenizer::kind(int32_t id) const {
  return vocab_.contains(id) ? vocab_.kind(id) : TokenKind::kUnused;
}

std::string SentencePieceBpeTokenizer::token_text(int32_t id) const {
  return vocab_.contains(id) ? vocab_.text(id) : std::string();
}

}  // namespace tandem::text
