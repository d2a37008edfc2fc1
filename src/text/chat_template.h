// text::ChatTemplate: a compiled Jinja2 chat template (the model's
// `tokenizer.chat_template`), rendered the way Hugging Face transformers'
// apply_chat_template does: the context holds `messages`, `tools` (when given),
// `add_generation_prompt`, `bos_token`, `eos_token` and any
// chat_template_kwargs (e.g. `enable_thinking`).
//
// Errors: a syntax error (compile) or raise_exception / a runtime error
// (render) is a Status of kind kTemplateError whose message is the template's
// own text; never a crash. Threading: render() is const and thread-safe.
#pragma once

#include <memory>
#include <string>

#include <boost/json/object.hpp>

#include "common/status.h"

namespace tandem::text {

namespace jinja {
class Program;
}  // namespace jinja

class ChatTemplate {
 public:
  static Result<ChatTemplate> compile(const std::string& source);

  Result<std::string> render(const boost::json::object& context) const;

  const std::string& source() const;

 private:
  std::shared_ptr<const jinja::Program> program_;
  std::string source_;
};

}  // namespace tandem::text
