// scheduler::LoadPredictor: one-step-ahead forecast of a load figure
// (prompt tokens/s, output tokens/s) for the SLA planner, by Holt's linear
// trend method (double exponential smoothing):
//   level_t = a * x_t + (1 - a) * (level_{t-1} + trend_{t-1})
//   trend_t = b * (level_t - level_{t-1}) + (1 - b) * trend_{t-1}
//   forecast(h) = max(0, level_t + h * trend_t)
// Why Holt and not a plain EWMA: the traffic the planner must follow ramps
// (a morning rise, a batch job starting), and an EWMA with weight a lags a
// linear ramp of slope s by s * (1 - a) / a forever, while Holt's one-step
// error on a ramp goes to zero; on a flat load both converge to the level.
// Spikes are followed within a few intervals (a = 0.5: half of a step change
// shows in the next forecast). The first observation sets the level with no
// trend.
//
// Pure value type: no clock, no threads; deterministic.
#pragma once

namespace tandem::scheduler {

class LoadPredictor {
 public:
  // 0 < alpha <= 1, 0 <= beta <= 1 (CHECKed: they come from code, not users).
  LoadPredictor(double alpha = 0.5, double beta = 0.3);

  void observe(double x);
  // The forecast h intervals ahead (h >= 1); 0 before any observation.
  double forecast(int h = 1) const;
  bool empty() const { return n_ == 0; }
  double level() const { return level_; }
  double trend() const { return trend_; }

 private:
  double alpha_, beta_;
  double level_ = 0, trend_ = 0;
  long n_ = 0;
};

}  // namespace tandem::scheduler
