#include "text/jinja/program.h"

#include <new>

#include "text/jinja/filters.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/json_value.h"
#include "text/jinja/parser.h"
#include "text/jinja/template_error.h"
#include "text/jinja/test_functions.h"

namespace tandem::text::jinja {

namespace {

// Jinja rejects unknown filters and tests when compiling, wherever they are.
void validate(const ast::Expr* e);

void validate_body(const ast::Body& body) {
  for (const auto& s : body) {
    validate(s->expr.get());
    validate(s->filter.get());
    for (const auto& b : s->branches) {
      validate(b.test.get());
      validate_body(b.body);
    }
    for (const auto& d : s->defaults) validate(d.get());
    for (const auto& a : s->assignments) validate(a.second.get());
    validate_body(s->body);
    validate_body(s->else_body);
  }
}

void validate(const ast::Expr* e) {
  if (e == nullptr) return;
  if (e->kind == ast::ExprKind::kFilter && !is_filter(e->name)) {
    fail_syntax(e->line, "No filter named " + repr_string(e->name) + ".");
  }
  if (e->kind == ast::ExprKind::kTest && !is_test(e->name)) {
    fail_syntax(e->line, "No test named " + repr_string(e->name) + ".");
  }
  validate(e->a.get());
  validate(e->b.get());
  validate(e->c.get());
  validate(e->dyn_args.get());
  validate(e->dyn_kwargs.get());
  for (const auto& i : e->items) validate(i.get());
  for (const auto& k : e->kwargs) validate(k.second.get());
}

}  // namespace

Result<std::shared_ptr<const Program>> Program::compile(std::string_view source, LexerOptions options) {
  try {
    Parser parser(Lexer(options).tokenize(source));
    ast::Body body = parser.parse();
    validate_body(body);
    return std::shared_ptr<const Program>(new Program(std::move(body)));
  } catch (const TemplateError& e) {
    return Status(ErrorKind::kTemplateError, e.message());
  } catch (const std::bad_alloc&) {
    return Status(ErrorKind::kTemplateError, "out of memory while compiling the template");
  } catch (const std::exception& e) {
    // Not expected: every failure should be a TemplateError. Reported, never fatal.
    return Status(ErrorKind::kInternal, std::string("template compiler bug: ") + e.what());
  }
}

Result<std::string> Program::render(const boost::json::object& context, const RenderOptions& options) const {
  std::vector<std::pair<std::string, Value>> variables;
  try {
    variables.reserve(context.size());
    for (const auto& kv : context) variables.emplace_back(std::string(kv.key()), from_json(kv.value()));
  } catch (const TemplateError& e) {
    return Status(ErrorKind::kTemplateError, e.message());
  }
  return render(variables, options);
}

Result<std::string> Program::render(const std::vector<std::pair<std::string, Value>>& variables,
                                    const RenderOptions& options) const {
  try {
    auto scope = std::make_shared<Scope>();
    for (const auto& [name, value] : variables) scope->set(name, value);
    // The interpreter goes first: its destructor empties every namespace and
    // closure scope (breaking cycles and deep chains) before `scope` is released.
    Interpreter interpreter(options);
    return interpreter.render(body_, scope);
  } catch (const TemplateError& e) {
    return Status(ErrorKind::kTemplateError, e.message());
  } catch (const std::bad_alloc&) {
    return Status(ErrorKind::kTemplateError, "out of memory while rendering the template");
  } catch (const std::exception& e) {
    // Not expected: every failure should be a TemplateError. Reported, never fatal.
    return Status(ErrorKind::kInternal, std::string("template interpreter bug: ") + e.what());
  }
}

}  // namespace tandem::text::jinja
