// frontend::Route: the route table (method + path -> endpoint), kept apart
// from the connection code so it is tested alone.
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::frontend {

enum class Route {
  kChatCompletions,  // POST /v1/chat/completions
  kCompletions,      // POST /v1/completions
  kResponses,        // POST /v1/responses
  kModels,           // GET  /v1/models
  kModel,            // GET  /v1/models/{id}
  kTokenize,         // POST /tokenize
  kDetokenize,       // POST /detokenize
  kHealth,           // GET  /health
  kReady,            // GET  /ready
  kMetrics,          // GET  /metrics
  kVersion,          // GET  /version
  kPing,             // GET or POST /ping (vLLM's SageMaker health check)
  kDashboard,        // GET  /dashboard (the page) and /dashboard/{file} (its script and style)
  kDashboardData,    // GET  /dashboard/data (the figures, JSON)
  kNotFound,         // no such path
};

struct RouteMatch {
  Route route = Route::kNotFound;
  bool method_allowed = false;  // false: answer 405 with Allow
  const char* allow = "";       // the methods the path accepts ("GET, HEAD")
  std::string model_id;         // kModel: the percent-decoded {id}
  std::string asset;            // kDashboard: the file after "/dashboard/" ("" for the page)
};

// `method` is the request method ("GET"), `target` the request target (the
// query string is ignored). Every GET route also takes HEAD (answered without
// a body).
RouteMatch match_route(std::string_view method, std::string_view target);

// Stable label for metrics and logs ("/v1/completions", "other" for kNotFound).
// The returned pointer is a string literal.
const char* route_label(Route route);

// Whether the route needs an API key when keys are configured.
bool route_needs_auth(Route route);

// The value of `key` in the target's query string as an unsigned integer
// (`/dashboard/data?since=42` -> 42); 0 when absent or not a number.
uint64_t query_uint(std::string_view target, std::string_view key);

// Whether the route is the dashboard's (served only when it is enabled; a
// browser may send the API key as HTTP Basic credentials, see ApiKeyAuth).
bool is_dashboard_route(Route route);

}  // namespace tandem::frontend
