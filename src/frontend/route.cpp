#include "frontend/route.h"

#include <array>
#include <charconv>

namespace tandem::frontend {
namespace {

struct Entry {
  std::string_view path;
  Route route;
  const char* methods;  // the Allow header's value; GET routes take HEAD too, as vLLM's (Starlette's) do
};

constexpr std::array<Entry, 13> kRoutes = {{
    {"/v1/chat/completions", Route::kChatCompletions, "POST"},
    {"/v1/responses", Route::kResponses, "POST"},
    {"/v1/completions", Route::kCompletions, "POST"},
    {"/v1/models", Route::kModels, "GET, HEAD"},
    {"/tokenize", Route::kTokenize, "POST"},
    {"/detokenize", Route::kDetokenize, "POST"},
    {"/health", Route::kHealth, "GET, HEAD"},
    {"/ready", Route::kReady, "GET, HEAD"},
    {"/metrics", Route::kMetrics, "GET, HEAD"},
    {"/version", Route::kVersion, "GET, HEAD"},
    {"/ping", Route::kPing, "GET, HEAD, POST"},
    {"/dashboard", Route::kDashboard, "GET, HEAD"},
    {"/dashboard/data", Route::kDashboardData, "GET, HEAD"},
}};

// Whether `method` is one of the comma-separated `methods`.
bool method_in(std::string_view method, std::string_view methods) {
  while (!methods.empty()) {
    const size_t comma = methods.find(',');
    if (methods.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) break;
    methods.remove_prefix(comma + 1);
    while (!methods.empty() && methods.front() == ' ') methods.remove_prefix(1);
  }
  return false;
}

constexpr std::string_view kModelPrefix = "/v1/models/";
constexpr std::string_view kDashboardPrefix = "/dashboard/";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

RouteMatch match_route(std::string_view method, std::string_view target) {
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  RouteMatch m;
  for (const auto& e : kRoutes) {
    if (path == e.path) {
      m.route = e.route;
      m.allow = e.methods;
      m.method_allowed = method_in(method, e.methods);
      return m;
    }
  }
  if (path.size() > kModelPrefix.size() && path.substr(0, kModelPrefix.size()) == kModelPrefix) {
    m.route = Route::kModel;
    m.allow = "GET, HEAD";
    m.method_allowed = method_in(method, m.allow);
    m.model_id = percent_decode(path.substr(kModelPrefix.size()));
    return m;
  }
  if (path.size() > kDashboardPrefix.size() && path.substr(0, kDashboardPrefix.size()) == kDashboardPrefix) {
    m.route = Route::kDashboard;
    m.allow = "GET, HEAD";
    m.method_allowed = method_in(method, m.allow);
    m.asset = std::string(path.substr(kDashboardPrefix.size()));
    return m;
  }
  m.route = Route::kNotFound;
  m.method_allowed = true;
  return m;
}

const char* route_label(Route route) {
  switch (route) {
    case Route::kChatCompletions: return "/v1/chat/completions";
    case Route::kCompletions: return "/v1/completions";
    case Route::kResponses: return "/v1/responses";
    case Route::kModels: return "/v1/models";
    case Route::kModel: return "/v1/models/{id}";
    case Route::kTokenize: return "/tokenize";
    case Route::kDetokenize: return "/detokenize";
    case Route::kHealth: return "/health";
    case Route::kReady: return "/ready";
    case Route::kMetrics: return "/metrics";
    case Route::kVersion: return "/version";
    case Route::kPing: return "/ping";
    case Route::kDashboard: return "/dashboard";
    case Route::kDashboardData: return "/dashboard/data";
    case Route::kNotFound: return "other";
  }
  return "other";
}

bool route_needs_auth(Route route) {
  switch (route) {
    case Route::kChatCompletions:
    case Route::kCompletions:
    case Route::kResponses:
    case Route::kModels:
    case Route::kModel:
    case Route::kTokenize:
    case Route::kDetokenize:
    case Route::kDashboard:
    case Route::kDashboardData: return true;
    case Route::kHealth:
    case Route::kReady:
    case Route::kMetrics:
    case Route::kVersion:
    case Route::kPing:
    case Route::kNotFound: return false;
  }
  return true;
}

uint64_t query_uint(std::string_view target, std::string_view key) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return 0;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == key) {
      const std::string_view value = pair.substr(eq + 1);
      uint64_t v = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      return ec == std::errc() && end == value.data() + value.size() ? v : 0;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return 0;
}

bool is_dashboard_route(Route route) { return route == Route::kDashboard || route == Route::kDashboardData; }

}  // namespace tandem::frontend
