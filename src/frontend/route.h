// frontend::Route: the route table (method + path -> endpoint), kept apart
// from the connection code so it is tested alone.
// Threading: pure functions.
#pragma once

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
  kNotFound,         // no such path
};

struct RouteMatch {
  Route route = Route::kNotFound;
  bool method_allowed = false;  // false: answer 405 with Allow
  const char* allow = "";       // the methods the path accepts ("GET, HEAD")
  std::string model_id;         // kModel: the percent-decoded {id}
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

}  // namespace tandem::frontend
