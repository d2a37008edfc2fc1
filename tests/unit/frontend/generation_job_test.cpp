// GenerationJob: SSE framing, final bodies, usage, stop strings, stop tokens,
// n > 1, logprobs and errors, checked by parsing the output with Boost.JSON.
#include "frontend/generation_job.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "common/metrics.h"
#include "support/byte_tokenizer.h"
#include "support/test_model.h"

namespace tandem::frontend {
namespace {

using scheduler::FinishReason;
using scheduler::TokenEvent;
using test::ByteTokenizer;
namespace json = boost::json;

class GenerationJobTest : public ::testing::Test {
 protected:
  std::unique_ptr<GenerationJob> make(const std::string& body, bool chat, RequestMetrics* metrics = nullptr) {
    Result<JobPlan> plan = chat ? [&]() -> Result<JobPlan> {
      auto r = parse_chat_request(body);
      if (!r.ok()) return r.status();
      return plan_chat(std::move(r.value()), model_);
    }()
        : [&]() -> Result<JobPlan> {
            auto r = parse_completion_request(body);
            if (!r.ok()) return r.status();
            return plan_completion(std::move(r.value()), model_);
          }();
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    return std::make_unique<GenerationJob>(std::move(plan.value()), model_, chat ? "chatcmpl-x" : "cmpl-x", 123,
                                           metrics);
  }

  static TokenEvent event(const std::string& bytes, FinishReason finish = FinishReason::kNone,
                          std::optional<int32_t> stop_token = std::nullopt) {
    TokenEvent ev;
    for (unsigned char c : bytes) ev.tokens.push_back({c, -0.5f, {}});
    if (stop_token) ev.tokens.push_back({*stop_token, -0.1f, {}});
    ev.finish = finish;
    ev.stop_token = stop_token;
    return ev;
  }

  void feed(GenerationJob& job, int choice, TokenEvent ev) {
    job.on_event(choice, std::move(ev), GenerationJob::Clock::now(), out_, cancels_);
  }

  // Splits SSE output into its data payloads.
  static std::vector<std::string> payloads(const std::string& sse) {
    std::vector<std::string> result;
    size_t pos = 0;
    while (pos < sse.size()) {
      const size_t end = sse.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos) << "unterminated event";
      if (end == std::string::npos) break;
      const std::string event = sse.substr(pos, end - pos);
      EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
      result.push_back(event.substr(6));
      pos = end + 2;
    }
    return result;
  }

  ServedModel model_ = test::make_test_model();
  std::string out_;
  std::vector<std::string> cancels_;
};

TEST_F(GenerationJobTest, ChatStreamFraming) {
  auto job = make(
      R"({"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}})", true);
  job->open_stream(out_);
  feed(*job, 0, event("He"));
  feed(*job, 0, event("y", FinishReason::kStop, ByteTokenizer::kEndOfText));
  ASSERT_TRUE(job->finished());
  job->close_stream(out_);
  const auto p = payloads(out_);
  ASSERT_EQ(p.size(), 6u) << out_;
  const auto role = json::parse(p[0]).as_object();
  EXPECT_EQ(role.at("id").as_string(), "chatcmpl-x");
  EXPECT_EQ(role.at("object").as_string(), "chat.completion.chunk");
  EXPECT_EQ(role.at("created").as_int64(), 123);
  EXPECT_EQ(role.at("model").as_string(), "tandem-test");
  EXPECT_TRUE(role.at("usage").is_null());
  const auto& c0 = role.at("choices").as_array()[0].as_object();
  EXPECT_EQ(c0.at("delta").as_object().at("role").as_string(), "assistant");
  EXPECT_TRUE(c0.at("finish_reason").is_null());
  EXPECT_EQ(json::parse(p[1]).at("choices").as_array()[0].at("delta").at("content").as_string(), "He");
  EXPECT_EQ(json::parse(p[2]).at("choices").as_array()[0].at("delta").at("content").as_string(), "y");
  const auto fin = json::parse(p[3]).at("choices").as_array()[0].as_object();
  EXPECT_EQ(fin.at("finish_reason").as_string(), "stop");
  EXPECT_TRUE(fin.at("delta").as_object().empty());
  const auto usage_chunk = json::parse(p[4]).as_object();
  EXPECT_TRUE(usage_chunk.at("choices").as_array().empty());
  const auto& usage = usage_chunk.at("usage").as_object();
  EXPECT_EQ(usage.at("completion_tokens").as_int64(), 4);  // H, e, y and the EOS token
  EXPECT_EQ(usage.at("prompt_tokens").as_int64(), job->prompt_tokens());
  EXPECT_EQ(usage.at("total_tokens").as_int64(), job->prompt_tokens() + 4);
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens").as_int64(), 0);
  EXPECT_EQ(p[5], "[DONE]");
}

TEST_F(GenerationJobTest, CompletionNonStreamingBody) {
  auto job = make(R"({"prompt":"ab","max_tokens":3})", false);
  TokenEvent first = event("c");
  first.prompt_tokens = 2;
  first.cached_tokens = 1;
  feed(*job, 0, std::move(first));
  EXPECT_FALSE(job->finished());
  feed(*job, 0, event("de", FinishReason::kLength));
  ASSERT_TRUE(job->finished());
  EXPECT_TRUE(out_.empty());  // nothing is streamed
  const auto body = json::parse(job->response_body()).as_object();
  EXPECT_EQ(body.at("object").as_string(), "text_completion");
  const auto& choice = body.at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("text").as_string(), "cde");
  EXPECT_EQ(choice.at("finish_reason").as_string(), "length");
  EXPECT_TRUE(choice.at("logprobs").is_null());
  EXPECT_EQ(body.at("usage").at("prompt_tokens").as_int64(), 2);
  EXPECT_EQ(body.at("usage").at("completion_tokens").as_int64(), 3);
  EXPECT_EQ(body.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 1);
}

TEST_F(GenerationJobTest, StopStringAcrossEventsCancelsAndHoldsBack) {
  auto job = make(R"({"prompt":"ab","stop":["END"],"stream":true})", false);
  job->open_stream(out_);
  EXPECT_TRUE(out_.empty());  // completions send no role chunk
  feed(*job, 0, event("xxE"));
  auto p = payloads(out_);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(json::parse(p[0]).at("choices").as_array()[0].at("text").as_string(), "xx");
  EXPECT_TRUE(cancels_.empty());
  feed(*job, 0, event("N"));
  EXPECT_FALSE(job->finished());
  feed(*job, 0, event("D tail"));
  ASSERT_TRUE(job->finished());
  ASSERT_EQ(cancels_.size(), 1u);
  EXPECT_EQ(cancels_[0], job->request_id(0));
  // Late events for the finished choice are ignored.
  feed(*job, 0, event("zz", FinishReason::kCancelled));
  job->close_stream(out_);
  p = payloads(out_);
  ASSERT_EQ(p.size(), 3u) << out_;
  EXPECT_EQ(json::parse(p[1]).at("choices").as_array()[0].at("finish_reason").as_string(), "stop");
  EXPECT_EQ(p[2], "[DONE]");
  // Tokens up to the one completing the stop string count: x x E N D.
  EXPECT_EQ(job->completion_tokens(), 5);
}

TEST_F(GenerationJobTest, StopReasonNamesTheStopStringOrToken) {
  auto by_string = make(R"({"prompt":"ab","stop":["END","xy"],"stream":true})", false);
  feed(*by_string, 0, event("aEND"));
  auto p = payloads(out_);
  ASSERT_EQ(p.size(), 2u) << out_;
  EXPECT_EQ(json::parse(p[1]).at("choices").as_array()[0].at("stop_reason").as_string(), "END");
  out_.clear();
  auto by_token = make(R"({"prompt":"ab","stop_token_ids":[258]})", false);
  feed(*by_token, 0, event("a", FinishReason::kStop, ByteTokenizer::kImEnd));
  EXPECT_EQ(json::parse(by_token->response_body()).at("choices").as_array()[0].at("stop_reason").as_int64(), 258);
  auto by_eos = make(R"({"messages":[{"role":"user","content":"x"}]})", true);
  feed(*by_eos, 0, event("a", FinishReason::kStop, ByteTokenizer::kEndOfText));
  EXPECT_TRUE(json::parse(by_eos->response_body()).at("choices").as_array()[0].at("stop_reason").is_null());
  auto by_length = make(R"({"prompt":"ab"})", false);
  feed(*by_length, 0, event("a", FinishReason::kLength));
  EXPECT_TRUE(json::parse(by_length->response_body()).at("choices").as_array()[0].at("stop_reason").is_null());
}

TEST_F(GenerationJobTest, ContinuousUsageStatsOnEveryChunk) {
  auto job = make(R"({"messages":[{"role":"user","content":"x"}],"stream":true,)"
                  R"("stream_options":{"include_usage":true,"continuous_usage_stats":true}})",
                  true);
  job->open_stream(out_);
  feed(*job, 0, event("ab"));
  feed(*job, 0, event("c", FinishReason::kLength));
  job->close_stream(out_);
  const auto p = payloads(out_);
  ASSERT_EQ(p.size(), 6u) << out_;  // role, "ab", "c", finish, usage, [DONE]
  const auto usage = [&](size_t i) { return json::parse(p[i]).at("usage"); };
  EXPECT_EQ(usage(0).at("completion_tokens").as_int64(), 0);
  EXPECT_EQ(usage(1).at("completion_tokens").as_int64(), 2);
  EXPECT_EQ(usage(2).at("completion_tokens").as_int64(), 3);
  EXPECT_EQ(usage(3).at("completion_tokens").as_int64(), 3);
  EXPECT_EQ(usage(2).at("total_tokens").as_int64(),
            usage(2).at("prompt_tokens").as_int64() + usage(2).at("completion_tokens").as_int64());
  EXPECT_GT(usage(0).at("prompt_tokens").as_int64(), 0);
}

TEST_F(GenerationJobTest, IncludeStopStringInOutput) {
  auto job = make(R"({"prompt":"ab","stop":"END","include_stop_str_in_output":true})", false);
  feed(*job, 0, event("aEN"));
  feed(*job, 0, event("Db"));
  ASSERT_TRUE(job->finished());
  const auto body = json::parse(job->response_body());
  EXPECT_EQ(body.at("choices").as_array()[0].at("text").as_string(), "aEND");
}

TEST_F(GenerationJobTest, HeldStopPrefixIsFlushedAtTheEnd) {
  auto job = make(R"({"prompt":"ab","stop":"END"})", false);
  feed(*job, 0, event("aEN", FinishReason::kLength));
  ASSERT_TRUE(job->finished());
  EXPECT_EQ(json::parse(job->response_body()).at("choices").as_array()[0].at("text").as_string(), "aEN");
}

TEST_F(GenerationJobTest, SplitUtf8IsNeverEmittedHalfway) {
  auto job = make(R"({"prompt":"ab","stream":true})", false);
  feed(*job, 0, event("a\xE2\x82"));
  feed(*job, 0, event("\xAC", FinishReason::kLength));
  const auto p = payloads(out_);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(json::parse(p[0]).at("choices").as_array()[0].at("text").as_string(), "a");
  EXPECT_EQ(json::parse(p[1]).at("choices").as_array()[0].at("text").as_string(), "\xE2\x82\xAC");
}

TEST_F(GenerationJobTest, MultipleChoicesHaveTheirOwnIndexAndSeed) {
  auto job = make(R"({"messages":[{"role":"user","content":"x"}],"n":3,"seed":10})", true);
  ASSERT_EQ(job->choice_count(), 3);
  for (int i = 0; i < 3; ++i) {
    const auto r = job->make_request(i);
    EXPECT_EQ(r.id, job->request_id(i));
    EXPECT_EQ(r.sampling.seed, 10u + static_cast<uint64_t>(i));
  }
  EXPECT_NE(job->request_id(0), job->request_id(1));
  feed(*job, 2, event("two", FinishReason::kLength));
  feed(*job, 0, event("zero", FinishReason::kStop, ByteTokenizer::kEndOfText));
  EXPECT_FALSE(job->finished());
  feed(*job, 1, event("one", FinishReason::kLength));
  ASSERT_TRUE(job->finished());
  const auto body = json::parse(job->response_body()).as_object();
  const auto& choices = body.at("choices").as_array();
  ASSERT_EQ(choices.size(), 3u);
  const char* texts[] = {"zero", "one", "two"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(choices[i].at("index").as_int64(), static_cast<int64_t>(i));
    EXPECT_EQ(choices[i].at("message").at("content").as_string(), texts[i]);
    EXPECT_EQ(choices[i].at("message").at("role").as_string(), "assistant");
  }
  EXPECT_EQ(choices[0].at("finish_reason").as_string(), "stop");
  EXPECT_EQ(body.at("usage").at("completion_tokens").as_int64(), 5 + 3 + 3);
}

TEST_F(GenerationJobTest, ChatLogprobsShape) {
  auto job = make(R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":2})", true);
  TokenEvent ev;
  ev.tokens.push_back({'A', -0.25f, {{'A', -0.25f}, {'B', -1.5f}}});
  ev.finish = FinishReason::kLength;
  feed(*job, 0, std::move(ev));
  const auto body = json::parse(job->response_body());
  const auto& content = body.at("choices").as_array()[0].at("logprobs").at("content").as_array();
  ASSERT_EQ(content.size(), 1u);
  EXPECT_EQ(content[0].at("token").as_string(), "A");
  EXPECT_DOUBLE_EQ(content[0].at("logprob").to_number<double>(), -0.25);
  EXPECT_EQ(content[0].at("bytes").as_array().size(), 1u);
  EXPECT_EQ(content[0].at("bytes").as_array()[0].as_int64(), 65);
  const auto& top = content[0].at("top_logprobs").as_array();
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[1].at("token").as_string(), "B");
  EXPECT_DOUBLE_EQ(top[1].at("logprob").to_number<double>(), -1.5);
}

TEST_F(GenerationJobTest, CompletionLogprobsShape) {
  auto job = make(R"({"prompt":"ab","logprobs":1})", false);
  TokenEvent ev;
  ev.tokens.push_back({'h', -0.5f, {{'h', -0.5f}}});
  ev.tokens.push_back({'i', -1.0f, {{'j', -0.75f}}});
  ev.finish = FinishReason::kLength;
  feed(*job, 0, std::move(ev));
  const auto lp = json::parse(job->response_body()).at("choices").as_array()[0].at("logprobs").as_object();
  EXPECT_EQ(lp.at("tokens").as_array().size(), 2u);
  EXPECT_EQ(lp.at("tokens").as_array()[1].as_string(), "i");
  EXPECT_DOUBLE_EQ(lp.at("token_logprobs").as_array()[1].to_number<double>(), -1.0);
  EXPECT_DOUBLE_EQ(lp.at("top_logprobs").as_array()[1].at("j").to_number<double>(), -0.75);
  EXPECT_EQ(lp.at("text_offset").as_array()[0].as_int64(), 0);
  EXPECT_EQ(lp.at("text_offset").as_array()[1].as_int64(), 1);
}

TEST_F(GenerationJobTest, ErrorAfterStreamStartedIsAnErrorEvent) {
  auto job = make(R"({"messages":[{"role":"user","content":"x"}],"stream":true,"n":2})", true);
  job->open_stream(out_);
  feed(*job, 0, event("a"));
  TokenEvent err;
  err.finish = FinishReason::kError;
  err.error = Status(ErrorKind::kDevice, "GPU fell off the bus");
  feed(*job, 1, std::move(err));
  ASSERT_TRUE(job->finished());
  EXPECT_EQ(cancels_.size(), 1u);  // the other, unfinished choice
  job->close_stream(out_);
  const auto p = payloads(out_);
  ASSERT_GE(p.size(), 2u);
  const auto e = json::parse(p[p.size() - 2]).as_object();
  EXPECT_EQ(e.at("error").at("message").as_string(), "GPU fell off the bus");
  EXPECT_EQ(e.at("error").at("type").as_string(), "server_error");
  EXPECT_EQ(p.back(), "[DONE]");
}

TEST_F(GenerationJobTest, CancelledFinishIsAbort) {
  auto job = make(R"({"prompt":"ab"})", false);
  feed(*job, 0, event("q", FinishReason::kCancelled));
  EXPECT_EQ(json::parse(job->response_body()).at("choices").as_array()[0].at("finish_reason").as_string(), "abort");
}

TEST_F(GenerationJobTest, EchoStreamsThePromptFirst) {
  auto job = make(R"({"prompt":"ab","echo":true,"stream":true})", false);
  job->open_stream(out_);
  const auto p = payloads(out_);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(json::parse(p[0]).at("choices").as_array()[0].at("text").as_string(), "ab");
}

TEST_F(GenerationJobTest, SkipSpecialTokensFalseRendersControlTokens) {
  auto job = make(R"({"prompt":"ab","skip_special_tokens":false})", false);
  TokenEvent ev = event("a");
  ev.tokens.push_back({ByteTokenizer::kImEnd, 0.0f, {}});
  ev.finish = FinishReason::kLength;
  feed(*job, 0, std::move(ev));
  EXPECT_EQ(json::parse(job->response_body()).at("choices").as_array()[0].at("text").as_string(), "a<|im_end|>");
}

TEST_F(GenerationJobTest, RecordsMetrics) {
  metrics::Registry registry;
  RequestMetrics m(registry);
  auto job = make(R"({"prompt":"abcd","max_tokens":3})", false, &m);
  feed(*job, 0, event("x"));
  feed(*job, 0, event("yz", FinishReason::kLength));
  EXPECT_DOUBLE_EQ(m.prompt_tokens.value(), 4);
  EXPECT_DOUBLE_EQ(m.generation_tokens.value(), 3);
  EXPECT_EQ(m.ttft.count(), 1u);
  EXPECT_EQ(m.inter_token_latency.count(), 2u);
  EXPECT_EQ(m.e2e_latency.count(), 1u);
  const std::string text = registry.render();
  EXPECT_NE(text.find("tandem_request_success_total{finished_reason=\"length\"} 1"), std::string::npos) << text;
}

TEST_F(GenerationJobTest, AbortOpenEndsEveryOpenChoiceAsAbort) {
  metrics::Registry registry;
  RequestMetrics m(registry);
  auto job = make(R"({"prompt":"ab","max_tokens":50,"n":2,"stream":true})", false, &m);
  job->open_stream(out_);
  feed(*job, 0, event("xy", FinishReason::kLength));
  feed(*job, 1, event("z"));
  out_.clear();
  cancels_.clear();
  job->abort_open(GenerationJob::Clock::now(), out_, cancels_);
  ASSERT_TRUE(job->finished());
  EXPECT_EQ(cancels_, (std::vector<std::string>{job->request_id(1)}));
  job->close_stream(out_);
  const auto events = payloads(out_);
  ASSERT_EQ(events.size(), 2u);
  const json::value chunk = json::parse(events[0]);
  const auto& choice = chunk.at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("index").as_int64(), 1);
  EXPECT_EQ(choice.at("finish_reason").as_string(), "abort");
  EXPECT_EQ(events[1], "[DONE]");
  const std::string text = registry.render();
  EXPECT_NE(text.find("tandem_request_success_total{finished_reason=\"abort\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("tandem_request_success_total{finished_reason=\"length\"} 1"), std::string::npos) << text;
}

TEST_F(GenerationJobTest, AbortOpenGivesAWholeResponse) {
  auto job = make(R"({"prompt":"ab","max_tokens":50})", false);
  feed(*job, 0, event("hello"));
  job->abort_open(GenerationJob::Clock::now(), out_, cancels_);
  ASSERT_TRUE(job->finished());
  EXPECT_TRUE(out_.empty());
  const auto choice = json::parse(job->response_body()).at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("text").as_string(), "hello");
  EXPECT_EQ(choice.at("finish_reason").as_string(), "abort");
}

// Tool calls: the test model "writes" hermes calls (its format is set per test).
constexpr const char* kToolsChat =
    R"({"messages":[{"role":"user","content":"weather?"}],)"
    R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}])";

const std::string kTwoCalls =
    "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n"
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>";

TEST_F(GenerationJobTest, ToolCallsInTheResponseBody) {
  model_.tool_call_format = text::ToolCallFormat::kHermes;
  metrics::Registry registry;
  RequestMetrics m(registry);
  auto job = make(std::string(kToolsChat) + "}", true, &m);
  feed(*job, 0, event(kTwoCalls.substr(0, 40)));
  feed(*job, 0, event(kTwoCalls.substr(40), FinishReason::kStop, ByteTokenizer::kEndOfText));
  ASSERT_TRUE(job->finished());
  const auto body = json::parse(job->response_body()).as_object();
  const auto& choice = body.at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("finish_reason").as_string(), "tool_calls");
  const auto& msg = choice.at("message").as_object();
  EXPECT_EQ(msg.at("content").as_string(), "Checking.");
  const auto& calls = msg.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const auto& call = calls[k].as_object();
    EXPECT_EQ(call.at("type").as_string(), "function");
    EXPECT_EQ(call.at("id").as_string().size(), 29u);
    EXPECT_EQ(std::string(call.at("id").as_string()).rfind("call_", 0), 0u);
    EXPECT_EQ(call.at("function").at("name").as_string(), "get_weather");
    EXPECT_FALSE(call.contains("index"));
  }
  EXPECT_NE(calls[0].at("id"), calls[1].at("id"));
  EXPECT_EQ(json::parse(calls[0].at("function").at("arguments").as_string()), json::parse(R"({"city":"Oslo"})"));
  EXPECT_EQ(json::parse(calls[1].at("function").at("arguments").as_string()), json::parse(R"({"city":"Rome"})"));
  // Metrics keep the engine's reason.
  EXPECT_NE(registry.render().find("finished_reason=\"stop\"} 1"), std::string::npos);
}

TEST_F(GenerationJobTest, ToolCallOnlyHasNullContentAndParallelFalseKeepsOne) {
  model_.tool_call_format = text::ToolCallFormat::kHermes;
  auto job = make(std::string(kToolsChat) + R"(,"parallel_tool_calls":false})", true);
  const std::string calls = kTwoCalls.substr(kTwoCalls.find("<tool_call>"));
  feed(*job, 0, event(calls, FinishReason::kStop, ByteTokenizer::kEndOfText));
  const auto body = json::parse(job->response_body()).as_object();
  const auto& msg = body.at("choices").as_array()[0].at("message").as_object();
  EXPECT_TRUE(msg.at("content").is_null());
  ASSERT_EQ(msg.at("tool_calls").as_array().size(), 1u);
  EXPECT_EQ(json::parse(msg.at("tool_calls").as_array()[0].at("function").at("arguments").as_string()),
            json::parse(R"({"city":"Oslo"})"));
}

TEST_F(GenerationJobTest, ToolCallsStreamAsDeltas) {
  model_.tool_call_format = text::ToolCallFormat::kHermes;
  auto job = make(std::string(kToolsChat) + R"(,"stream":true})", true);
  job->open_stream(out_);
  for (char ch : kTwoCalls) feed(*job, 0, event(std::string(1, ch)));  // one byte per event
  feed(*job, 0, event("", FinishReason::kStop, ByteTokenizer::kEndOfText));
  job->close_stream(out_);
  std::string content;
  std::vector<json::object> calls;
  std::string finish;
  for (const auto& p : payloads(out_)) {
    if (p == "[DONE]") continue;
    const json::value chunk = json::parse(p);
    const auto& ch = chunk.at("choices").as_array()[0].as_object();
    if (ch.at("finish_reason").is_string()) finish = ch.at("finish_reason").as_string();
    const auto& delta = ch.at("delta").as_object();
    if (const auto* c = delta.if_contains("content")) content += c->as_string();
    if (const auto* tc = delta.if_contains("tool_calls")) {
      ASSERT_EQ(tc->as_array().size(), 1u);
      calls.push_back(tc->as_array()[0].as_object());
    }
  }
  EXPECT_EQ(content, "Checking.");
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_EQ(calls.size(), 2u);
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(calls[k].at("index").as_int64(), k);
    EXPECT_EQ(calls[k].at("type").as_string(), "function");
    EXPECT_EQ(calls[k].at("function").at("name").as_string(), "get_weather");
  }
  EXPECT_EQ(json::parse(calls[1].at("function").at("arguments").as_string()), json::parse(R"({"city":"Rome"})"));
  // Nothing of the markup leaked into the text.
  EXPECT_EQ(out_.find("tool_call>"), std::string::npos);
}

TEST_F(GenerationJobTest, ToolCallsKeepLengthAndMistralIds) {
  model_.tool_call_format = text::ToolCallFormat::kMistral;
  auto job = make(std::string(kToolsChat) + "}", true);
  feed(*job, 0,
       event(R"([TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}}])", FinishReason::kLength));
  const auto body = json::parse(job->response_body()).as_object();
  const auto& choice = body.at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("finish_reason").as_string(), "length");  // only "stop" becomes "tool_calls"
  const auto& id = choice.at("message").at("tool_calls").as_array()[0].at("id").as_string();
  EXPECT_EQ(id.size(), 9u);
}

TEST_F(GenerationJobTest, WithoutToolsTheMarkupIsText) {
  model_.tool_call_format = text::ToolCallFormat::kHermes;
  auto job = make(R"({"messages":[{"role":"user","content":"x"}]})", true);
  feed(*job, 0, event(kTwoCalls, FinishReason::kStop, ByteTokenizer::kEndOfText));
  const json::value body = json::parse(job->response_body());
  const auto& choice = body.at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("message").at("content").as_string(), kTwoCalls);
  EXPECT_FALSE(choice.at("message").as_object().contains("tool_calls"));
  EXPECT_EQ(choice.at("finish_reason").as_string(), "stop");
}

// Reasoning: the test model "writes" a think block (its format is set per test).
constexpr const char* kPlainChat = R"({"messages":[{"role":"user","content":"9.11 or 9.8?"}])";
const std::string kThought = "<think>\nCompare 9.11 and 9.80.\n</think>\n\n9.8 is greater.";

TEST_F(GenerationJobTest, ReasoningInTheResponseBody) {
  model_.reasoning_format = text::ReasoningFormat::kQwen3;
  auto job = make(std::string(kPlainChat) + "}", true);
  feed(*job, 0, event(kThought.substr(0, 11)));
  feed(*job, 0, event(kThought.substr(11), FinishReason::kStop, ByteTokenizer::kEndOfText));
  const auto body = json::parse(job->response_body()).as_object();
  const auto& choice = body.at("choices").as_array()[0].as_object();
  const auto& msg = choice.at("message").as_object();
  EXPECT_EQ(msg.at("content").as_string(), "9.8 is greater.");
  EXPECT_EQ(msg.at("reasoning_content").as_string(), "Compare 9.11 and 9.80.");
  EXPECT_EQ(msg.at("reasoning").as_string(), "Compare 9.11 and 9.80.");
  EXPECT_EQ(choice.at("finish_reason").as_string(), "stop");
  // Usage counts every generated token, reasoning included.
  EXPECT_EQ(body.at("usage").at("completion_tokens").as_int64(), static_cast<int64_t>(kThought.size()) + 1);
}

TEST_F(GenerationJobTest, ReasoningStreamsAsDeltasBeforeTheAnswer) {
  model_.reasoning_format = text::ReasoningFormat::kQwen3;
  auto job = make(std::string(kPlainChat) + R"(,"stream":true,"logprobs":true})", true);
  job->open_stream(out_);
  for (char ch : kThought) feed(*job, 0, event(std::string(1, ch)));  // one byte per event
  feed(*job, 0, event("", FinishReason::kStop, ByteTokenizer::kEndOfText));
  job->close_stream(out_);
  std::string reasoning, reasoning_alias, content;
  size_t logprob_entries = 0;
  bool answer_started = false;
  for (const auto& p : payloads(out_)) {
    if (p == "[DONE]") continue;
    const json::value chunk = json::parse(p);
    const auto& ch = chunk.at("choices").as_array()[0].as_object();
    const auto& delta = ch.at("delta").as_object();
    if (const auto* r = delta.if_contains("reasoning_content")) {
      EXPECT_FALSE(answer_started) << "reasoning after the answer began";
      reasoning += r->as_string();
      reasoning_alias += delta.at("reasoning").as_string();
    }
    if (const auto* c = delta.if_contains("content")) {
      content += c->as_string();
      answer_started = answer_started || !c->as_string().empty();
    }
    if (ch.at("logprobs").is_object()) logprob_entries += ch.at("logprobs").at("content").as_array().size();
  }
  EXPECT_EQ(reasoning, "Compare 9.11 and 9.80.");
  EXPECT_EQ(reasoning_alias, reasoning);
  EXPECT_EQ(content, "9.8 is greater.");
  EXPECT_EQ(logprob_entries, kThought.size());  // every rendered token's logprob, on some chunk
  EXPECT_EQ(out_.find("think>"), std::string::npos);
}

TEST_F(GenerationJobTest, ReasoningOpenedByThePromptAndDropped) {
  model_.reasoning_format = text::ReasoningFormat::kQwen3;
  // A template that ends the generation prompt inside a think block.
  model_.render_chat = [](const boost::json::object& ctx) -> Result<std::string> {
    auto r = test::render_chatml(ctx);
    if (r.ok()) r.value() += "<think>\n";
    return r;
  };
  auto job = make(std::string(kPlainChat) + "}", true);
  feed(*job, 0, event("Compare.\n</think>\n\nIt is 9.8.", FinishReason::kStop, ByteTokenizer::kEndOfText));
  auto msg = json::parse(job->response_body()).at("choices").as_array()[0].at("message").as_object();
  EXPECT_EQ(msg.at("reasoning_content").as_string(), "Compare.");
  EXPECT_EQ(msg.at("content").as_string(), "It is 9.8.");

  job = make(std::string(kPlainChat) + R"(,"include_reasoning":false})", true);
  feed(*job, 0, event("Compare.\n</think>\n\nIt is 9.8.", FinishReason::kStop, ByteTokenizer::kEndOfText));
  msg = json::parse(job->response_body()).at("choices").as_array()[0].at("message").as_object();
  EXPECT_TRUE(msg.at("reasoning_content").is_null());
  EXPECT_EQ(msg.at("content").as_string(), "It is 9.8.");
}

TEST_F(GenerationJobTest, ReasoningThenToolCall) {
  model_.reasoning_format = text::ReasoningFormat::kQwen3;
  model_.tool_call_format = text::ToolCallFormat::kHermes;
  auto job = make(std::string(kToolsChat) + "}", true);
  const std::string out =
      "<think>\nI need the weather.\n</think>\n\n" + kTwoCalls.substr(kTwoCalls.find("<tool_call>"));
  feed(*job, 0, event(out, FinishReason::kStop, ByteTokenizer::kEndOfText));
  const auto body = json::parse(job->response_body()).as_object();
  const auto& choice = body.at("choices").as_array()[0].as_object();
  const auto& msg = choice.at("message").as_object();
  EXPECT_TRUE(msg.at("content").is_null());
  EXPECT_EQ(msg.at("reasoning_content").as_string(), "I need the weather.");
  EXPECT_EQ(msg.at("tool_calls").as_array().size(), 2u);
  EXPECT_EQ(choice.at("finish_reason").as_string(), "tool_calls");
}

TEST_F(GenerationJobTest, WithoutAReasoningFormatThereAreNoReasoningFields) {
  auto job = make(std::string(kPlainChat) + "}", true);
  feed(*job, 0, event(kThought, FinishReason::kStop, ByteTokenizer::kEndOfText));
  const auto msg = json::parse(job->response_body()).at("choices").as_array()[0].at("message").as_object();
  EXPECT_EQ(msg.at("content").as_string(), kThought);
  EXPECT_FALSE(msg.contains("reasoning_content"));
  EXPECT_FALSE(msg.contains("reasoning"));
}

}  // namespace
}  // namespace tandem::frontend
