#include "common/status.h"

namespace tandem {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk: return "ok";
    case ErrorKind::kInvalidRequest: return "invalid_request";
    case ErrorKind::kContextLengthExceeded: return "context_length_exceeded";
    case ErrorKind::kUnauthorized: return "unauthorized";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kMethodNotAllowed: return "method_not_allowed";
    case ErrorKind::kPayloadTooLarge: return "payload_too_large";
    case ErrorKind::kUnsupportedMediaType: return "unsupported_media_type";
    case ErrorKind::kQueueFull: return "queue_full";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kTemplateError: return "template_error";
    case ErrorKind::kKvExhausted: return "kv_exhausted";
    case ErrorKind::kCancelled: return "cancelled";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kMalformedFile: return "malformed_file";
    case ErrorKind::kUnsupported: return "unsupported";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kDevice: return "device";
    case ErrorKind::kInternal: return "internal";
    case ErrorKind::kLoopDetected: return "loop_detected";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string s = error_kind_name(kind_);
  s += ": ";
  s += message_;
  if (!param_.empty()) s += " (param " + param_ + ")";
  return s;
}

}  // namespace tandem
