// frontend::OpenAiApi: the request handlers that do not stream (models,
// tokenize, detokenize) and the planning of generation requests, free of
// HTTP plumbing. Each handler returns a complete JSON response; errors are
// OpenAI error objects with the status from http_errors.
// Threading: const methods, safe from every connection thread at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "frontend/job_plan.h"
#include "frontend/response_store.h"
#include "frontend/route.h"
#include "frontend/served_model.h"

namespace tandem::frontend {

struct ApiResponse {
  int status = 200;
  std::string body;
  bool retry_after = false;  // add Retry-After (429 / 503)
};

// A model only peer appliances serve (forwarding, peer_router.h), as /v1/models
// lists it: its name or alias (`id`), the name (`root`), and who serves it.
struct RemoteModel {
  std::string id;
  std::string root;
  int64_t max_context = 0;
  std::vector<std::string> peers;  // appliance ids
};

class OpenAiApi {
 public:
  explicit OpenAiApi(const ServedModel& model) : model_(model), responses_(std::make_shared<ResponseStore>()) {}

  // `remote`: models served only by peers, listed after this appliance's
  // with an extra field "tandem_peers" (the appliances serving each).
  ApiResponse models(const std::vector<RemoteModel>& remote = {}) const;
  ApiResponse model(const std::string& id, const std::vector<RemoteModel>& remote = {}) const;
  ApiResponse tokenize(std::string_view body) const;
  ApiResponse detokenize(std::string_view body) const;
  // GET /version: {"version": "0.1.0"} (vLLM's shape).
  static ApiResponse version();

  // Parses, validates and plans a generation request (route must be
  // kChatCompletions, kCompletions or kResponses).
  Result<JobPlan> plan(Route route, std::string_view body) const;

  static ApiResponse error(const Status& status);

  const ServedModel& served() const { return model_; }

 private:
  // The model object of `id` (the name or an alias; `root` is the name).
  void append_model_object(std::string& out, const std::string& id) const;
  void append_remote_object(std::string& out, const RemoteModel& m) const;
  const ServedModel& model_;
  // Conversations of stored Responses API requests (previous_response_id).
  std::shared_ptr<ResponseStore> responses_;
};

}  // namespace tandem::frontend
