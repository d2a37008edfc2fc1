// parse_responses_request: Responses input items become the chat request they
// amount to; what Tandem cannot do is a 400 naming the field.
#include "frontend/responses_request.h"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace tandem::frontend {
namespace {

namespace json = boost::json;

TEST(ResponsesRequestTest, ItemsBecomeChatMessages) {
  auto store = std::make_shared<ResponseStore>();
  auto req = parse_responses_request(R"({"model":"m","instructions":"Be brief.","max_output_tokens":7,
    "tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],
    "input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},
             {"type":"reasoning","id":"rs_1","summary":[]},
             {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
             {"type":"function_call","call_id":"c2","name":"f","arguments":"{\"x\":1}"},
             {"type":"function_call_output","call_id":"c1","output":"r1"}]})",
                                     store);
  ASSERT_TRUE(req.ok()) << req.status().message();
  const auto& m = req->chat.messages;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0], json::parse(R"({"role":"system","content":"Be brief."})"));
  EXPECT_EQ(m[1].at("content").as_array()[0].at("text"), "a");
  EXPECT_EQ(m[2].at("role"), "assistant");
  EXPECT_TRUE(m[2].at("content").is_null());
  EXPECT_EQ(m[2].at("tool_calls").as_array().size(), 2u);
  EXPECT_EQ(m[3], json::parse(R"({"role":"tool","tool_call_id":"c1","content":"r1"})"));
  EXPECT_EQ(req->chat.tools->at(0).at("function").at("name"), "f");
  EXPECT_EQ(req->chat.tool_choice, ToolChoice::kAuto);
  EXPECT_EQ(*req->chat.options.max_tokens, 7);
  EXPECT_EQ(req->plan->conversation.size(), 3u);  // without the instructions
  EXPECT_EQ(req->plan->store, store);
  EXPECT_EQ(req->plan->echo.at("instructions"), "Be brief.");
}

TEST(ResponsesRequestTest, PreviousResponseAndStoreFalse) {
  auto store = std::make_shared<ResponseStore>();
  store->put("resp-1", json::array{json::object{{"role", "user"}, {"content", "q"}},
                                   json::object{{"role", "assistant"}, {"content", "a"}}});
  auto req = parse_responses_request(R"({"input":"next","previous_response_id":"resp-1","store":false})", store);
  ASSERT_TRUE(req.ok()) << req.status().message();
  EXPECT_EQ(req->chat.messages.size(), 3u);
  EXPECT_EQ(req->plan->store, nullptr);
  auto missing = parse_responses_request(R"({"input":"next","previous_response_id":"resp-2"})", store);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().param(), "previous_response_id");
}

TEST(ResponsesRequestTest, WhatItCannotDoNamesTheField) {
  const auto param_of = [](const char* body) {
    auto r = parse_responses_request(body, nullptr);
    EXPECT_FALSE(r.ok()) << body;
    return r.ok() ? std::string() : r.status().param();
  };
  EXPECT_EQ(param_of(R"({"input":"a","tools":[{"type":"file_search"}]})"), "tools");
  EXPECT_EQ(param_of(R"({"input":[{"role":"user","content":[{"type":"input_file","file_id":"x"}]}]})"), "input");
  EXPECT_EQ(param_of(R"({"input":"a","conversation":"c"})"), "conversation");
  EXPECT_EQ(param_of(R"({"input":"a","max_output_tokens":0})"), "max_output_tokens");
  EXPECT_EQ(param_of(R"({"input":[]})"), "input");
  EXPECT_EQ(param_of(R"({"model":"m"})"), "input");
}

}  // namespace
}  // namespace tandem::frontend
