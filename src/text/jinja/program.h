// jinja::Program: a compiled Jinja2 template (Tandem's own interpreter; no
// third-party template library). Compile once, render many times:
//
//   auto program = jinja::Program::compile(source);        // Result<shared_ptr>
//   auto text = (*program)->render(context_object, options); // Result<string>
//
// Configured as Hugging Face's apply_chat_template environment:
// ImmutableSandboxedEnvironment, trim_blocks + lstrip_blocks, loopcontrols
// (break/continue), HF's {% generation %} tag, and the globals raise_exception,
// strftime_now, namespace (HF's underscore check), dict, range (sandbox
// MAX_RANGE), joiner; HF's tojson (ensure_ascii=False, sort_keys=False).
//
// Errors: compile -> kTemplateError "syntax error on line N: ..." (also for
// unknown filters/tests); render -> kTemplateError whose message is the
// template's own (raise_exception's text, "'x' is undefined", ...). Never a
// crash: limits in RenderOptions bound output, loops and recursion.
// Threading: render() is const and may run on many threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"
#include "text/jinja/ast.h"
#include "text/jinja/lexer.h"
#include "text/jinja/render_options.h"
#include "text/jinja/value.h"

namespace tandem::text::jinja {

class Program {
 public:
  static Result<std::shared_ptr<const Program>> compile(std::string_view source, LexerOptions options = {});

  // Renders with the members of `context` as template variables.
  Result<std::string> render(const boost::json::object& context, const RenderOptions& options = {}) const;
  // Renders with already-converted variables (in order; later names win).
  Result<std::string> render(const std::vector<std::pair<std::string, Value>>& variables,
                             const RenderOptions& options = {}) const;

 private:
  explicit Program(ast::Body body) : body_(std::move(body)) {}

  ast::Body body_;
};

}  // namespace tandem::text::jinja
