// text::ChatTemplate: compile/render as HF's apply_chat_template (expected
// strings produced by tests/reference/jinja/hf_reference.py, i.e. Python
// jinja2 in HF's environment; the full template x conversation matrix is
// tests/reference/jinja/test_chat_templates.py).
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "text/chat_template.h"

namespace tandem::text {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

TEST(ChatTemplate, RendersTheDemoModelsTemplate) {
  const std::string source = read_file(std::string(TANDEM_TEST_DATA) + "/templates/smollm2.jinja");
  ASSERT_FALSE(source.empty());
  auto tmpl = ChatTemplate::compile(source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
  EXPECT_EQ(tmpl->source(), source);

  boost::json::object ctx;
  ctx["messages"] = boost::json::parse(R"([{"role":"user","content":"Hi there"}])");
  ctx["add_generation_prompt"] = true;
  auto out = tmpl->render(ctx);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value(),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");

  boost::json::object ctx2;
  ctx2["messages"] = boost::json::parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])");
  auto out2 = tmpl->render(ctx2);  // add_generation_prompt defaults to false
  ASSERT_TRUE(out2.ok()) << out2.status().message();
  EXPECT_EQ(out2.value(), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, SyntaxErrorIsATemplateError) {
  auto tmpl = ChatTemplate::compile("{% for m in messages %}{{ m.content }");
  ASSERT_FALSE(tmpl.ok());
  EXPECT_EQ(tmpl.status().kind(), ErrorKind::kTemplateError);
  EXPECT_NE(tmpl.status().message().find("syntax error on line 1"), std::string::npos) << tmpl.status().message();
}

TEST(ChatTemplate, RaiseExceptionIsATemplateErrorWithItsMessage) {
  auto tmpl = ChatTemplate::compile(
      "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok");
  ASSERT_TRUE(tmpl.ok());
  boost::json::object ctx;
  ctx["messages"] = boost::json::parse(R"([{"role":"system","content":"x"}])");
  auto out = tmpl->render(ctx);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().kind(), ErrorKind::kTemplateError);
  EXPECT_EQ(out.status().message(), "System role not supported");
}

TEST(ChatTemplate, AppliesHfContextDefaults) {
  auto tmpl = ChatTemplate::compile(
      "{{ tools is defined }}{{ tools is none }}{{ documents is none }}{{ add_generation_prompt }}"
      "{{ custom_kwarg }}");
  ASSERT_TRUE(tmpl.ok());
  boost::json::object ctx;
  ctx["messages"] = boost::json::array{};
  ctx["custom_kwarg"] = 7;
  auto out = tmpl->render(ctx);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value(), "TrueTrueTrueFalse7");
}

TEST(ChatTemplate, AliasesReasoningFieldsLikeTransformers) {
  auto tmpl =
      ChatTemplate::compile("{% for m in messages %}{% for k in m %}{{ k }}={{ m[k] }};{% endfor %}|{% endfor %}");
  ASSERT_TRUE(tmpl.ok());
  boost::json::object ctx;
  ctx["messages"] =
      boost::json::parse(R"([{"role":"assistant","reasoning":"r","content":"c"},{"role":"user","content":"u"}])");
  auto out = tmpl->render(ctx);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out.value(), "thinking=r;role=assistant;reasoning=r;content=c;reasoning_content=r;|role=user;content=u;|");
}

TEST(ChatTemplate, CopiesShareTheCompiledProgram) {
  auto tmpl = ChatTemplate::compile("{{ messages|length }}");
  ASSERT_TRUE(tmpl.ok());
  const ChatTemplate copy = tmpl.value();
  boost::json::object ctx;
  ctx["messages"] = boost::json::parse(R"([1,2,3])");
  auto out = copy.render(ctx);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value(), "3");
}

}  // namespace
}  // namespace tandem::text
