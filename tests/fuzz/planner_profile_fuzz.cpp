// libFuzzer target: scheduler::parse_planner_profile on any bytes. A profile
// that parses must have shapes whose curves give finite, non-negative step
// times anywhere (inside, between and beyond the measured points), and a
// Planner built on it must score every split without failing a check.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scheduler/planner.h"
#include "scheduler/planner_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem::scheduler;
  auto p = parse_planner_profile(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!p.ok()) {
    if (p.status().message().empty()) std::abort();  // an error always says what is wrong
    return 0;
  }
  if (p->shapes.empty()) std::abort();
  for (const PlannerShape& s : p->shapes) {
    if (s.prefill_tokens.size() != s.prefill_s.size() || s.decode_s.size() != s.decode_batch.size()) std::abort();
    for (double t : {0.0, 1.0, 100.0, 5000.0, 1e7}) {
      const double v = s.prefill_seconds(t);
      if (!std::isfinite(v) || v < 0) std::abort();
    }
    for (double b : {0.0, 1.0, 7.5, 300.0}) {
      for (double c : {1.0, 1000.0, 1e6}) {
        const double v = s.decode_seconds(b, c);
        if (!std::isfinite(v) || v < 0) std::abort();
      }
    }
    Planner planner({}, s);
    PlannerObservation o;
    o.interval_s = 1;
    o.arrivals = 3;
    o.prompt_tokens = 900;
    o.finished = 2;
    o.output_tokens = 200;
    planner.step(o, std::vector<PlannerWorker>(3));
    for (int k = 0; k < 3; ++k) {
      for (double demand : {0.0, 900.0}) {
        const Plan plan = planner.evaluate(k, 3, demand, demand / 4);
        if (std::isnan(plan.score) || plan.score < 0 || plan.decode_max_running < 1) std::abort();
      }
    }
  }
  return 0;
}
