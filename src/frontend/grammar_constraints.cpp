#include "frontend/grammar_constraints.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace tandem::frontend {
namespace {

// One sequence's grammar::Matcher as the scheduler sees it. The scheduler's
// mask may be wider than the tokenizer's (the model's logits row can be
// padded past the vocabulary): those ids stay disallowed (zero words).
class MatcherConstraint final : public scheduler::TokenConstraint {
 public:
  MatcherConstraint(std::shared_ptr<const grammar::Grammar> g, size_t words) : matcher_(std::move(g)), words_(words) {}

  bool fill_next_token_mask(std::span<uint32_t> mask) override {
    if (mask.size() >= words_) return matcher_.fill_next_token_mask(mask.first(words_));
    // A logits row narrower than the tokenizer: fill a full mask, keep what fits.
    scratch_.assign(words_, 0u);
    const bool any = matcher_.fill_next_token_mask(scratch_);
    std::copy_n(scratch_.begin(), mask.size(), mask.begin());
    return any && std::any_of(mask.begin(), mask.end(), [](uint32_t w) { return w != 0; });
  }
  bool accept(int32_t token) override { return matcher_.accept(token); }
  void rollback(int n_tokens) override { matcher_.rollback(n_tokens); }
  bool finished() const override { return matcher_.finished(); }

 private:
  grammar::Matcher matcher_;
  size_t words_;
  std::vector<uint32_t> scratch_;
};

}  // namespace

grammar::TokenTable GrammarConstraints::token_table(const text::Tokenizer& tokenizer,
                                                    std::span<const int32_t> stop_ids) {
  grammar::TokenTable t;
  const int32_t vocab = tokenizer.vocab_size();
  t.bytes.reserve(static_cast<size_t>(vocab));
  t.special.reserve(static_cast<size_t>(vocab));
  for (int32_t id = 0; id < vocab; ++id) {
    const text::TokenKind kind = tokenizer.kind(id);
    const bool special = kind == text::TokenKind::kControl || kind == text::TokenKind::kUnused;
    t.special.push_back(special);
    t.bytes.push_back(special ? std::string() : tokenizer.token_bytes(id));
  }
  for (int32_t id : stop_ids) {
    if (id >= 0 && id < vocab) t.stop_ids.push_back(id);
  }
  return t;
}

GrammarConstraints::GrammarConstraints(const text::Tokenizer& tokenizer, std::span<const int32_t> stop_ids,
                                       grammar::Limits limits)
    : compiler_(std::make_shared<grammar::Compiler>(token_table(tokenizer, stop_ids), limits)) {}

Result<ConstraintFactory> GrammarConstraints::compile(const StructuredOutput& spec) const {
  Result<std::shared_ptr<const grammar::Grammar>> g = Status(ErrorKind::kInternal, "no structured output kind");
  switch (spec.kind) {
    case StructuredKind::kJsonSchema: g = compiler_->json_schema(spec.source, spec.strict); break;
    case StructuredKind::kJsonObject: g = compiler_->any_json_object(); break;
    case StructuredKind::kRegex: g = compiler_->regex(spec.source); break;
    case StructuredKind::kChoice: g = compiler_->choice(spec.choices); break;
    case StructuredKind::kGrammar: g = compiler_->ebnf(spec.source); break;
    case StructuredKind::kNone: break;
  }
  if (!g.ok()) {
    return Status(g.status().kind(), "'" + spec.field + "': " + g.status().message(), spec.field);
  }
  const size_t words = compiler_->mask_words();
  return ConstraintFactory(
      [grammar = std::move(g.value()), words] { return std::make_shared<MatcherConstraint>(grammar, words); });
}

}  // namespace tandem::frontend
