// template_messages(): the message shapes OpenAI clients send (text parts,
// null content in the tool loop, the developer role, names, tool results)
// reach the chat template as strings, and the published templates of the
// models Tandem serves render them.
#include "frontend/chat_request.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "text/chat_template.h"

namespace tandem::frontend {
namespace {

boost::json::array messages_of(const std::string& body) {
  auto req = parse_chat_request(body);
  EXPECT_TRUE(req.ok()) << req.status().message();
  return req.ok() ? template_messages(std::move(req->messages)) : boost::json::array{};
}

// The OpenAI tool loop as the official client sends it back: the assistant
// turn that only called a tool has content null (and the other fields
// model_dump() writes as null), the tool result names its call.
constexpr const char* kToolLoop = R"({"messages":[
  {"role":"developer","content":"Be brief."},
  {"role":"user","name":"ann","content":[{"type":"text","text":"Weather"},{"type":"text","text":"in Oslo?"}]},
  {"role":"assistant","content":null,"refusal":null,"function_call":null,"tool_calls":[
    {"id":"a1b2c3d4e","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Oslo\"}"}}]},
  {"role":"tool","tool_call_id":"a1b2c3d4e","content":[{"type":"text","text":"-3 C"}]},
  {"role":"assistant","content":"Cold.","tool_calls":null},
  {"role":"user","content":"And Bergen?"}]})";

TEST(ChatRequestTest, TemplateMessagesAreStringsAsVllmPassesThem) {
  const auto m = messages_of(kToolLoop);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0], boost::json::parse(R"({"role":"system","content":"Be brief."})"));
  EXPECT_EQ(m[1], boost::json::parse(R"({"role":"user","content":"Weather\nin Oslo?","name":"ann"})"));
  EXPECT_EQ(m[2].at("content"), "");
  EXPECT_EQ(m[2].at("tool_calls").as_array().size(), 1u);
  EXPECT_FALSE(m[2].as_object().contains("refusal"));
  EXPECT_EQ(m[3], boost::json::parse(R"({"role":"tool","content":"-3 C","tool_call_id":"a1b2c3d4e"})"));
  EXPECT_EQ(m[4], boost::json::parse(R"({"role":"assistant","content":"Cold."})"));
}

TEST(ChatRequestTest, AbsentAssistantContentAndReasoningNames) {
  const auto m = messages_of(R"({"messages":[{"role":"user","content":"a"},
    {"role":"assistant","reasoning":"think","tool_calls":[{"function":{"name":"f","arguments":{}}}]}]})");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].at("content"), "");
  EXPECT_EQ(m[1].at("reasoning_content"), "think");
  EXPECT_EQ(m[1].at("reasoning"), "think");
}

TEST(ChatRequestTest, NonTextPartsAndBadNamesAreRefused) {
  auto image =
      parse_chat_request(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(image.status().message().find("'image_url' is not supported"), std::string::npos);
  auto name = parse_chat_request(R"({"messages":[{"role":"user","content":"a","name":3}]})");
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.status().message().find("messages[0].name must be a string"), std::string::npos);
  auto calls = parse_chat_request(R"({"messages":[{"role":"user","content":"a","tool_calls":[]}]})");
  EXPECT_FALSE(calls.ok());
}

std::string read_template(const std::string& name) {
  std::ifstream in(std::string(TANDEM_TEST_DATA) + "/templates/" + name);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

class PublishedTemplateTest : public testing::TestWithParam<const char*> {};

TEST_P(PublishedTemplateTest, RendersTheToolLoop) {
  auto tpl = text::ChatTemplate::compile(read_template(GetParam()));
  ASSERT_TRUE(tpl.ok()) << tpl.status().message();
  auto req = parse_chat_request(kToolLoop);
  ASSERT_TRUE(req.ok());
  boost::json::object ctx;
  ctx["messages"] = template_messages(std::move(req->messages));
  ctx["add_generation_prompt"] = true;
  ctx["bos_token"] = "";
  ctx["eos_token"] = "";
  auto out = tpl->render(ctx);
  ASSERT_TRUE(out.ok()) << GetParam() << ": " << out.status().message();
  EXPECT_NE(out->find("Be brief."), std::string::npos) << *out;
  EXPECT_NE(out->find("Weather\nin Oslo?"), std::string::npos) << *out;
  EXPECT_NE(out->find("-3 C"), std::string::npos) << *out;
  EXPECT_EQ(out->find("developer"), std::string::npos) << *out;
}

INSTANTIATE_TEST_SUITE_P(Templates, PublishedTemplateTest,
                         testing::Values("smollm2.jinja", "llama3.1.jinja", "llama3.2.jinja", "qwen2.5.jinja",
                                         "qwen3.jinja", "mistral_nemo.jinja"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tandem::frontend
