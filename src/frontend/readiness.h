// What GET /ready answers (docs/design.md: load balancers and systemd checks poll it).
//   200 {"status":"ready","workers":[{"name":"cuda0","state":"running","role":"aggregated"},...]}
//       while every worker serves; "degraded" while some failed (a device
//       fault) and others still serve;
//   503 naming the failed workers when none serves.
// Draining is decided by the caller (it is the server's state, not the workers').
#pragma once

#include <string>

#include "scheduler/generation.h"

namespace tandem::frontend {

struct Readiness {
  bool ready = false;
  std::string body;     // JSON body of the 200 (ready only)
  std::string message;  // error message of the 503 (not ready only)
};

// `service_ready` is GenerationService::ready(); `stats` its stats().
Readiness readiness(bool service_ready, const scheduler::ServiceStats& stats);

}  // namespace tandem::frontend
