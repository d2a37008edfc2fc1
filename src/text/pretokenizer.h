// text::PreTokenizer: splits text into the pieces that BPE encodes one by
// one, the way a model's pre-tokenizer regex does. The regexes are not run
// through a regex engine: each known pattern is a hand-written scanner over
// code points (text/unicode.h categories) with the regex's exact semantics
// (leftmost-first alternation, greedy quantifiers with backtracking, the
// (?!\S) lookahead). A PreTokenizer is a sequence of steps; like a HF
// `Sequence` of `Split(pattern, behavior="Isolated")`, each step splits every
// piece of the previous step into its matches and the gaps between them.
//
// Known patterns (SplitPattern) and where they come from:
//   kGpt2       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//               (GPT-2; HF ByteLevel(use_regex=true); GGUF pre "gpt-2", ...)
//   kLlama3     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//                ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+   (Llama 3, "llama-bpe")
//   kQwen2      as kLlama3 with \p{N} instead of \p{N}{1,3}                  (Qwen2/2.5/3)
//   kDeepseekV3 [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//                ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+           (DeepSeek V3/R1, 3rd step)
//   kCjkRun     [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+                   (DeepSeek V3, 2nd step)
//   kDigits1To3 \p{N}{1,3}                                                   (DeepSeek V3, 1st step)
//   kDigitEach  \p{N}      (HF Digits(individual_digits=true); SmolLM/StarCoder)
//   kDigitRuns  \p{N}+     (HF Digits(individual_digits=false))
//
// Input must be valid UTF-8 (unicode::to_valid_utf8). Pieces are non-empty
// substrings of the input, in order, and together cover it exactly.
// Threading: immutable after construction; split() is const and thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::text {

enum class SplitPattern {
  kGpt2,
  kLlama3,
  kQwen2,
  kDeepseekV3,
  kCjkRun,
  kDigits1To3,
  kDigitEach,
  kDigitRuns,
};

const char* split_pattern_name(SplitPattern pattern);

// The pattern a regex string (as written in a tokenizer.json Split
// pre-tokenizer) denotes, or nullopt for a regex we have no scanner for.
std::optional<SplitPattern> split_pattern_from_regex(std::string_view regex);

// Length in bytes of the match of `pattern` starting exactly at text[pos]
// (text is one piece: the scanner sees its end as end of input), or 0 when
// the pattern does not match there. No pattern matches the empty string.
size_t match_length(SplitPattern pattern, std::string_view text, size_t pos);

class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(std::vector<SplitPattern> steps) : steps_(std::move(steps)) {}

  const std::vector<SplitPattern>& steps() const { return steps_; }

  // Calls fn(std::string_view piece) for every piece of text, in order. With
  // no steps the whole text is one piece (empty text: no piece).
  template <class Fn>
  void split(std::string_view text, Fn&& fn) const {
    if (text.empty()) return;
    split_step(0, text, fn);
  }

  std::vector<std::string_view> split_to_vector(std::string_view text) const {
    std::vector<std::string_view> out;
    split(text, [&](std::string_view p) { out.push_back(p); });
    return out;
  }

 private:
  template <class Fn>
  void split_step(size_t step, std::string_view piece, Fn& fn) const {
    if (step == steps_.size()) {
      fn(piece);
      return;
    }
    const SplitPattern pattern = steps_[step];
    size_t pos = 0;
    size_t gap_start = 0;
    while (pos < piece.size()) {
      const size_t len = match_length(pattern, piece, pos);
      if (len == 0) {
        pos += utf8_length(piece[pos]);
        continue;
      }
      if (gap_start < pos) split_step(step + 1, piece.substr(gap_start, pos - gap_start), fn);
      split_step(step + 1, piece.substr(pos, len), fn);
      pos += len;
      gap_start = pos;
    }
    if (gap_start < piece.size()) split_step(step + 1, piece.substr(gap_start), fn);
  }

  static size_t utf8_length(char lead) {
    const auto b = static_cast<unsigned char>(lead);
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  }

  std::vector<SplitPattern> steps_;
};

}  // namespace tandem::text
