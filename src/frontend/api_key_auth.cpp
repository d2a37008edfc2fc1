#include "frontend/api_key_auth.h"

#include <cstdint>
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

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The credentials after `scheme` ("Bearer "), trimmed; nothing when the
// header has another scheme. Schemes are case-insensitive (RFC 7235).
std::optional<std::string_view> credentials(std::string_view authorization, std::string_view scheme) {
  if (authorization.size() < scheme.size()) return std::nullopt;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (lower(authorization[i]) != lower(scheme[i])) return std::nullopt;
  }
  std::string_view token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  return token;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

bool ApiKeyAuth::check(std::string_view authorization) const {
  if (keys_.empty()) return true;
  const auto token = credentials(authorization, "Bearer ");
  if (!token) return false;
  bool ok = false;
  for (const auto& k : keys_) ok |= constant_time_equal(*token, k);  // no early exit
  return ok;
}

bool ApiKeyAuth::check_bearer_or_basic(std::string_view authorization) const {
  if (keys_.empty() || check(authorization)) return true;
  const auto token = credentials(authorization, "Basic ");
  if (!token) return false;
  const auto decoded = base64_decode(*token);
  if (!decoded) return false;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  const std::string_view password = std::string_view(*decoded).substr(colon + 1);
  bool ok = false;
  for (const auto& k : keys_) ok |= constant_time_equal(password, k);
  return ok;
}

}  // namespace tandem::frontend
