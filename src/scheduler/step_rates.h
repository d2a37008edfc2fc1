// scheduler::StepRates: one worker's measured step speed, as online estimates
// fed with every step the worker runs (the inputs of admission by expected
// wait, first_token_estimate.h).
//
// Model: a step with d one-token decodes and p prefill tokens (prompt chunks,
// or a preempted sequence's recompute) takes about a + b * p seconds, where a
// is the decode step time at the current batch and b the prefill time per
// token. a is an exponentially weighted moving average (EWMA) of the steps
// without prefill tokens; b is the EWMA of the time those mixed steps took
// beyond a, divided by the EWMA of their prefill tokens (so steps with many
// prefill tokens weigh more than one-token prompts, whose excess is mostly
// noise). Before any decode-only step has been timed, a step's whole time
// counts as prefill time (a prefill-role worker never runs a decode-only step:
// its a stays 0 and b takes the whole step); the first decode-only step drops
// that figure, and b is measured again from the next prefill step as the time
// beyond a. A figure not measured yet reads 0, so estimates made from a fresh
// worker are low and admit.
//
// Threading: plain data; the worker thread feeds it, copies go to readers.
#pragma once

namespace tandem::scheduler {

class StepRates {
 public:
  // `alpha` in (0, 1]: the weight of the newest step (1: the last step only).
  explicit StepRates(double alpha = kDefaultAlpha);

  // One step that ran `decodes` one-token decode chunks and `prefill_tokens`
  // other tokens in `seconds` (wall time of the runner's step). Steps with
  // neither, or negative figures, are ignored.
  void observe(int decodes, int prefill_tokens, double seconds);

  // At least one step has been timed; until then no estimate is made.
  bool known() const { return has_decode_ || has_prefill_; }
  // a: seconds of a step without prefill tokens (0 before one was timed).
  double decode_step_seconds() const { return decode_s_; }
  // b: seconds per prefill token (0 before a prefill step was timed).
  double prefill_seconds_per_token() const;

  static constexpr double kDefaultAlpha = 0.2;

 private:
  double alpha_;
  bool has_decode_ = false;
  bool has_prefill_ = false;
  double decode_s_ = 0.0;
  double excess_s_ = 0.0;        // EWMA of (step seconds - a) over steps with prefill tokens
  double prefill_tokens_ = 0.0;  // EWMA of their prefill tokens
};

}  // namespace tandem::scheduler
