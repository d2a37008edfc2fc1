// text::AddedTokens: the tokens matched in text before the model runs —
// special/control tokens (<|im_end|>, <s>, [INST]) and added or user-defined
// tokens — and the split of an input into plain-text segments and those
// tokens, as HF tokenizers' AddedVocabulary does: leftmost-longest matching
// over the raw text; `lstrip`/`rstrip` absorb the white space before/after a
// match; `single_word` matches only between non-word characters.
//
// Special tokens are matched only when the caller allows it (encode(...,
// allow_special)); a user typing "<|im_end|>" otherwise gets it tokenized as
// plain text (HF's encode_special_tokens=True). Non-special added tokens are
// always matched, as in HF.
//
// Known difference: tokens with normalized=true are matched on the raw text,
// not on the normalized one (no vocabulary we load has such a token whose
// text the normalizer would change).
//
// Threading: built once, then immutable; split() is const and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = true;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

class AddedTokens {
 public:
  // A piece of the split: a plain-text segment (id == -1; `text` points into
  // the input, `offset` is its byte offset there) or a matched token.
  struct Segment {
    int32_t id = -1;
    std::string_view text;
    size_t offset = 0;
  };

  // Adds a token (an empty content is ignored). Later duplicates of the same
  // content are ignored.
  void add(AddedToken token);
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

  // Splits valid UTF-8 `text`; calls fn(const Segment&) in order. Empty
  // plain-text segments are not reported.
  template <class Fn>
  void split(std::string_view text, bool allow_special, Fn&& fn) const {
    size_t seg_start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      Match m = match_at(text, pos, seg_start, allow_special);
      if (m.token < 0) {
        ++pos;
        continue;
      }
      if (m.begin > seg_start) fn(Segment{-1, text.substr(seg_start, m.begin - seg_start), seg_start});
      fn(Segment{tokens_[static_cast<size_t>(m.token)].id, text.substr(m.begin, m.end - m.begin), m.begin});
      pos = seg_start = m.end;
    }
    if (seg_start < text.size()) fn(Segment{-1, text.substr(seg_start), seg_start});
  }

 private:
  struct Match {
    int32_t token = -1;  // index into tokens_
    size_t begin = 0;    // after lstrip
    size_t end = 0;      // after rstrip
  };
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t token = -1;  // index into tokens_ ending here
  };
  Match match_at(std::string_view text, size_t pos, size_t floor, bool allow_special) const;
  int32_t child(int32_t node, unsigned char b) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
};

}  // namespace tandem::text
