// frontend::DashboardSource: where GET /dashboard/data gets its JSON. The
// server knows nothing of how the figures are gathered; main's
// DashboardSampler (main/dashboard_sampler.h) implements this from the
// metrics registry, and the planner adds its decisions there.
// Threading: data() is called on io threads, concurrently with whatever
// thread feeds the source; implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::frontend {

class DashboardSource {
 public:
  virtual ~DashboardSource() = default;
  // The JSON snapshot (application/json). `since`: the highest `seq` the
  // page has already seen (0 at first load); time series and timeline entries
  // at or below it are left out, so each poll carries only what is new.
  virtual std::string data(uint64_t since) const = 0;
};

}  // namespace tandem::frontend
