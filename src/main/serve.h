// `tandem serve`: loads the model, starts the workers, the router and the HTTP
// server, tells systemd how it goes, and drains on SIGTERM/SIGINT.
//
// Start-up failures (no model, unreadable model, port taken) are logged once
// and give exit status 1; config errors throw ConfigError (exit 2 in main).
// Shutdown: the first SIGTERM/SIGINT stops accepting (new requests get 503),
// lets in-flight requests finish for up to [server] drain_timeout_s, then
// exits 0; a second signal exits at once (status 1).
#pragma once

#include <functional>
#include <memory>

#include "common/config.h"
#include "engine/runner.h"

namespace tandem {

// Test seams (tests/gpu/cuda_fault_serve): empty members change nothing.
struct ServeHooks {
  // Wraps each worker's runner before its worker starts (e.g. to inject a
  // device fault); returns the runner the worker uses.
  std::function<std::unique_ptr<engine::Runner>(std::unique_ptr<engine::Runner>)> wrap_runner;
};

int run_serve(const Config& config, const ServeHooks& hooks = {});

}  // namespace tandem
