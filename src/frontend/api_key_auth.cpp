#include "frontend/api_key_auth.h"

#include <utility>

namespace tandem::frontend {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Walk the longer input whole so the running time does not reveal the
  // position of the first difference.
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

ApiKeyAuth::ApiKeyAuth(std::vector<std::string> keys) {
  for (auto& k : keys) {
    if (!k.empty()) keys_.push_back(std::move(k));
  }
}

bool ApiKeyAuth::check(std::string_view authorization) const {
  if (keys_.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() < kBearer.size()) return false;
  // The scheme is case-insensitive (RFC 7235).
  for (size_t i = 0; i < kBearer.size(); ++i) {
    const char c = authorization[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const char want = (kBearer[i] >= 'A' && kBearer[i] <= 'Z') ? static_cast<char>(kBearer[i] - 'A' + 'a') : kBearer[i];
    if (lower != want) return false;
  }
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  bool ok = false;
  for (const auto& k : keys_) ok |= constant_time_equal(token, k);  // no early exit
  return ok;
}

}  // namespace tandem::frontend
