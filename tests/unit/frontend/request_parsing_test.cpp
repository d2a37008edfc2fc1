// Request parsing and validation: every 400 the frontend promises, with the
// field named in `param`, plus the accepted shapes.
#include <string>

#include <gtest/gtest.h>

#include "frontend/chat_request.h"
#include "frontend/completion_request.h"
#include "frontend/tokenize_request.h"

namespace tandem::frontend {
namespace {

constexpr const char* kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

std::string chat(const std::string& extra) {
  return std::string("{") + kMsgs + (extra.empty() ? "" : "," + extra) + "}";
}

void expect_invalid(const Result<ChatRequest>& r, const std::string& param) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidRequest) << r.status().message();
  EXPECT_EQ(r.status().param(), param) << r.status().message();
  EXPECT_NE(r.status().message().find(param), std::string::npos) << r.status().message();
}

TEST(ChatRequestTest, MinimalRequestGetsDefaults) {
  auto r = parse_chat_request(chat(""));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->messages.size(), 1u);
  EXPECT_TRUE(r->add_generation_prompt);
  EXPECT_EQ(r->options.n, 1);
  EXPECT_FALSE(r->options.max_tokens.has_value());
  EXPECT_FALSE(r->options.temperature.has_value());
  EXPECT_EQ(r->options.logprobs, -1);
  EXPECT_TRUE(r->options.skip_special_tokens);
  EXPECT_FALSE(r->options.stream);
}

TEST(ChatRequestTest, AllFieldsParsed) {
  auto r = parse_chat_request(
      chat(R"("model":"m","max_tokens":5,"max_completion_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,)"
           R"("min_p":0.1,"presence_penalty":1.5,"frequency_penalty":-1,"repetition_penalty":1.1,)"
           R"("logit_bias":{"65":5,"66":-200},"seed":-3,"stop":["a","b"],"stop_token_ids":[1,2],)"
           R"("ignore_eos":true,"min_tokens":2,"logprobs":true,"top_logprobs":3,"stream":true,)"
           R"("stream_options":{"include_usage":true},"include_stop_str_in_output":true,)"
           R"("skip_special_tokens":false,"user":"u","n":2,"tools":[{"type":"function","function":{"name":"f"}}],)"
           R"("chat_template_kwargs":{"enable_thinking":false},"add_generation_prompt":false,"unknown":1)"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& o = r->options;
  EXPECT_EQ(o.model, "m");
  EXPECT_EQ(o.max_tokens, 7);  // max_completion_tokens wins
  EXPECT_DOUBLE_EQ(*o.temperature, 0.5);
  EXPECT_DOUBLE_EQ(*o.top_p, 0.9);
  EXPECT_EQ(o.top_k, 40);
  EXPECT_DOUBLE_EQ(*o.min_p, 0.1);
  EXPECT_DOUBLE_EQ(o.presence_penalty, 1.5);
  EXPECT_DOUBLE_EQ(o.frequency_penalty, -1);
  EXPECT_DOUBLE_EQ(*o.repetition_penalty, 1.1);
  ASSERT_EQ(o.logit_bias.size(), 2u);
  EXPECT_EQ(o.logit_bias[1].first, 66);
  EXPECT_FLOAT_EQ(o.logit_bias[1].second, -100.0f);  // clamped like vLLM
  EXPECT_EQ(o.seed, -3);
  EXPECT_EQ(o.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o.stop_token_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(o.ignore_eos);
  EXPECT_EQ(o.min_tokens, 2);
  EXPECT_EQ(o.logprobs, 3);
  EXPECT_TRUE(o.stream);
  EXPECT_TRUE(o.include_usage);
  EXPECT_TRUE(o.include_stop_str_in_output);
  EXPECT_FALSE(o.skip_special_tokens);
  EXPECT_EQ(o.user, "u");
  EXPECT_EQ(o.n, 2);
  ASSERT_TRUE(r->tools.has_value());
  EXPECT_EQ(r->tools->size(), 1u);
  EXPECT_FALSE(r->template_kwargs.at("enable_thinking").as_bool());
  EXPECT_FALSE(r->add_generation_prompt);
}

TEST(ChatRequestTest, NullMeansUnset) {
  auto r = parse_chat_request(chat(R"("temperature":null,"stop":null,"max_tokens":null,"stream_options":null)"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->options.temperature.has_value());
  EXPECT_TRUE(r->options.stop.empty());
}

TEST(ChatRequestTest, StringStopAndIntegralFloat) {
  auto r = parse_chat_request(chat(R"("stop":"END","max_tokens":16.0)"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->options.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r->options.max_tokens, 16);
}

TEST(ChatRequestTest, InvalidJsonAndBodies) {
  for (const char* body : {"{", "", "[1,2]", "\"x\"", "{\"messages\": [}", "nul"}) {
    auto r = parse_chat_request(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidRequest);
  }
}

TEST(ChatRequestTest, RangeErrorsNameTheField) {
  expect_invalid(parse_chat_request(chat(R"("temperature":-0.1)")), "temperature");
  expect_invalid(parse_chat_request(chat(R"("top_p":0)")), "top_p");
  expect_invalid(parse_chat_request(chat(R"("top_p":1.5)")), "top_p");
  expect_invalid(parse_chat_request(chat(R"("top_k":-2)")), "top_k");
  expect_invalid(parse_chat_request(chat(R"("min_p":1.5)")), "min_p");
  expect_invalid(parse_chat_request(chat(R"("presence_penalty":2.5)")), "presence_penalty");
  expect_invalid(parse_chat_request(chat(R"("frequency_penalty":-3)")), "frequency_penalty");
  expect_invalid(parse_chat_request(chat(R"("repetition_penalty":0)")), "repetition_penalty");
  expect_invalid(parse_chat_request(chat(R"("n":0)")), "n");
  expect_invalid(parse_chat_request(chat(R"("max_tokens":0)")), "max_tokens");
  expect_invalid(parse_chat_request(chat(R"("max_completion_tokens":-1)")), "max_completion_tokens");
  expect_invalid(parse_chat_request(chat(R"("logprobs":true,"top_logprobs":21)")), "top_logprobs");
  expect_invalid(parse_chat_request(chat(R"("logprobs":true,"top_logprobs":-1)")), "top_logprobs");
  expect_invalid(parse_chat_request(chat(R"("top_logprobs":2)")), "top_logprobs");
  expect_invalid(parse_chat_request(chat(R"("logprobs":false,"top_logprobs":2)")), "top_logprobs");
  expect_invalid(parse_chat_request(chat(R"("stream_options":{"include_usage":true})")), "stream_options");
  expect_invalid(parse_chat_request(chat(R"("stream":false,"stream_options":{})")), "stream_options");
  expect_invalid(parse_chat_request(chat(R"("max_tokens":3,"min_tokens":4)")), "min_tokens");
  expect_invalid(parse_chat_request(chat(R"("min_tokens":-1)")), "min_tokens");
  expect_invalid(parse_chat_request(chat(R"("stop":["ok",""])")), "stop");
  expect_invalid(parse_chat_request(chat(R"("stop":"")")), "stop");
  expect_invalid(parse_chat_request(chat(R"("logit_bias":{"abc":1})")), "logit_bias");
  expect_invalid(parse_chat_request(chat(R"("logit_bias":{"5":"x"})")), "logit_bias");
  expect_invalid(parse_chat_request(chat(R"("logit_bias":[1])")), "logit_bias");
}

TEST(ChatRequestTest, TypeErrorsNameTheField) {
  expect_invalid(parse_chat_request(chat(R"("temperature":"hot")")), "temperature");
  expect_invalid(parse_chat_request(chat(R"("temperature":true)")), "temperature");
  expect_invalid(parse_chat_request(chat(R"("max_tokens":1.5)")), "max_tokens");
  expect_invalid(parse_chat_request(chat(R"("max_tokens":"5")")), "max_tokens");
  expect_invalid(parse_chat_request(chat(R"("stream":"yes")")), "stream");
  expect_invalid(parse_chat_request(chat(R"("logprobs":1)")), "logprobs");
  expect_invalid(parse_chat_request(chat(R"("model":5)")), "model");
  expect_invalid(parse_chat_request(chat(R"("stop":5)")), "stop");
  expect_invalid(parse_chat_request(chat(R"("stop_token_ids":[1,"a"])")), "stop_token_ids");
  expect_invalid(parse_chat_request(chat(R"("seed":"x")")), "seed");
  expect_invalid(parse_chat_request(chat(R"("n":2.5)")), "n");
  expect_invalid(parse_chat_request(chat(R"("tools":{})")), "tools");
  expect_invalid(parse_chat_request(chat(R"("chat_template_kwargs":[])")), "chat_template_kwargs");
  expect_invalid(parse_chat_request(chat(R"("ignore_eos":1)")), "ignore_eos");
  expect_invalid(parse_chat_request(chat(R"("user":1)")), "user");
}

TEST(ChatRequestTest, MessageShapes) {
  expect_invalid(parse_chat_request(R"({})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[]})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":"hi"})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[1]})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[{"content":"x"}]})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[{"role":"wizard","content":"x"}]})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[{"role":"user"}]})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[{"role":"user","content":5}]})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[{"role":"user","content":[{"text":"x"}]}]})"), "messages");
  expect_invalid(parse_chat_request(R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})"), "messages");
  auto image =
      parse_chat_request(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(image.status().message().find("image_url"), std::string::npos);

  auto ok = parse_chat_request(
      R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},)"
      R"({"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","content":"r","tool_call_id":"1"},{"role":"developer","content":"d"}]})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  // Messages are passed through unchanged (content-part arrays stay arrays).
  EXPECT_TRUE(ok->messages[1].as_object().at("content").is_array());
}

TEST(ChatRequestTest, ToolsAndToolChoice) {
  const std::string tool = R"({"type":"function","function":{"name":"f","description":"d","parameters":{}}})";
  expect_invalid(parse_chat_request(chat(R"("tools":{})")), "tools");
  expect_invalid(parse_chat_request(chat(R"("tools":[1])")), "tools");
  expect_invalid(parse_chat_request(chat(R"("tools":[{"type":"fn","function":{"name":"f"}}])")), "tools");
  expect_invalid(parse_chat_request(chat(R"("tools":[{"type":"function"}])")), "tools");
  expect_invalid(parse_chat_request(chat(R"("tools":[{"type":"function","function":{"name":""}}])")), "tools");
  expect_invalid(parse_chat_request(chat(R"("tools":[{"type":"function","function":{"name":"f","parameters":3}}])")),
                 "tools");
  expect_invalid(parse_chat_request(chat(R"("tool_choice":"auto")")), "tool_choice");  // no tools
  expect_invalid(parse_chat_request(chat(R"("tools":[)" + tool + R"(],"tool_choice":"maybe")")), "tool_choice");
  expect_invalid(parse_chat_request(chat(R"("tools":[)" + tool + R"(],"tool_choice":5)")), "tool_choice");
  expect_invalid(parse_chat_request(chat(R"("tools":[)" + tool + R"(],"tool_choice":{"type":"function"})")),
                 "tool_choice");
  expect_invalid(parse_chat_request(chat(R"("tools":[)" + tool + R"(],"parallel_tool_calls":"no")")),
                 "parallel_tool_calls");
  auto defaults = parse_chat_request(chat(R"("tools":[)" + tool + "]"));
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_EQ(defaults->tool_choice, ToolChoice::kAuto);
  EXPECT_TRUE(defaults->parallel_tool_calls);
  auto none = parse_chat_request(chat(R"("tools":[)" + tool + R"(],"tool_choice":"none","parallel_tool_calls":false)"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->tool_choice, ToolChoice::kNone);
  EXPECT_FALSE(none->parallel_tool_calls);
  auto empty = parse_chat_request(chat(R"("tools":[],"tool_choice":"auto")"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->tool_choice, ToolChoice::kNone);  // nothing to call
  EXPECT_EQ(parse_chat_request(chat(""))->tool_choice, ToolChoice::kNone);
}

TEST(ChatRequestTest, ToolCallMessages) {
  const auto with_call = [](const std::string& role, const std::string& calls) {
    return R"({"messages":[{"role":"user","content":"q"},{"role":")" + role + R"(","content":null,"tool_calls":)" +
           calls + "}]}";
  };
  expect_invalid(parse_chat_request(with_call("user", "[]")), "messages");
  expect_invalid(parse_chat_request(with_call("assistant", R"("x")")), "messages");
  expect_invalid(parse_chat_request(with_call("assistant", R"([{"id":"1"}])")), "messages");
  expect_invalid(parse_chat_request(with_call("assistant", R"([{"function":{"arguments":"{}"}}])")), "messages");
  expect_invalid(parse_chat_request(with_call("assistant", R"([{"function":{"name":"f","arguments":"not json"}}])")),
                 "messages");
  expect_invalid(parse_chat_request(with_call("assistant", R"([{"function":{"name":"f","arguments":"[1]"}}])")),
                 "messages");
  EXPECT_TRUE(
      parse_chat_request(with_call("assistant", R"([{"function":{"name":"f","arguments":"{\"a\":1}"}}])")).ok());
  EXPECT_TRUE(parse_chat_request(with_call("assistant", R"([{"function":{"name":"f","arguments":{"a":1}}}])")).ok());
  EXPECT_TRUE(parse_chat_request(with_call("assistant", R"([{"function":{"name":"f"}}])")).ok());
}

TEST(CompletionRequestTest, PromptForms) {
  auto s = parse_completion_request(R"({"prompt":"abc"})");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->prompts.size(), 1u);
  EXPECT_EQ(*s->prompts[0].text, "abc");

  auto list = parse_completion_request(R"({"prompt":["a","b"],"n":2})");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->prompts.size(), 2u);

  auto ids = parse_completion_request(R"({"prompt":[1,2,3]})");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->prompts.size(), 1u);
  EXPECT_FALSE(ids->prompts[0].text.has_value());
  EXPECT_EQ(ids->prompts[0].tokens, (std::vector<int64_t>{1, 2, 3}));

  auto nested = parse_completion_request(R"({"prompt":[[1],[2,3]]})");
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->prompts.size(), 2u);
}

TEST(CompletionRequestTest, PromptErrors) {
  for (const char* body :
       {R"({})", R"({"prompt":null})", R"({"prompt":5})", R"({"prompt":[]})", R"({"prompt":["a",1]})",
        R"({"prompt":[1,"a"]})", R"({"prompt":[[1],[]]})", R"({"prompt":[true]})", R"({"prompt":{"a":1}})"}) {
    auto r = parse_completion_request(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().param(), "prompt") << body;
  }
}

TEST(CompletionRequestTest, CompletionSpecificFields) {
  auto r = parse_completion_request(R"({"prompt":"a","logprobs":5,"echo":true})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->options.logprobs, 5);
  EXPECT_TRUE(r->options.echo);
  auto bad = parse_completion_request(R"({"prompt":"a","logprobs":21})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().param(), "logprobs");
  auto boolean = parse_completion_request(R"({"prompt":"a","logprobs":true})");
  ASSERT_FALSE(boolean.ok());
  EXPECT_EQ(boolean.status().param(), "logprobs");
  auto many = parse_completion_request(R"({"prompt":["a","b","c"],"n":100})");
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().param(), "n");
}

TEST(TokenizeRequestTest, Shapes) {
  auto p = parse_tokenize_request(R"({"prompt":"hi"})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->add_special_tokens);
  auto m = parse_tokenize_request(R"({"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->add_special_tokens);
  EXPECT_TRUE(m->chat->add_generation_prompt);
  EXPECT_FALSE(parse_tokenize_request(R"({})").ok());
  EXPECT_FALSE(parse_tokenize_request(R"({"prompt":"a","messages":[]})").ok());
  EXPECT_FALSE(parse_tokenize_request(R"({"prompt":1})").ok());
  auto d = parse_detokenize_request(R"({"tokens":[72,105]})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tokens.size(), 2u);
  EXPECT_EQ(parse_detokenize_request(R"({"tokens":["a"]})").status().param(), "tokens");
  EXPECT_EQ(parse_detokenize_request(R"({})").status().param(), "tokens");
}

}  // namespace
}  // namespace tandem::frontend
