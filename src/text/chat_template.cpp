#include "text/chat_template.h"

#include "text/jinja/hf_context.h"
#include "text/jinja/program.h"

namespace tandem::text {

Result<ChatTemplate> ChatTemplate::compile(const std::string& source) {
  auto program = jinja::Program::compile(source);
  if (!program.ok()) return program.status();
  ChatTemplate t;
  t.program_ = std::move(program.value());
  t.source_ = source;
  return t;
}

Result<std::string> ChatTemplate::render(const boost::json::object& context) const {
  if (!program_) return Status(ErrorKind::kInternal, "ChatTemplate::render on a template that was never compiled");
  auto variables = jinja::hf_variables(context);
  if (!variables.ok()) return variables.status();
  return program_->render(variables.value());
}

const std::string& ChatTemplate::source() const { return source_; }

}  // namespace tandem::text
