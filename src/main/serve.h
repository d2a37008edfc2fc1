// `tandem serve`: loads the model, starts the workers, the router and the HTTP
// server, tells systemd how it goes, and drains on SIGTERM/SIGINT.
//
// Start-up failures (no model, unreadable model, port taken) are logged once
// and give exit status 1; config errors throw ConfigError (exit 2 in main).
// Shutdown: the first SIGTERM/SIGINT stops accepting (new requests get 503),
// lets in-flight requests finish for up to [server] drain_timeout_s, then
// exits 0; a second signal exits at once (status 1).
#pragma once

#include "common/config.h"

namespace tandem {

int run_serve(const Config& config);

}  // namespace tandem
