#include "frontend/job_plan.h"

#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "support/byte_tokenizer.h"
#include "support/test_model.h"

namespace tandem::frontend {
namespace {

using test::ByteTokenizer;

Result<JobPlan> chat_plan(const std::string& body, const ServedModel& model) {
  auto req = parse_chat_request(body);
  if (!req.ok()) return req.status();
  return plan_chat(std::move(req.value()), model);
}

Result<JobPlan> completion_plan(const std::string& body, const ServedModel& model) {
  auto req = parse_completion_request(body);
  if (!req.ok()) return req.status();
  return plan_completion(std::move(req.value()), model);
}

TEST(JobPlanTest, ChatRendersTemplateAndTokenizes) {
  const ServedModel model = test::make_test_model();
  auto plan = chat_plan(R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":5})", model);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->prompts.size(), 1u);
  const std::string expected = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(plan->prompts[0].tokens, model.tokenizer->encode(expected, false, true));
  EXPECT_EQ(plan->prompts[0].tokens.front(), ByteTokenizer::kImStart);
  EXPECT_EQ(plan->prompts[0].max_tokens, 5);
  EXPECT_EQ(plan->stop.eos_token_ids, std::vector<int32_t>{ByteTokenizer::kEndOfText});
}

TEST(JobPlanTest, TemplateContextFollowsHuggingFace) {
  auto req = parse_chat_request(
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"tools":[{"type":"function","function":{"name":"f"}}],)"
      R"("chat_template_kwargs":{"enable_thinking":false,"messages":"ignored"},"add_generation_prompt":false})");
  ASSERT_TRUE(req.ok());
  ByteTokenizer tok;
  const auto ctx = chat_template_context(req.value(), tok);
  EXPECT_TRUE(ctx.at("messages").is_array());
  EXPECT_EQ(ctx.at("messages").as_array()[0].as_object().at("content").as_string(), "a");
  EXPECT_EQ(ctx.at("tools").as_array().size(), 1u);
  EXPECT_FALSE(ctx.at("add_generation_prompt").as_bool());
  EXPECT_FALSE(ctx.at("enable_thinking").as_bool());
  EXPECT_EQ(ctx.at("bos_token").as_string(), "");
  EXPECT_EQ(ctx.at("eos_token").as_string(), "<|endoftext|>");
}

TEST(JobPlanTest, ToolCallArgumentStringsReachTheTemplateAsObjects) {
  auto req = parse_chat_request(
      R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\": [1, \"y\"]}"}},)"
      R"({"id":"c2","type":"function","function":{"name":"g","arguments":{"z":true}}}]}]})");
  ASSERT_TRUE(req.ok()) << req.status().message();
  ByteTokenizer tok;
  const auto ctx = chat_template_context(req.value(), tok);
  const auto& calls = ctx.at("messages").as_array()[1].at("tool_calls").as_array();
  EXPECT_EQ(calls[0].at("function").at("arguments"), boost::json::parse(R"({"x":[1,"y"]})"));
  EXPECT_EQ(calls[1].at("function").at("arguments"), boost::json::parse(R"({"z":true})"));
}

TEST(JobPlanTest, ToolChoiceAutoNeedsAToolCallFormat) {
  ServedModel model = test::make_test_model();
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f","parameters":{}}}])";
  const std::string msgs = R"({"messages":[{"role":"user","content":"Hi"}],)";
  auto refused = chat_plan(msgs + tools + "}", model);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(refused.status().param(), "tool_choice");
  EXPECT_NE(refused.status().message().find("tool_call_parser"), std::string::npos);
  auto none = chat_plan(msgs + tools + R"(,"tool_choice":"none"})", model);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->tool_format, text::ToolCallFormat::kNone);
  EXPECT_TRUE(none->options.skip_special_tokens);

  model.tool_call_format = text::ToolCallFormat::kHermes;
  auto parsed = chat_plan(msgs + tools + R"(,"parallel_tool_calls":false})", model);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->tool_format, text::ToolCallFormat::kHermes);
  EXPECT_FALSE(parsed->parallel_tool_calls);
  EXPECT_FALSE(parsed->options.skip_special_tokens);  // markers may be special tokens (as vLLM)
  auto no_tools = chat_plan(msgs + R"("max_tokens":3})", model);
  ASSERT_TRUE(no_tools.ok());
  EXPECT_EQ(no_tools->tool_format, text::ToolCallFormat::kNone);
}

TEST(JobPlanTest, ChatTemplateKwargsReachTheTemplate) {
  const ServedModel model = test::make_test_model();
  auto plan = chat_plan(
      R"({"messages":[{"role":"user","content":"Hi"}],"chat_template_kwargs":{"enable_thinking":false}})", model);
  ASSERT_TRUE(plan.ok());
  const std::string text = model.tokenizer->decode(plan->prompts[0].tokens, false);
  EXPECT_NE(text.find("<think>\n\n</think>"), std::string::npos) << text;
}

TEST(JobPlanTest, TemplateErrorIsAFourHundred) {
  const ServedModel model = test::make_test_model();
  auto plan = chat_plan(R"({"messages":[{"role":"user","content":"RAISE_TEMPLATE_ERROR"}]})", model);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().kind(), ErrorKind::kTemplateError);
  EXPECT_NE(plan.status().message().find("roles must alternate"), std::string::npos);
}

TEST(JobPlanTest, DefaultsComeFromModelThenOpenAi) {
  ServedModel model = test::make_test_model();
  auto plain = chat_plan(R"({"messages":[{"role":"user","content":"Hi"}]})", model);
  ASSERT_TRUE(plain.ok());
  EXPECT_FLOAT_EQ(plain->sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(plain->sampling.top_p, 1.0f);
  EXPECT_EQ(plain->sampling.top_k, 0);
  EXPECT_FLOAT_EQ(plain->sampling.repetition_penalty, 1.0f);
  EXPECT_FALSE(plain->sampling.seed.has_value());

  model.defaults.temperature = 0.6f;
  model.defaults.top_p = 0.95f;
  model.defaults.top_k = 20;
  model.defaults.min_p = 0.05f;
  model.defaults.repetition_penalty = 1.2f;
  auto with_defaults = chat_plan(R"({"messages":[{"role":"user","content":"Hi"}],"top_k":-1})", model);
  ASSERT_TRUE(with_defaults.ok());
  EXPECT_FLOAT_EQ(with_defaults->sampling.temperature, 0.6f);
  EXPECT_FLOAT_EQ(with_defaults->sampling.top_p, 0.95f);
  EXPECT_EQ(with_defaults->sampling.top_k, 0);  // the request's -1 (disabled) wins
  EXPECT_FLOAT_EQ(with_defaults->sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(with_defaults->sampling.repetition_penalty, 1.2f);

  auto explicit_values = chat_plan(
      R"({"messages":[{"role":"user","content":"Hi"}],"temperature":0,"seed":7,"top_logprobs":2,"logprobs":true})",
      model);
  ASSERT_TRUE(explicit_values.ok());
  EXPECT_FLOAT_EQ(explicit_values->sampling.temperature, 0.0f);
  EXPECT_EQ(explicit_values->sampling.seed, 7u);
  EXPECT_EQ(explicit_values->sampling.logprobs, 2);
}

TEST(JobPlanTest, ContextLengthExceededNamesBothNumbers) {
  const ServedModel model = test::make_test_model(64);
  auto plan = completion_plan(R"({"prompt":")" + std::string(40, 'a') + R"(","max_tokens":30})", model);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().kind(), ErrorKind::kContextLengthExceeded);
  const std::string& m = plan.status().message();
  EXPECT_NE(m.find("64"), std::string::npos) << m;
  EXPECT_NE(m.find("40"), std::string::npos) << m;
  EXPECT_NE(m.find("30"), std::string::npos) << m;
  EXPECT_NE(m.find("70"), std::string::npos) << m;
}

TEST(JobPlanTest, MaxTokensDefaultsToTheRestOfTheContext) {
  const ServedModel model = test::make_test_model(64);
  auto plan = completion_plan(R"({"prompt":")" + std::string(40, 'a') + R"("})", model);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->prompts[0].max_tokens, 24);
  auto full = completion_plan(R"({"prompt":")" + std::string(64, 'a') + R"("})", model);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().kind(), ErrorKind::kContextLengthExceeded);
  auto fits = completion_plan(R"({"prompt":")" + std::string(40, 'a') + R"(","max_tokens":24})", model);
  EXPECT_TRUE(fits.ok());
}

TEST(JobPlanTest, DefaultMaxTokensIsCappedByTheContext) {
  ServedModel model = test::make_test_model(64);
  model.default_max_tokens = 10;
  auto plan = completion_plan(R"({"prompt":")" + std::string(40, 'a') + R"("})", model);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->prompts[0].max_tokens, 10);
  auto near_end = completion_plan(R"({"prompt":")" + std::string(60, 'a') + R"("})", model);
  ASSERT_TRUE(near_end.ok());
  EXPECT_EQ(near_end->prompts[0].max_tokens, 4);
  auto own = completion_plan(R"({"prompt":"a","max_tokens":20})", model);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->prompts[0].max_tokens, 20);
}

TEST(JobPlanTest, VocabularyChecks) {
  const ServedModel model = test::make_test_model();
  auto bias = completion_plan(R"({"prompt":"a","logit_bias":{"259":1}})", model);
  ASSERT_FALSE(bias.ok());
  EXPECT_EQ(bias.status().param(), "logit_bias");
  auto stop_ids = completion_plan(R"({"prompt":"a","stop_token_ids":[-1]})", model);
  ASSERT_FALSE(stop_ids.ok());
  EXPECT_EQ(stop_ids.status().param(), "stop_token_ids");
  auto prompt_ids = completion_plan(R"({"prompt":[1,2,100000]})", model);
  ASSERT_FALSE(prompt_ids.ok());
  EXPECT_EQ(prompt_ids.status().param(), "prompt");
  auto ok = completion_plan(R"({"prompt":[72,105],"logit_bias":{"258":-100},"stop_token_ids":[258]})", model);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->stop.stop_token_ids, std::vector<int32_t>{258});
}

TEST(JobPlanTest, UnknownModelIsNotFound) {
  const ServedModel model = test::make_test_model();
  auto plan = completion_plan(R"({"prompt":"a","model":"gpt-9"})", model);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(plan.status().param(), "model");
  EXPECT_TRUE(completion_plan(R"({"prompt":"a","model":"tandem-test"})", model).ok());
  ServedModel aliased = test::make_test_model();
  aliased.aliases = {"gpt-4o", "local"};
  EXPECT_TRUE(completion_plan(R"({"prompt":"a","model":"local"})", aliased).ok());
  EXPECT_FALSE(completion_plan(R"({"prompt":"a","model":"gpt-9"})", aliased).ok());
}

TEST(JobPlanTest, EmptyPromptIsRejected) {
  const ServedModel model = test::make_test_model();
  auto plan = completion_plan(R"({"prompt":""})", model);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().param(), "prompt");
}

TEST(JobPlanTest, BatchedPromptsAndEcho) {
  const ServedModel model = test::make_test_model();
  auto plan = completion_plan(R"({"prompt":["ab","cd"],"n":3,"echo":true,"max_tokens":2})", model);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->choice_count(), 6);
  EXPECT_EQ(plan->prompts[0].echo_text, "ab");
  EXPECT_EQ(plan->prompts[1].echo_text, "cd");
  auto ids = completion_plan(R"({"prompt":[[72,105]],"echo":true})", model);
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_EQ(ids->prompts[0].echo_text, "Hi");
  auto lp = completion_plan(R"({"prompt":"a","echo":true,"logprobs":1})", model);
  ASSERT_FALSE(lp.ok());
  EXPECT_EQ(lp.status().kind(), ErrorKind::kUnsupported);
}

}  // namespace
}  // namespace tandem::frontend
