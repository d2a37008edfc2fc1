// Expected failures travel as Status / Result<T> (docs/style.md, error tier 1).
// One error-kind enum for the whole process; frontend/http_errors maps it to an
// HTTP status and OpenAI error type in exactly one function.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tandem {

enum class ErrorKind {
  kOk,
  kInvalidRequest,         // bad JSON, bad parameter (param names the field)
  kContextLengthExceeded,  // prompt + max_tokens beyond the model's context
  kUnauthorized,           // missing or wrong API key
  kNotFound,               // unknown model, route or id
  kMethodNotAllowed,
  kPayloadTooLarge,
  kUnsupportedMediaType,  // request body is not application/json (415)
  kQueueFull,             // bounded waiting queue is full (429)
  kUnavailable,           // draining, not ready, no healthy worker (503)
  kTemplateError,         // chat template syntax error or raise_exception (400)
  kKvExhausted,           // a request that can never fit in the KV pool
  kCancelled,             // client went away
  kTimeout,               // deadline passed
  kMalformedFile,         // model/tokenizer/config file is wrong (names file and key)
  kUnsupported,           // valid input we do not implement (names what)
  kIo,                    // file system or socket failure
  kDevice,                // GPU fault: OOM, failed launch, Xid
  kInternal,              // a real bug
  kLoopDetected,          // a forwarded request that may not be forwarded again (508)
};

// Stable lower-case name of an error kind, for logs and metrics labels.
const char* error_kind_name(ErrorKind kind);

class Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message, std::string param = {})
      : kind_(kind), message_(std::move(message)), param_(std::move(param)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // The request field at fault (OpenAI's `param`), empty when none.
  const std::string& param() const { return param_; }
  // For a retryable refusal (kQueueFull, kUnavailable): seconds the client
  // should wait before retrying (the HTTP Retry-After); 0: the default.
  int retry_after_seconds() const { return retry_after_s_; }
  void set_retry_after_seconds(int seconds) { retry_after_s_ = seconds; }
  std::string to_string() const;

 private:
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
  std::string param_;
  int retry_after_s_ = 0;
};

// Either a value or a non-ok Status.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  Result(ErrorKind kind, std::string message, std::string param = {})
      : v_(Status(kind, std::move(message), std::move(param))) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tandem

// Returns the Status of `expr` (a Status, or anything convertible to one) from
// the enclosing function when it is not ok.
#define TANDEM_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::tandem::Status tandem_status_ = (expr);        \
    if (!tandem_status_.ok()) return tandem_status_; \
  } while (0)
