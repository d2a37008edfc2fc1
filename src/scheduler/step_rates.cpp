#include "scheduler/step_rates.h"

#include <algorithm>

#include "common/check.h"

namespace tandem::scheduler {

StepRates::StepRates(double alpha) : alpha_(alpha) { TANDEM_CHECK(alpha > 0.0 && alpha <= 1.0); }

void StepRates::observe(int decodes, int prefill_tokens, double seconds) {
  if (decodes < 0 || prefill_tokens < 0 || seconds < 0.0 || decodes + prefill_tokens == 0) return;
  if (prefill_tokens == 0) {
    if (!has_decode_) {
      // A prefill figure taken without a decode time counted the step's whole
      // time (its fixed part included) as prefill: measure it again.
      has_prefill_ = false;
      decode_s_ = seconds;
    } else {
      decode_s_ = (1.0 - alpha_) * decode_s_ + alpha_ * seconds;
    }
    has_decode_ = true;
    return;
  }
  // The part of the step beyond a decode step is the prefill's.
  const double excess = std::max(0.0, seconds - (has_decode_ ? decode_s_ : 0.0));
  if (!has_prefill_) {
    excess_s_ = excess;
    prefill_tokens_ = prefill_tokens;
    has_prefill_ = true;
    return;
  }
  excess_s_ = (1.0 - alpha_) * excess_s_ + alpha_ * excess;
  prefill_tokens_ = (1.0 - alpha_) * prefill_tokens_ + alpha_ * prefill_tokens;
}

double StepRates::prefill_seconds_per_token() const {
  return has_prefill_ && prefill_tokens_ > 0.0 ? excess_s_ / prefill_tokens_ : 0.0;
}

}  // namespace tandem::scheduler
