// ReasoningParser: think blocks opened by the output or by the prompt, the
// DeepSeek-R1 rule (reasoning until </think>), whitespace around the tags, and
// that feeding the output in any chunking gives what feeding it whole gives.
#include "text/reasoning_parser.h"

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace tandem::text {
namespace {

using F = ReasoningFormat;

struct Split {
  std::string reasoning, answer;
  bool operator==(const Split& o) const { return reasoning == o.reasoning && answer == o.answer; }
};

std::ostream& operator<<(std::ostream& os, const Split& s) {
  return os << "{reasoning '" << s.reasoning << "', answer '" << s.answer << "'}";
}

Split parse_chunked(F format, bool in_reasoning, std::string_view text, size_t chunk) {
  ReasoningParser parser(format, in_reasoning);
  Split s;
  for (size_t i = 0; i < text.size(); i += chunk) parser.push(text.substr(i, chunk), s.reasoning, s.answer);
  parser.finish(s.reasoning, s.answer);
  return s;
}

// Parses whole, byte by byte and in random chunks; all must agree.
Split parse(F format, std::string_view text, bool in_reasoning = false) {
  const Split whole = parse_chunked(format, in_reasoning, text, text.size() + 1);
  EXPECT_EQ(parse_chunked(format, in_reasoning, text, 1), whole) << "byte by byte: " << text;
  std::mt19937 rng(11);
  for (int round = 0; round < 8; ++round) {
    ReasoningParser parser(format, in_reasoning);
    Split s;
    for (size_t i = 0; i < text.size();) {
      const size_t n = std::uniform_int_distribution<size_t>(1, 7)(rng);
      parser.push(text.substr(i, n), s.reasoning, s.answer);
      i += n;
    }
    parser.finish(s.reasoning, s.answer);
    EXPECT_EQ(s, whole) << "random chunks: " << text;
  }
  return whole;
}

TEST(ReasoningParserTest, Qwen3ThinkBlockThenAnswer) {
  EXPECT_EQ(parse(F::kQwen3, "<think>\nLet me add.\n2 + 2 = 4.\n</think>\n\nIt is 4."),
            (Split{"Let me add.\n2 + 2 = 4.", "It is 4."}));
  EXPECT_EQ(parse(F::kQwen3, "  <think>a</think>b"), (Split{"a", "b"}));
}

TEST(ReasoningParserTest, Qwen3EmptyBlockIsNoReasoning) {
  EXPECT_EQ(parse(F::kQwen3, "<think>\n\n</think>\n\nHello."), (Split{"", "Hello."}));
}

TEST(ReasoningParserTest, Qwen3WithoutABlockIsAllAnswer) {
  for (const std::string text : {std::string("Hello <think>not a block</think>"), std::string("  \nHi"),
                                 std::string("<thin"), std::string("<thinking>x</thinking>"), std::string("")}) {
    EXPECT_EQ(parse(F::kQwen3, text), (Split{"", text})) << text;
  }
}

TEST(ReasoningParserTest, OpenBlockAtTheEndIsReasoning) {
  EXPECT_EQ(parse(F::kQwen3, "<think>\nStill thinking about </thi"), (Split{"Still thinking about </thi", ""}));
  EXPECT_EQ(parse(F::kDeepSeekR1, "no closing tag at all\n"), (Split{"no closing tag at all", ""}));
}

TEST(ReasoningParserTest, PromptThatOpensTheBlock) {
  EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<think>x"));
  EXPECT_EQ(parse(F::kQwen3, "Reason.\n</think>\n\nAnswer.", true), (Split{"Reason.", "Answer."}));
  // A model that writes the tag again anyway.
  EXPECT_EQ(parse(F::kQwen3, "<think>Reason.</think>Answer.", true), (Split{"Reason.", "Answer."}));
}

TEST(ReasoningParserTest, DeepSeekR1ReasonsUntilTheCloseTag) {
  EXPECT_EQ(parse(F::kDeepSeekR1, "Okay, so 9.11 < 9.8.\n</think>\n\n9.8 is greater."),
            (Split{"Okay, so 9.11 < 9.8.", "9.8 is greater."}));
  EXPECT_EQ(parse(F::kDeepSeekR1, "<think>\nOkay.</think>Done"), (Split{"Okay.", "Done"}));
}

TEST(ReasoningParserTest, AnswerIsKeptByteForByte) {
  EXPECT_EQ(parse(F::kQwen3, "<think>r</think>\n\nA  \n<think>x</think>  "), (Split{"r", "A  \n<think>x</think>  "}));
}

TEST(ReasoningParserTest, WhitespaceInsideReasoningIsKept) {
  EXPECT_EQ(parse(F::kQwen3, "<think>a \n\n b\t</think>c"), (Split{"a \n\n b", "c"}));
}

TEST(ReasoningParserTest, HeldTextIsReleasedByTheNextPush) {
  ReasoningParser parser(F::kQwen3, false);
  std::string reasoning, answer;
  parser.push("<think>step one\n</th", reasoning, answer);
  EXPECT_EQ(reasoning, "step one");  // the newline and the possible tag wait
  parser.push("ere we go", reasoning, answer);
  EXPECT_EQ(reasoning, "step one\n</there we go");
  EXPECT_EQ(answer, "");
}

TEST(ReasoningParserTest, NoneIsAllAnswer) {
  const std::string text = "<think>a</think>b";
  EXPECT_EQ(parse(F::kNone, text), (Split{"", text}));
  EXPECT_EQ(parse(F::kNone, text, true), (Split{"", text}));
}

TEST(ReasoningParserTest, FormatNames) {
  for (auto f : {F::kNone, F::kQwen3, F::kDeepSeekR1}) {
    EXPECT_EQ(reasoning_format_from_name(reasoning_format_name(f)), f);
  }
  EXPECT_FALSE(reasoning_format_from_name("auto").has_value());
}

TEST(ReasoningParserTest, DetectsThePublishedTemplates) {
  const auto detect = [](const std::string& file) {
    std::ifstream in(std::string(TANDEM_TEST_DATA) + "/templates/" + file);
    EXPECT_TRUE(in.good()) << file;
    std::stringstream ss;
    ss << in.rdbuf();
    return detect_reasoning_format(ss.str());
  };
  EXPECT_EQ(detect("qwen3.jinja"), F::kQwen3);
  for (const char* f : {"qwen2.5.jinja", "smollm2.jinja", "llama3.1.jinja", "llama3.2.jinja", "mistral_nemo.jinja",
                        "mistral_small_3.2.jinja", "gemma2.jinja", "gemma3.jinja"}) {
    EXPECT_EQ(detect(f), F::kNone) << f;
  }
  EXPECT_EQ(detect_reasoning_format("{{ content.split('</think>')[-1] }}"), F::kDeepSeekR1);
}

}  // namespace
}  // namespace tandem::text
