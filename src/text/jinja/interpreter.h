// jinja::Interpreter: executes a parsed template against a scope of values
// with Jinja2's semantics (undefined handling, scoping, loop variables,
// macros, sandboxed attribute access). One Interpreter per render; it is not
// thread-safe, but many can run over the same (immutable) AST at once.
//
// Failure: throws TemplateError (never past Program::render). Limits from
// RenderOptions bound output size, loop iterations and macro recursion.
// Reference cycles (a macro stored in its own scope, a namespace holding
// itself) are broken when the Interpreter is destroyed, so nothing leaks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "text/jinja/ast.h"
#include "text/jinja/call_args.h"
#include "text/jinja/callable.h"
#include "text/jinja/render_options.h"
#include "text/jinja/scope.h"
#include "text/jinja/value.h"

namespace tandem::text::jinja {

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options) : options_(options) {}
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body` with `scope` as the template's top-level scope.
  std::string render(const ast::Body& body, const std::shared_ptr<Scope>& scope);

  // Services for filters, tests, methods and globals.
  Value call(const Value& callee, CallArgs args);
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  Value make_namespace();
  void check_size(size_t bytes) const;
  const RenderOptions& options() const { return options_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_body(const ast::Body& body, const std::shared_ptr<Scope>& scope, std::string& out);
  Flow exec(const ast::Stmt& stmt, const std::shared_ptr<Scope>& scope, std::string& out);
  Flow exec_for(const ast::Stmt& stmt, const std::shared_ptr<Scope>& scope, std::string& out);
  void assign(const ast::Target& target, Value value, Scope& scope);
  std::string capture(const ast::Body& body, const std::shared_ptr<Scope>& scope);

  Value eval(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_name(const std::string& name, const Scope& scope);
  Value eval_call(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
  CallArgs eval_args(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
  Value eval_compare(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
  Value apply_filter_chain(const ast::Expr& filter, Value input, const std::shared_ptr<Scope>& scope);

  Value call_macro(const Callable& macro, CallArgs args);
  Value call_builtin(const Callable& fn, CallArgs args);
  Value loop_attr(const Value& loop, const std::string& name);

  void note_iteration();
  void keep_for_cleanup(const std::shared_ptr<Scope>& scope);

  const RenderOptions& options_;
  uint64_t iterations_ = 0;
  int call_depth_ = 0;
  std::vector<std::weak_ptr<Scope>> closure_scopes_;
  std::vector<std::weak_ptr<Namespace>> namespaces_;
};

}  // namespace tandem::text::jinja
