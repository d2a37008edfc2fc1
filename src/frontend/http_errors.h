// The one place where tandem::ErrorKind becomes an HTTP status and an OpenAI
// error object ({"error": {"message", "type", "param", "code"}}).
//
// Threading: pure functions, callable from any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace tandem::frontend {

struct HttpError {
  int status = 500;            // HTTP status code
  const char* type = "";       // OpenAI error `type`
  const char* code = nullptr;  // OpenAI error `code`; nullptr renders as null
  bool retry_after = false;    // the response carries a Retry-After header
};

// ErrorKind -> (HTTP status, OpenAI type, code). kOk is a programming error
// and maps to 500.
HttpError http_error_for(ErrorKind kind);

// The OpenAI error object for a non-ok status: message and param come from
// the Status (param null when empty), invalid UTF-8 in them replaced by U+FFFD.
std::string error_json(const Status& status);

// Seconds sent in Retry-After for 429 and 503 responses, unless the Status
// carries its own (Status::retry_after_seconds, e.g. from the expected wait).
inline constexpr int kRetryAfterSeconds = 1;

}  // namespace tandem::frontend
