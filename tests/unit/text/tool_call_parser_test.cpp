// ToolCallParser: each format's calls and text, the fallbacks that keep a
// broken block as text, format detection on the published templates, and
// that feeding the output in any chunking gives what feeding it whole gives.
#include "text/tool_call_parser.h"

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tandem::text {
namespace {

using F = ToolCallFormat;

// Pieces as a readable string: text as-is, calls as «name args».
std::string render(const std::vector<ToolCallPiece>& pieces) {
  std::string s;
  for (const auto& p : pieces) {
    if (p.call) {
      s += "«" + p.call->name + " " + p.call->arguments + "»";
    } else {
      s += p.content;
    }
  }
  return s;
}

std::vector<ToolCallPiece> parse_chunked(F format, std::string_view text, size_t chunk) {
  ToolCallParser parser(format);
  std::vector<ToolCallPiece> out;
  for (size_t i = 0; i < text.size(); i += chunk) parser.push(text.substr(i, chunk), out);
  parser.finish(out);
  return out;
}

// Parses whole, byte by byte and in random chunks; all must agree. Returns the rendering.
std::string parse(F format, std::string_view text) {
  const std::string whole = render(parse_chunked(format, text, text.size() + 1));
  EXPECT_EQ(render(parse_chunked(format, text, 1)), whole) << "byte by byte: " << text;
  std::mt19937 rng(7);
  for (int round = 0; round < 8; ++round) {
    ToolCallParser parser(format);
    std::vector<ToolCallPiece> out;
    for (size_t i = 0; i < text.size();) {
      const size_t n = std::uniform_int_distribution<size_t>(1, 9)(rng);
      parser.push(text.substr(i, n), out);
      i += n;
    }
    parser.finish(out);
    EXPECT_EQ(render(out), whole) << "random chunks: " << text;
    for (size_t k = 1; k < out.size(); ++k) {
      EXPECT_FALSE(!out[k].call && !out[k - 1].call) << "adjacent content pieces are merged";
    }
  }
  return whole;
}

int count_calls(F format, std::string_view text) {
  int n = 0;
  for (const auto& p : parse_chunked(format, text, text.size() + 1)) n += p.call ? 1 : 0;
  return n;
}

TEST(ToolCallParserTest, HermesOneCall) {
  const std::string out =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2}}\n</tool_call>";
  EXPECT_EQ(parse(F::kHermes, out), "«get_weather {\"city\":\"Oslo\",\"days\":2}»");
  EXPECT_EQ(count_calls(F::kHermes, out), 1);
}

TEST(ToolCallParserTest, HermesTextAndTwoCalls) {
  const std::string out =
      "Let me check both.\n<tool_call>\n{\"name\": \"w\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"w\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>\n";
  EXPECT_EQ(parse(F::kHermes, out), "Let me check both.«w {\"city\":\"Oslo\"}»«w {\"city\":\"Rome\"}»");
}

TEST(ToolCallParserTest, HermesTextAfterACallIsKept) {
  EXPECT_EQ(parse(F::kHermes, "<tool_call>{\"name\": \"a\"}</tool_call>\n\nDone. "), "«a {}»Done. ");
}

TEST(ToolCallParserTest, HermesOpenBlockAtTheEndIsParsed) {
  EXPECT_EQ(parse(F::kHermes, "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n"), "«a {}»");
}

TEST(ToolCallParserTest, HermesArgumentsAsJsonStringAreNormalized) {
  EXPECT_EQ(parse(F::kHermes, "<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"x\\\": [1, 2]}\"}</tool_call>"),
            "«a {\"x\":[1,2]}»");
}

TEST(ToolCallParserTest, HermesBrokenBlocksStayText) {
  // Bad JSON, no name, arguments that are not an object: the raw text survives.
  const std::string bad = "Hi <tool_call>{\"name\": \"a\", \"arguments\": {</tool_call> bye";
  EXPECT_EQ(parse(F::kHermes, bad), bad);
  const std::string unnamed = "<tool_call>{\"arguments\": {}}</tool_call>";
  EXPECT_EQ(parse(F::kHermes, unnamed), unnamed);
  const std::string scalar_args = "<tool_call>{\"name\": \"a\", \"arguments\": 3}</tool_call>";
  EXPECT_EQ(parse(F::kHermes, scalar_args), scalar_args);
  // A good call after a broken one is still found.
  EXPECT_EQ(parse(F::kHermes, "<tool_call>oops</tool_call><tool_call>{\"name\": \"b\"}</tool_call>"),
            "<tool_call>oops</tool_call>«b {}»");
}

TEST(ToolCallParserTest, HermesPlainTextAndMarkerPrefixes) {
  EXPECT_EQ(parse(F::kHermes, "Hello <tool"), "Hello <tool");
  EXPECT_EQ(parse(F::kHermes, "a < b and <tool>x</tool>  \n"), "a < b and <tool>x</tool>  \n");
  EXPECT_EQ(parse(F::kHermes, ""), "");
  EXPECT_EQ(count_calls(F::kHermes, "no calls here"), 0);
}

TEST(ToolCallParserTest, HeldTextIsReleasedByTheNextPush) {
  ToolCallParser parser(F::kHermes);
  std::vector<ToolCallPiece> out;
  parser.push("Hello <tool", out);
  EXPECT_EQ(render(out), "Hello");  // the space and the possible marker wait
  parser.push("s are great", out);
  EXPECT_EQ(render(out), "Hello <tools are great");
}

TEST(ToolCallParserTest, MistralJsonList) {
  const std::string out =
      "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"q\": \"x]}\\\"y\"}}, {\"name\": \"b\", \"arguments\": {}, "
      "\"id\": \"abcDEF123\"}]";
  EXPECT_EQ(parse(F::kMistral, out), "«a {\"q\":\"x]}\\\"y\"}»«b {}»");
}

TEST(ToolCallParserTest, MistralNameArgsForm) {
  const std::string out =
      "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Oslo\"}[TOOL_CALLS]get_time[CALL_ID]abc123def[ARGS]{}";
  EXPECT_EQ(parse(F::kMistral, out), "«get_weather {\"city\":\"Oslo\"}»«get_time {}»");
}

TEST(ToolCallParserTest, MistralBrokenBlocksStayText) {
  EXPECT_EQ(parse(F::kMistral, "[TOOL_CALLS][{\"name\": 1}] ok"), "[TOOL_CALLS][{\"name\": 1}] ok");
  EXPECT_EQ(parse(F::kMistral, "[TOOL_CALLS][{\"name\": \"a\""), "[TOOL_CALLS][{\"name\": \"a\"");
  EXPECT_EQ(parse(F::kMistral, "[TOOL_CALLS]"), "[TOOL_CALLS]");
  EXPECT_EQ(parse(F::kMistral, "x [TOOL_CALLS]f[ARGS]nope"), "x [TOOL_CALLS]f[ARGS]nope");
  const std::string long_name = "[TOOL_CALLS]" + std::string(300, 'n');
  EXPECT_EQ(parse(F::kMistral, long_name), long_name);
  // A block that is no call gives up only its marker: a call after it is still found, however the
  // output is chunked (found by the fuzz target: the long-name rule used to swallow what had arrived).
  EXPECT_EQ(parse(F::kMistral, "[TOOL_CALLS]oops [TOOL_CALLS]f[ARGS]{}"), "[TOOL_CALLS]oops«f {}»");
  EXPECT_EQ(parse(F::kMistral, long_name + "[TOOL_CALLS]f[ARGS]{\"a\": 1}"), long_name + "«f {\"a\":1}»");
}

TEST(ToolCallParserTest, Llama3JsonCalls) {
  EXPECT_EQ(parse(F::kLlama3Json, "{\"name\": \"f\", \"parameters\": {\"a\": 1}}"), "«f {\"a\":1}»");
  EXPECT_EQ(parse(F::kLlama3Json, " <|python_tag|>{\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\"}"),
            "«f {}»«g {}»");
}

TEST(ToolCallParserTest, Llama3JsonTextStaysText) {
  for (const std::string text : {std::string("The answer is 4."), std::string("{\"answer\": 4}"),
                                 std::string(" <|python_tag|>brave_search.call(query=\"x\")"), std::string("<|python"),
                                 std::string("  "), std::string("{\"name\": \"f\", \"parameters\": {\"a\": 1}")}) {
    EXPECT_EQ(parse(F::kLlama3Json, text), text);
  }
  // Text after the calls is kept (the separator is gone).
  EXPECT_EQ(parse(F::kLlama3Json, "{\"name\": \"f\"} and more"), "«f {}»and more");
}

TEST(ToolCallParserTest, NoneIsAllText) {
  const std::string text = "<tool_call>{\"name\": \"a\"}</tool_call>";
  EXPECT_EQ(parse(F::kNone, text), text);
  EXPECT_EQ(count_calls(F::kNone, text), 0);
}

TEST(ToolCallParserTest, FormatNames) {
  for (auto f : {F::kNone, F::kHermes, F::kMistral, F::kLlama3Json}) {
    EXPECT_EQ(tool_call_format_from_name(tool_call_format_name(f)), f);
  }
  EXPECT_FALSE(tool_call_format_from_name("auto").has_value());
  EXPECT_FALSE(tool_call_format_from_name("Hermes").has_value());
}

TEST(ToolCallParserTest, DetectsThePublishedTemplates) {
  const auto detect = [](const std::string& file) {
    std::ifstream in(std::string(TANDEM_TEST_DATA) + "/templates/" + file);
    EXPECT_TRUE(in.good()) << file;
    std::stringstream ss;
    ss << in.rdbuf();
    return detect_tool_call_format(ss.str());
  };
  EXPECT_EQ(detect("qwen2.5.jinja"), F::kHermes);
  EXPECT_EQ(detect("qwen3.jinja"), F::kHermes);
  EXPECT_EQ(detect("mistral_nemo.jinja"), F::kMistral);
  EXPECT_EQ(detect("mistral_small_3.2.jinja"), F::kMistral);
  EXPECT_EQ(detect("llama3.1.jinja"), F::kLlama3Json);
  EXPECT_EQ(detect("llama3.2.jinja"), F::kLlama3Json);
  EXPECT_EQ(detect("smollm2.jinja"), F::kNone);
  EXPECT_EQ(detect("gemma2.jinja"), F::kNone);
  EXPECT_EQ(detect("gemma3.jinja"), F::kNone);
}

}  // namespace
}  // namespace tandem::text
