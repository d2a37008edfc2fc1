#include "frontend/http_errors.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "text/unicode.h"

namespace tandem::frontend {

HttpError http_error_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidRequest: return {400, "invalid_request_error", nullptr, false};
    case ErrorKind::kContextLengthExceeded: return {400, "invalid_request_error", "context_length_exceeded", false};
    case ErrorKind::kTemplateError: return {400, "invalid_request_error", "template_error", false};
    case ErrorKind::kUnsupported: return {400, "invalid_request_error", "unsupported", false};
    case ErrorKind::kKvExhausted: return {400, "invalid_request_error", "kv_cache_exhausted", false};
    case ErrorKind::kUnauthorized: return {401, "authentication_error", "invalid_api_key", false};
    case ErrorKind::kNotFound: return {404, "invalid_request_error", "not_found", false};
    case ErrorKind::kMethodNotAllowed: return {405, "invalid_request_error", "method_not_allowed", false};
    case ErrorKind::kPayloadTooLarge: return {413, "invalid_request_error", "request_too_large", false};
    case ErrorKind::kUnsupportedMediaType: return {415, "invalid_request_error", "unsupported_media_type", false};
    case ErrorKind::kQueueFull: return {429, "rate_limit_error", "queue_full", true};
    case ErrorKind::kUnavailable: return {503, "service_unavailable_error", "unavailable", true};
    case ErrorKind::kTimeout: return {504, "timeout_error", "timeout", false};
    case ErrorKind::kCancelled: return {499, "cancelled_error", "cancelled", false};
    case ErrorKind::kLoopDetected: return {508, "invalid_request_error", "loop_detected", false};
    case ErrorKind::kMalformedFile:
    case ErrorKind::kIo:
    case ErrorKind::kDevice:
    case ErrorKind::kInternal:
    case ErrorKind::kOk: return {500, "server_error", "internal_error", false};
  }
  return {500, "server_error", "internal_error", false};
}

std::string error_json(const Status& status) {
  const HttpError e = http_error_for(status.kind());
  boost::json::object err;
  // Messages and params may quote the request (a path, a model id): the
  // serializer copies bytes as they are, so invalid UTF-8 is replaced here.
  err["message"] = text::unicode::to_valid_utf8(status.message());
  err["type"] = e.type;
  if (status.param().empty()) {
    err["param"] = nullptr;
  } else {
    err["param"] = text::unicode::to_valid_utf8(status.param());
  }
  if (e.code == nullptr) {
    err["code"] = nullptr;
  } else {
    err["code"] = e.code;
  }
  boost::json::object root;
  root["error"] = std::move(err);
  return boost::json::serialize(root);
}

}  // namespace tandem::frontend
