#include "support/test_model.h"

#include <memory>

#include <boost/json/serialize.hpp>

#include "support/byte_tokenizer.h"

namespace tandem::test {

Result<std::string> render_chatml(const boost::json::object& ctx) {
  std::string out;
  if (const auto* tools = ctx.if_contains("tools"); tools != nullptr && tools->is_array()) {
    out += "<|im_start|>system\n# Tools\n" + boost::json::serialize(*tools) + "<|im_end|>\n";
  }
  const auto* messages = ctx.if_contains("messages");
  if (messages == nullptr || !messages->is_array()) {
    return Status(ErrorKind::kTemplateError, "messages is undefined");
  }
  for (const auto& m : messages->as_array()) {
    const auto& msg = m.as_object();
    std::string content;
    if (const auto* c = msg.if_contains("content"); c != nullptr) {
      if (c->is_string()) {
        content = std::string(c->as_string());
      } else if (c->is_array()) {
        for (const auto& part : c->as_array()) {
          content += std::string(part.as_object().at("text").as_string());
        }
      }
    }
    if (content == "RAISE_TEMPLATE_ERROR") {
      return Status(ErrorKind::kTemplateError, "Conversation roles must alternate (test hook)");
    }
    out += "<|im_start|>" + std::string(msg.at("role").as_string()) + "\n" + content + "<|im_end|>\n";
  }
  const auto* agp = ctx.if_contains("add_generation_prompt");
  if (agp != nullptr && agp->is_bool() && agp->as_bool()) {
    out += "<|im_start|>assistant\n";
    const auto* think = ctx.if_contains("enable_thinking");
    if (think != nullptr && think->is_bool() && !think->as_bool()) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

frontend::ServedModel make_test_model(int max_context, const std::string& name) {
  frontend::ServedModel model;
  model.name = name;
  model.max_context = max_context;
  model.tokenizer = std::make_shared<ByteTokenizer>();
  model.render_chat = render_chatml;
  model.defaults.eos_token_ids = {ByteTokenizer::kEndOfText};
  model.created = 1700000000;
  return model;
}

}  // namespace tandem::test
