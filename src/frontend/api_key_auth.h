// frontend::ApiKeyAuth: optional bearer-token authentication. With no keys
// configured every request passes. The dashboard also takes a key as HTTP
// Basic credentials (any user name, the key as password), the one form a
// browser sends on its own after asking for it. Keys are compared in constant time (the
// time depends only on the lengths), and never logged.
// Threading: immutable after construction; check() is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::frontend {

class ApiKeyAuth {
 public:
  explicit ApiKeyAuth(std::vector<std::string> keys);

  bool enabled() const { return !keys_.empty(); }
  // `authorization` is the Authorization header value ("Bearer KEY"), empty
  // when absent. True when auth is disabled or the key matches one of the keys.
  bool check(std::string_view authorization) const;
  // Also takes "Basic base64(USER:KEY)" (RFC 7617; the user name is ignored).
  bool check_bearer_or_basic(std::string_view authorization) const;

 private:
  std::vector<std::string> keys_;
};

// RFC 4648 base64 (padding optional); nothing for other input.
std::optional<std::string> base64_decode(std::string_view text);

// Compares two strings in time that depends on their lengths only.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tandem::frontend
