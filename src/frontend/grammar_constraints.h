// frontend::GrammarConstraints: the served model's ConstraintCompiler over the
// grammar engine (src/grammar). It owns one grammar::Compiler built from the
// model's tokenizer (token bytes, special ids, the ids that end a sequence),
// whose LRU cache makes a repeated format cost a lookup; each compiled format
// becomes a factory of fresh grammar::Matchers, one per choice, wrapped as
// scheduler::TokenConstraint.
//
// Threading: compile() is thread-safe (grammar::Compiler is); matchers are
// used by one thread at a time (the worker holding the sequence).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "frontend/constraint_compiler.h"
#include "grammar/grammar.h"
#include "text/tokenizer.h"

namespace tandem::frontend {

class GrammarConstraints final : public ConstraintCompiler {
 public:
  // `stop_ids`: the ids that end a sequence (the model's EOS / end-of-turn
  // ids), allowed by a mask exactly when the output may end there.
  GrammarConstraints(const text::Tokenizer& tokenizer, std::span<const int32_t> stop_ids, grammar::Limits limits = {});

  // The engine's view of a tokenizer: every id's output bytes, control and
  // unused ids special (never allowed inside a format).
  static grammar::TokenTable token_table(const text::Tokenizer& tokenizer, std::span<const int32_t> stop_ids);

  // Compile errors (bad schema, regex or grammar; unsupported keyword; a
  // limit) keep their kind and message, prefixed by the field, with
  // param = spec.field.
  Result<ConstraintFactory> compile(const StructuredOutput& spec) const override;

 private:
  std::shared_ptr<grammar::Compiler> compiler_;
};

}  // namespace tandem::frontend
