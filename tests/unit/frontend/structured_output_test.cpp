// Structured output in the frontend: every request shape (response_format,
// structured_outputs, guided_*, forced tool_choice, Responses text.format)
// and every 400, the plan's compile step (refused without a compiler, one
// matcher per choice with one), and forced tool calls turned into tool_calls.
// A test-only compiler records what it was asked to compile.
#include "frontend/structured_output.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "frontend/generation_job.h"
#include "frontend/job_plan.h"
#include "frontend/responses_request.h"
#include "support/byte_tokenizer.h"
#include "support/test_model.h"

namespace tandem::frontend {
namespace {

namespace json = boost::json;
using scheduler::FinishReason;
using scheduler::TokenEvent;

// Allows everything (the tests here never sample).
class OpenConstraint final : public scheduler::TokenConstraint {
 public:
  bool fill_next_token_mask(std::span<uint32_t> mask) override {
    std::fill(mask.begin(), mask.end(), ~0u);
    return true;
  }
  bool accept(int32_t) override { return true; }
  void rollback(int) override {}
  bool finished() const override { return false; }
};

class RecordingCompiler final : public ConstraintCompiler {
 public:
  Result<ConstraintFactory> compile(const StructuredOutput& spec) const override {
    seen.push_back(spec);
    if (!fail.ok()) return fail;
    return ConstraintFactory([this] {
      ++made;
      return std::make_shared<OpenConstraint>();
    });
  }
  mutable std::vector<StructuredOutput> seen;
  mutable int made = 0;
  Status fail;
};

constexpr const char* kMsgs = R"("messages":[{"role":"user","content":"hi"}])";
std::string chat(const std::string& extra) { return std::string("{") + kMsgs + "," + extra + "}"; }

Result<StructuredOutput> parsed(const std::string& extra) {
  auto r = parse_chat_request(chat(extra));
  if (!r.ok()) return r.status();
  return r->options.structured;
}

void expect_error(const std::string& extra, const std::string& param, ErrorKind kind = ErrorKind::kInvalidRequest) {
  auto r = parse_chat_request(chat(extra));
  ASSERT_FALSE(r.ok()) << extra;
  EXPECT_EQ(r.status().kind(), kind) << extra << ": " << r.status().message();
  EXPECT_EQ(r.status().param(), param) << extra << ": " << r.status().message();
}

TEST(StructuredOutputParse, EveryShape) {
  auto none = parsed(R"("response_format":{"type":"text"})");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->any());

  auto jo = parsed(R"("response_format":{"type":"json_object"})");
  ASSERT_TRUE(jo.ok());
  EXPECT_EQ(jo->kind, StructuredKind::kJsonObject);
  EXPECT_EQ(jo->field, "response_format");

  auto js = parsed(
      R"("response_format":{"type":"json_schema","json_schema":{"name":"p","strict":false,"schema":{"type":"object","properties":{"a":{"type":"integer"}}}}})");
  ASSERT_TRUE(js.ok()) << js.status().message();
  EXPECT_EQ(js->kind, StructuredKind::kJsonSchema);
  EXPECT_FALSE(js->strict);
  EXPECT_EQ(json::parse(js->source), json::parse(R"({"type":"object","properties":{"a":{"type":"integer"}}})"));

  auto so_json = parsed(R"("structured_outputs":{"json":"{\"type\": \"string\"}","disable_fallback":true})");
  ASSERT_TRUE(so_json.ok()) << so_json.status().message();
  EXPECT_EQ(so_json->kind, StructuredKind::kJsonSchema);
  EXPECT_TRUE(so_json->strict);
  EXPECT_EQ(so_json->field, "structured_outputs");
  EXPECT_EQ(json::parse(so_json->source), json::parse(R"({"type":"string"})"));

  auto so_regex = parsed(R"("structured_outputs":{"regex":"[a-z]+@x\\.com"})");
  ASSERT_TRUE(so_regex.ok());
  EXPECT_EQ(so_regex->kind, StructuredKind::kRegex);
  EXPECT_EQ(so_regex->source, "[a-z]+@x\\.com");

  auto so_choice = parsed(R"("structured_outputs":{"choice":["yes","no"]})");
  ASSERT_TRUE(so_choice.ok());
  EXPECT_EQ(so_choice->kind, StructuredKind::kChoice);
  EXPECT_EQ(so_choice->choices, (std::vector<std::string>{"yes", "no"}));

  auto so_grammar = parsed(R"("structured_outputs":{"grammar":"root ::= \"a\""})");
  ASSERT_TRUE(so_grammar.ok());
  EXPECT_EQ(so_grammar->kind, StructuredKind::kGrammar);
  EXPECT_EQ(so_grammar->source, "root ::= \"a\"");

  auto so_jo = parsed(R"("structured_outputs":{"json_object":true})");
  ASSERT_TRUE(so_jo.ok());
  EXPECT_EQ(so_jo->kind, StructuredKind::kJsonObject);

  auto gj = parsed(R"("guided_json":{"type":"object"},"guided_decoding_backend":"xgrammar")");
  ASSERT_TRUE(gj.ok());
  EXPECT_EQ(gj->kind, StructuredKind::kJsonSchema);
  EXPECT_EQ(gj->field, "guided_json");
  auto gr = parsed(R"("guided_regex":"\\d+")");
  ASSERT_TRUE(gr.ok());
  EXPECT_EQ(gr->kind, StructuredKind::kRegex);
  EXPECT_EQ(gr->source, "\\d+");
  auto gc = parsed(R"("guided_choice":["a","b","c"])");
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->choices.size(), 3u);
  auto gg = parsed(R"("guided_grammar":"root ::= [0-9]+")");
  ASSERT_TRUE(gg.ok());
  EXPECT_EQ(gg->kind, StructuredKind::kGrammar);

  // Completions read the same fields.
  auto c = parse_completion_request(R"({"prompt":"x","structured_outputs":{"choice":["a"]}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->options.structured.kind, StructuredKind::kChoice);
  // null is unset.
  auto nulls = parsed(R"("response_format":null,"structured_outputs":null,"guided_json":null)");
  ASSERT_TRUE(nulls.ok());
  EXPECT_FALSE(nulls->any());
}

TEST(StructuredOutputParse, EveryErrorNamesTheField) {
  expect_error(R"("response_format":"json")", "response_format");
  expect_error(R"("response_format":{"type":"yaml"})", "response_format");
  expect_error(R"("response_format":{"type":"json_schema"})", "response_format");
  expect_error(R"("response_format":{"type":"json_schema","json_schema":{"schema":{}}})", "response_format");
  expect_error(R"("response_format":{"type":"json_schema","json_schema":{"name":"x"}})", "response_format");
  expect_error(R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":3}})", "response_format");
  expect_error(R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{},"strict":"yes"}})",
               "response_format");
  expect_error(R"("structured_outputs":[])", "structured_outputs");
  expect_error(R"("structured_outputs":{})", "structured_outputs");
  expect_error(R"("structured_outputs":{"regex":"a","choice":["a"]})", "structured_outputs");
  expect_error(R"("structured_outputs":{"json":"{not json"})", "structured_outputs");
  expect_error(R"("structured_outputs":{"regex":""})", "structured_outputs");
  expect_error(R"("structured_outputs":{"choice":[]})", "structured_outputs");
  expect_error(R"("structured_outputs":{"choice":["a",1]})", "structured_outputs");
  expect_error(R"("structured_outputs":{"grammar":5})", "structured_outputs");
  expect_error(R"("structured_outputs":{"json_object":"yes"})", "structured_outputs");
  expect_error(R"("structured_outputs":{"regex":"a","disable_fallback":1})", "structured_outputs");
  expect_error(R"("structured_outputs":{"structural_tag":"x"})", "structured_outputs", ErrorKind::kUnsupported);
  expect_error(R"("structured_outputs":{"regex":"a","whitespace_pattern":" "})", "structured_outputs",
               ErrorKind::kUnsupported);
  expect_error(R"("guided_json":5)", "guided_json");
  expect_error(R"("guided_regex":["a"])", "guided_regex");
  expect_error(R"("guided_choice":"a")", "guided_choice");
  expect_error(R"("guided_grammar":"")", "guided_grammar");
  expect_error(R"("guided_decoding_backend":1)", "guided_decoding_backend");
  expect_error(R"("guided_whitespace_pattern":" ")", "guided_whitespace_pattern", ErrorKind::kUnsupported);
  // Two kinds at once.
  expect_error(R"("response_format":{"type":"json_object"},"structured_outputs":{"regex":"a"})", "structured_outputs");
  expect_error(R"("response_format":{"type":"json_object"},"guided_regex":"a")", "guided_regex");
  expect_error(R"("guided_json":{},"guided_choice":["a"])", "guided_choice");
}

TEST(StructuredOutputParse, ToolChoiceShapes) {
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}},{"type":"function","function":{"name":"g"}}])";
  auto req = parse_chat_request(chat(tools + R"(,"tool_choice":"required")"));
  ASSERT_TRUE(req.ok()) << req.status().message();
  EXPECT_EQ(req->tool_choice, ToolChoice::kRequired);
  auto named = parse_chat_request(chat(tools + R"(,"tool_choice":{"type":"function","function":{"name":"g"}})"));
  ASSERT_TRUE(named.ok()) << named.status().message();
  EXPECT_EQ(named->tool_choice, ToolChoice::kNamed);
  EXPECT_EQ(named->tool_name, "g");
  expect_error(tools + R"(,"tool_choice":{"type":"function","function":{"name":"h"}})", "tool_choice");
  expect_error(R"("tools":[],"tool_choice":"required")", "tool_choice");
}

TEST(StructuredOutputParse, ToolSchemas) {
  const json::array tools =
      json::parse(
          R"([{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}},)"
          R"({"type":"function","function":{"name":"g"}}])")
          .as_array();
  auto f = named_tool_output(tools, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, StructuredKind::kJsonSchema);
  EXPECT_EQ(f->field, "tool_choice");
  EXPECT_EQ(json::parse(f->source), tools[0].at("function").at("parameters"));
  auto g = named_tool_output(tools, "g");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(json::parse(g->source), json::parse(R"({"type":"object"})"));
  EXPECT_FALSE(named_tool_output(tools, "h").ok());

  const json::value req = json::parse(required_tools_output(tools, true).source);
  EXPECT_EQ(req.at("type"), "array");
  EXPECT_EQ(req.at("minItems"), 1);
  EXPECT_FALSE(req.as_object().contains("maxItems"));
  const auto& any_of = req.at("items").at("anyOf").as_array();
  ASSERT_EQ(any_of.size(), 2u);
  EXPECT_EQ(any_of[0].at("properties").at("name").at("const"), "f");
  EXPECT_EQ(any_of[0].at("properties").at("parameters"), tools[0].at("function").at("parameters"));
  EXPECT_EQ(any_of[1].at("properties").at("name").at("const"), "g");
  EXPECT_EQ(any_of[1].at("required"), json::parse(R"(["name","parameters"])"));
  EXPECT_EQ(json::parse(required_tools_output(tools, false).source).at("maxItems"), 1);
}

class StructuredPlanTest : public ::testing::Test {
 protected:
  StructuredPlanTest() { with_.constraints = compiler_; }
  Result<JobPlan> chat_plan(const std::string& extra, const ServedModel& model) {
    auto req = parse_chat_request(chat(extra));
    if (!req.ok()) return req.status();
    return plan_chat(std::move(req.value()), model);
  }
  std::shared_ptr<RecordingCompiler> compiler_ = std::make_shared<RecordingCompiler>();
  ServedModel without_ = test::make_test_model();
  ServedModel with_ = test::make_test_model();
};

constexpr const char* kTools =
    R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},)"
    R"({"type":"function","function":{"name":"get_time"}}])";

TEST_F(StructuredPlanTest, WithoutACompilerEveryFormatIsA400NamingItsField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("response_format":{"type":"json_object"})", "response_format"},
      {R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}})", "response_format"},
      {R"("structured_outputs":{"regex":"a+"})", "structured_outputs"},
      {R"("guided_json":{"type":"object"})", "guided_json"},
      {R"("guided_regex":"a+")", "guided_regex"},
      {R"("guided_choice":["a","b"])", "guided_choice"},
      {R"("guided_grammar":"root ::= \"a\"")", "guided_grammar"},
      {std::string(kTools) + R"(,"tool_choice":"required")", "tool_choice"},
      {std::string(kTools) + R"(,"tool_choice":{"type":"function","function":{"name":"get_time"}})", "tool_choice"},
  };
  for (const auto& [extra, field] : cases) {
    auto plan = chat_plan(extra, without_);
    ASSERT_FALSE(plan.ok()) << extra;
    EXPECT_EQ(plan.status().kind(), ErrorKind::kUnsupported) << extra;
    EXPECT_EQ(plan.status().param(), field) << extra;
    EXPECT_NE(plan.status().message().find("structured output is not available in this build"), std::string::npos)
        << plan.status().message();
    auto c = parse_completion_request(R"({"prompt":"hi",)" + extra + "}");
    if (field == "tool_choice") continue;  // chat only
    ASSERT_TRUE(c.ok()) << extra;
    auto cp = plan_completion(std::move(c.value()), without_);
    ASSERT_FALSE(cp.ok());
    EXPECT_EQ(cp.status().param(), field);
  }
  EXPECT_TRUE(chat_plan(R"("response_format":{"type":"text"})", without_).ok());
}

TEST_F(StructuredPlanTest, TheCompilerGetsTheSpecAndEachChoiceGetsItsOwnMatcher) {
  auto plan = chat_plan(R"("n":3,"structured_outputs":{"choice":["yes","no"]})", with_);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(compiler_->seen.size(), 1u);  // compiled once per request, not per choice
  EXPECT_EQ(compiler_->seen[0].kind, StructuredKind::kChoice);
  ASSERT_TRUE(static_cast<bool>(plan->constraint));
  EXPECT_EQ(plan->reasoning_format, text::ReasoningFormat::kNone);  // the constrained output is the answer
  GenerationJob job(std::move(plan.value()), with_, "chatcmpl-x", 1, nullptr);
  std::vector<scheduler::GenerationRequest> requests;  // kept alive: distinct live matchers
  std::set<const scheduler::TokenConstraint*> distinct;
  for (int i = 0; i < 3; ++i) {
    requests.push_back(job.make_request(i));
    ASSERT_NE(requests.back().constraint, nullptr);
    distinct.insert(requests.back().constraint.get());
  }
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_EQ(compiler_->made, 3);

  auto free = chat_plan(R"("n":2)", with_);
  ASSERT_TRUE(free.ok());
  EXPECT_FALSE(static_cast<bool>(free->constraint));
  GenerationJob free_job(std::move(free.value()), with_, "chatcmpl-y", 1, nullptr);
  EXPECT_EQ(free_job.make_request(1).constraint, nullptr);
}

TEST_F(StructuredPlanTest, CompileErrorsAreTheRequestsError) {
  compiler_->fail = Status(ErrorKind::kInvalidRequest, "bad regex at offset 3", "guided_regex");
  auto plan = chat_plan(R"("guided_regex":"ab(")", with_);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().param(), "guided_regex");
  EXPECT_EQ(plan.status().message(), "bad regex at offset 3");
}

TEST_F(StructuredPlanTest, ForcedToolChoicesCompileTheToolSchemas) {
  auto named =
      chat_plan(std::string(kTools) + R"(,"tool_choice":{"type":"function","function":{"name":"get_weather"}})", with_);
  ASSERT_TRUE(named.ok()) << named.status().message();
  EXPECT_EQ(named->forced_tools, ToolChoice::kNamed);
  EXPECT_EQ(named->forced_tool_name, "get_weather");
  EXPECT_EQ(named->tool_format, text::ToolCallFormat::kNone);
  ASSERT_EQ(compiler_->seen.size(), 1u);
  EXPECT_EQ(compiler_->seen[0].field, "tool_choice");
  EXPECT_EQ(json::parse(compiler_->seen[0].source).at("required"), json::parse(R"(["city"])"));
  // The template still sees the tools.
  const std::string prompt = with_.tokenizer->decode(named->prompts[0].tokens, false);
  EXPECT_NE(prompt.find("get_weather"), std::string::npos);

  auto required = chat_plan(std::string(kTools) + R"(,"tool_choice":"required","parallel_tool_calls":false)", with_);
  ASSERT_TRUE(required.ok()) << required.status().message();
  EXPECT_EQ(required->forced_tools, ToolChoice::kRequired);
  const json::value schema = json::parse(compiler_->seen.back().source);
  EXPECT_EQ(schema.at("maxItems"), 1);
  EXPECT_EQ(schema.at("items").at("anyOf").as_array().size(), 2u);

  auto both =
      chat_plan(std::string(kTools) + R"(,"tool_choice":"required","response_format":{"type":"json_object"})", with_);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().param(), "tool_choice");
}

class ForcedToolOutputTest : public StructuredPlanTest {
 protected:
  std::unique_ptr<GenerationJob> job(const std::string& extra) {
    auto plan = chat_plan(std::string(kTools) + "," + extra, with_);
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    return std::make_unique<GenerationJob>(std::move(plan.value()), with_, "chatcmpl-t", 1, nullptr);
  }
  void feed(GenerationJob& j, int choice, const std::string& bytes, FinishReason finish = FinishReason::kNone) {
    TokenEvent ev;
    for (unsigned char c : bytes) ev.tokens.push_back({c, -0.5f, {}});
    ev.finish = finish;
    j.on_event(choice, std::move(ev), GenerationJob::Clock::now(), out_, cancels_);
  }
  std::string out_;
  std::vector<std::string> cancels_;
};

TEST_F(ForcedToolOutputTest, NamedCallIsTheWholeOutputAndEndsByStop) {
  auto j = job(R"("n":2,"tool_choice":{"type":"function","function":{"name":"get_weather"}})");
  feed(*j, 0, R"({"city": )");
  feed(*j, 0, R"("Oslo"})", FinishReason::kStop);
  feed(*j, 1, R"( {"city": "Rome"} )", FinishReason::kStop);
  ASSERT_TRUE(j->finished());
  const json::value body = json::parse(j->response_body());
  for (int i = 0; i < 2; ++i) {
    const auto& choice = body.at("choices").as_array()[static_cast<size_t>(i)];
    EXPECT_EQ(choice.at("finish_reason"), "stop");
    const auto& msg = choice.at("message");
    EXPECT_TRUE(msg.at("content").is_null());
    const auto& calls = msg.at("tool_calls").as_array();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].at("function").at("name"), "get_weather");
    EXPECT_EQ(json::parse(calls[0].at("function").at("arguments").as_string()),
              json::parse(i == 0 ? R"({"city":"Oslo"})" : R"({"city":"Rome"})"));
  }
}

TEST_F(ForcedToolOutputTest, RequiredCallsBecomeToolCallsAndStream) {
  auto j = job(R"("stream":true,"tool_choice":"required")");
  j->open_stream(out_);
  const std::string text =
      R"([{"name": "get_weather", "parameters": {"city": "Oslo"}}, {"name": "get_time", "parameters": {}}])";
  for (char ch : text) feed(*j, 0, std::string(1, ch));
  feed(*j, 0, "", FinishReason::kStop);
  j->close_stream(out_);
  std::vector<json::object> calls;
  std::string finish, content;
  size_t pos = 0;
  while ((pos = out_.find("data: ", pos)) != std::string::npos) {
    const size_t end = out_.find("\n\n", pos);
    const std::string payload = out_.substr(pos + 6, end - pos - 6);
    pos = end;
    if (payload == "[DONE]") continue;
    const json::value chunk = json::parse(payload);
    const auto& ch = chunk.at("choices").as_array()[0];
    if (ch.at("finish_reason").is_string()) finish = ch.at("finish_reason").as_string();
    const auto& delta = ch.at("delta").as_object();
    if (const auto* c = delta.if_contains("content")) content += c->as_string();
    if (const auto* tc = delta.if_contains("tool_calls")) calls.push_back(tc->as_array()[0].as_object());
  }
  EXPECT_EQ(content, "");  // nothing of the JSON leaked as text
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].at("function").at("name"), "get_weather");
  EXPECT_EQ(calls[1].at("index"), 1);
  EXPECT_EQ(json::parse(calls[0].at("function").at("arguments").as_string()), json::parse(R"({"city":"Oslo"})"));
  EXPECT_EQ(json::parse(calls[1].at("function").at("arguments").as_string()), json::parse("{}"));
}

TEST_F(ForcedToolOutputTest, RequiredOutputCutShortStaysContent) {
  auto j = job(R"("tool_choice":"required")");
  feed(*j, 0, R"([{"name": "get_weather", "param)", FinishReason::kLength);
  const json::value body = json::parse(j->response_body());
  const auto& choice = body.at("choices").as_array()[0];
  EXPECT_EQ(choice.at("finish_reason"), "length");
  EXPECT_EQ(choice.at("message").at("content"), R"([{"name": "get_weather", "param)");
  EXPECT_FALSE(choice.at("message").as_object().contains("tool_calls"));
}

TEST(StructuredOutputResponses, TextFormatBecomesResponseFormat) {
  auto r = parse_responses_request(
      R"({"input":"hi","text":{"format":{"type":"json_schema","name":"p","schema":{"type":"object"},"strict":true}}})",
      nullptr);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->chat.options.structured.kind, StructuredKind::kJsonSchema);
  EXPECT_EQ(json::parse(r->chat.options.structured.source), json::parse(R"({"type":"object"})"));
  EXPECT_EQ(r->plan->echo.at("text").at("format").at("name"), "p");
  auto jo = parse_responses_request(R"({"input":"hi","text":{"format":{"type":"json_object"}}})", nullptr);
  ASSERT_TRUE(jo.ok());
  EXPECT_EQ(jo->chat.options.structured.kind, StructuredKind::kJsonObject);
  auto text = parse_responses_request(R"({"input":"hi","text":{"format":{"type":"text"}}})", nullptr);
  ASSERT_TRUE(text.ok());
  EXPECT_FALSE(text->chat.options.structured.any());
  for (const char* bad :
       {R"({"input":"hi","text":{"format":{"type":"xml"}}})",
        R"({"input":"hi","text":{"format":{"type":"json_schema","schema":{}}}})",
        R"({"input":"hi","text":{"format":{"type":"json_schema","name":"x"}}})", R"({"input":"hi","text":5})"}) {
    auto e = parse_responses_request(bad, nullptr);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().param(), "text") << bad;
  }
}

}  // namespace
}  // namespace tandem::frontend
