// frontend::ConstraintCompiler: turns a StructuredOutput into matchers for the
// scheduler (scheduler::TokenConstraint, one per choice). The served model's
// compiler (ServedModel::constraints) wraps the grammar engine; a build or a
// model without one refuses structured output with a 400
// (kStructuredOutputUnavailable), never ignoring it.
//
// Threading: compile() is called from the prepare threads concurrently (it
// must be thread-safe; compiled grammars may be cached and shared). A
// ConstraintFactory may be called from any thread; each call returns a new,
// independent matcher at the start of the output.
#pragma once

#include <functional>
#include <memory>

#include "common/status.h"
#include "frontend/structured_output.h"
#include "scheduler/token_constraint.h"

namespace tandem::frontend {

using ConstraintFactory = std::function<std::shared_ptr<scheduler::TokenConstraint>()>;

class ConstraintCompiler {
 public:
  virtual ~ConstraintCompiler() = default;
  // `spec.any()` holds. Fails with kInvalidRequest / kUnsupported whose param
  // is spec.field and whose message names what is wrong (an unsupported
  // schema keyword and where, a bad regex and the offset, a grammar error
  // and its line:col, a compile limit).
  virtual Result<ConstraintFactory> compile(const StructuredOutput& spec) const = 0;
};

}  // namespace tandem::frontend
