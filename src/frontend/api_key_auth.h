// frontend::ApiKeyAuth: optional bearer-token authentication. With no keys
// configured every request passes. Keys are compared in constant time (the
// time depends only on the lengths), and never logged.
// Threading: immutable after construction; check() is thread-safe.
#pragma once

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

 private:
  std::vector<std::string> keys_;
};

// Compares two strings in time that depends on their lengths only.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tandem::frontend
