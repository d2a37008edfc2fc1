#include "scheduler/load_predictor.h"

#include <algorithm>

#include "common/check.h"

namespace tandem::scheduler {

LoadPredictor::LoadPredictor(double alpha, double beta) : alpha_(alpha), beta_(beta) {
  TANDEM_CHECK(alpha > 0 && alpha <= 1 && beta >= 0 && beta <= 1);
}

void LoadPredictor::observe(double x) {
  if (n_++ == 0) {
    level_ = x;
    trend_ = 0;
    return;
  }
  const double prev = level_;
  level_ = alpha_ * x + (1 - alpha_) * (level_ + trend_);
  trend_ = beta_ * (level_ - prev) + (1 - beta_) * trend_;
}

double LoadPredictor::forecast(int h) const {
  if (n_ == 0) return 0.0;
  return std::max(0.0, level_ + h * trend_);
}

}  // namespace tandem::scheduler
