// text::PreTokenizer scanners. Expected splits follow the regexes'
// semantics (checked against HF tokenizers by tests/reference/tokenizer on a
// 1 MB corpus; these are the small cases that pin each rule).
#include "text/pretokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::text {
namespace {

std::vector<std::string> split(std::vector<SplitPattern> steps, std::string_view text) {
  std::vector<std::string> out;
  PreTokenizer(std::move(steps)).split(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}

using V = std::vector<std::string>;

TEST(PreTokenizerTest, Gpt2) {
  EXPECT_EQ(split({SplitPattern::kGpt2}, "Hello world's  end"), (V{"Hello", " world", "'s", " ", " end"}));
  EXPECT_EQ(split({SplitPattern::kGpt2}, "I'M 123abc!!  \n\tx  "),
            (V{"I", "'", "M", " 123", "abc", "!!", "  \n", "\t", "x", "  "}));
  EXPECT_EQ(split({SplitPattern::kGpt2}, " "), (V{" "}));
}

TEST(PreTokenizerTest, Llama3) {
  EXPECT_EQ(split({SplitPattern::kLlama3}, "I'M 12345 (word)\n\n  next"),
            (V{"I", "'M", " ", "123", "45", " (", "word", ")\n\n", " ", " next"}));
  EXPECT_EQ(split({SplitPattern::kLlama3}, "a \t\n \nb"), (V{"a", " \t\n \n", "b"}));
  EXPECT_EQ(split({SplitPattern::kLlama3}, "\tfoo"), (V{"\tfoo"}));  // any non-letter, non-newline prefix
  // U+017F folds to 's' under (?i:...): "'ſ" is one contraction piece.
  EXPECT_EQ(split({SplitPattern::kLlama3}, "x'\xc5\xbf"), (V{"x", "'\xc5\xbf"}));
}

TEST(PreTokenizerTest, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split({SplitPattern::kQwen2}, "abc 2026"), (V{"abc", " ", "2", "0", "2", "6"}));
}

TEST(PreTokenizerTest, DeepseekV3Sequence) {
  const std::vector<SplitPattern> steps = {SplitPattern::kDigits1To3, SplitPattern::kCjkRun, SplitPattern::kDeepseekV3};
  EXPECT_EQ(split(steps, "12345 .NET 日本語です abc"), (V{"123", "45", " .", "NET", " ", "日本語です", " abc"}));
  EXPECT_EQ(split(steps, "x.NET"), (V{"x", ".NET"}));
}

TEST(PreTokenizerTest, DigitsThenGpt2LikeSmolLM) {
  EXPECT_EQ(split({SplitPattern::kDigitEach, SplitPattern::kGpt2}, "x 42"), (V{"x", " ", "4", "2"}));
}

TEST(PreTokenizerTest, PiecesCoverTheInput) {
  const std::string text = "Ünïcödé  \r\n\r\n 😀👍🏽 ١٢٣ \xe2\x80\xa8 end\x01\x7f";
  for (auto p : {SplitPattern::kGpt2, SplitPattern::kLlama3, SplitPattern::kQwen2, SplitPattern::kDeepseekV3}) {
    std::string joined;
    for (const auto& piece : split({p}, text)) {
      EXPECT_FALSE(piece.empty());
      joined += piece;
    }
    EXPECT_EQ(joined, text) << split_pattern_name(p);
  }
}

TEST(PreTokenizerTest, RecognisesKnownRegexesOnly) {
  EXPECT_EQ(
      split_pattern_from_regex(
          R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
      SplitPattern::kLlama3);
  // The same pattern with literal CR/LF characters (as DeepSeek's file has).
  EXPECT_EQ(split_pattern_from_regex("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                                     "?[^\\s\\p{L}\\p{N}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
            SplitPattern::kQwen2);
  EXPECT_EQ(split_pattern_from_regex(R"(\p{N}{1,3})"), SplitPattern::kDigits1To3);
  EXPECT_FALSE(split_pattern_from_regex(R"(\w+|[^\w\s]+)").has_value());
  EXPECT_FALSE(split_pattern_from_regex("").has_value());
}

}  // namespace
}  // namespace tandem::text
