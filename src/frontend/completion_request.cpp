#include "frontend/completion_request.h"

#include <boost/json/object.hpp>

#include "frontend/chat_request.h"
#include "frontend/json_fields.h"

namespace tandem::frontend {
namespace {

constexpr const char* kPromptShape =
    "must be a string, an array of strings, an array of token ids or an array of token-id arrays";

Status token_array(const boost::json::array& arr, std::vector<int64_t>& out) {
  out.reserve(arr.size());
  for (const auto& t : arr) {
    const auto id = t.is_bool() ? std::nullopt : as_integer(t);
    if (!id) return invalid_field("prompt", kPromptShape);
    out.push_back(*id);
  }
  if (out.empty()) return invalid_field("prompt", "must not be empty");
  return {};
}

}  // namespace

Result<CompletionRequest> parse_completion_request(std::string_view body) {
  auto obj = parse_json_object(body);
  if (!obj.ok()) return obj.status();
  const auto& o = obj.value();
  CompletionRequest req;
  auto p = o.find("prompt");
  if (p == o.end() || p->value().is_null()) return invalid_field("prompt", "is required");
  const auto& v = p->value();
  if (v.is_string()) {
    req.prompts.push_back({std::string(v.get_string()), {}});
  } else if (v.is_array()) {
    const auto& arr = v.get_array();
    if (arr.empty()) return invalid_field("prompt", "must not be empty");
    if (arr[0].is_string()) {
      for (const auto& e : arr) {
        if (!e.is_string()) return invalid_field("prompt", kPromptShape);
        req.prompts.push_back({std::string(e.get_string()), {}});
      }
    } else if (arr[0].is_array()) {
      for (const auto& e : arr) {
        if (!e.is_array()) return invalid_field("prompt", kPromptShape);
        CompletionPrompt cp;
        TANDEM_RETURN_IF_ERROR(token_array(e.get_array(), cp.tokens));
        req.prompts.push_back(std::move(cp));
      }
    } else {
      CompletionPrompt cp;
      TANDEM_RETURN_IF_ERROR(token_array(arr, cp.tokens));
      req.prompts.push_back(std::move(cp));
    }
  } else {
    return invalid_field("prompt", kPromptShape);
  }
  TANDEM_RETURN_IF_ERROR(parse_generation_options(o, ApiKind::kCompletion, req.options));
  if (static_cast<int64_t>(req.prompts.size()) * req.options.n > kMaxTotalChoices) {
    return invalid_field("n", "times the number of prompts must not exceed " + std::to_string(kMaxTotalChoices));
  }
  return req;
}

}  // namespace tandem::frontend
