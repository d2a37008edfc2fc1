// scheduler::TokenConstraint: what constrained decoding (structured output)
// needs of one sequence's grammar matcher. The frontend wraps a
// grammar::Matcher in one (one per choice); the scheduler knows nothing of
// grammars, and its tests use a fake.
//
// Per step, for a sequence with a constraint, the scheduler
//   1. fills the next token's allowed mask (while the device runs the forward
//      pass: Runner::step_and_sample's before_sampling hook);
//   2. samples from the masked logits (engine::sample / the device sampler);
//   3. accepts the sampled token; then ends the sequence with finish_reason
//      kStop when the constraint is finished (nothing more can follow).
// A mask with no allowed token, or a sampled token the constraint refuses,
// ends the sequence with kError (never an unconstrained token).
// Stop strings need no rollback here: they end the request in the frontend
// (which cancels it), so no token is generated after one.
//
// Threading: used by one thread at a time: the worker that holds the
// sequence (a hand-off moves it with the sequence, through the router's queue).
#pragma once

#include <cstdint>
#include <span>

namespace tandem::scheduler {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets bit t of word t / 32 (engine::token_allowed) for every token t that
  // may come next; `mask` is (vocab + 31) / 32 words, zeroed by the caller.
  // Stop ids (EOS) are allowed iff the output may end here. False when no
  // token is allowed.
  virtual bool fill_next_token_mask(std::span<uint32_t> mask) = 0;
  // Advances past `token`; false (state unchanged) if it is not allowed.
  virtual bool accept(int32_t token) = 0;
  // Undoes the last n accepted tokens.
  virtual void rollback(int n_tokens) = 0;
  // The output is complete and nothing may follow (the sequence ends).
  virtual bool finished() const = 0;
};

}  // namespace tandem::scheduler
