#include "frontend/openai_api.h"

#include "common/check.h"
#include "frontend/chat_request.h"
#include "frontend/completion_request.h"
#include "frontend/http_errors.h"
#include "frontend/json_fields.h"
#include "frontend/json_text.h"
#include "frontend/responses_request.h"
#include "frontend/tokenize_request.h"

namespace tandem::frontend {

ApiResponse OpenAiApi::error(const Status& status) {
  const HttpError e = http_error_for(status.kind());
  return {e.status, error_json(status), e.retry_after};
}

void OpenAiApi::append_model_object(std::string& out, const std::string& id) const {
  out += "{\"id\":";
  append_json_string(out, id);
  out += ",\"object\":\"model\",\"created\":";
  append_json_int(out, model_.created);
  out += ",\"owned_by\":\"tandem\",\"root\":";
  append_json_string(out, model_.name);
  out += ",\"parent\":null,\"max_model_len\":";
  append_json_int(out, model_.max_context);
  out += '}';
}

void OpenAiApi::append_remote_object(std::string& out, const RemoteModel& m) const {
  out += "{\"id\":";
  append_json_string(out, m.id);
  out += ",\"object\":\"model\",\"created\":";
  append_json_int(out, model_.created);
  out += ",\"owned_by\":\"tandem\",\"root\":";
  append_json_string(out, m.root);
  out += ",\"parent\":null,\"max_model_len\":";
  append_json_int(out, m.max_context);
  out += ",\"tandem_peers\":[";
  for (size_t i = 0; i < m.peers.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, m.peers[i]);
  }
  out += "]}";
}

ApiResponse OpenAiApi::models(const std::vector<RemoteModel>& remote) const {
  ApiResponse r;
  r.body = "{\"object\":\"list\",\"data\":[";
  append_model_object(r.body, model_.name);
  for (const auto& alias : model_.aliases) {
    r.body += ',';
    append_model_object(r.body, alias);
  }
  for (const RemoteModel& m : remote) {
    r.body += ',';
    append_remote_object(r.body, m);
  }
  r.body += "]}";
  return r;
}

ApiResponse OpenAiApi::model(const std::string& id, const std::vector<RemoteModel>& remote) const {
  if (!id.empty() && !check_model_name(id, model_).ok()) {
    for (const RemoteModel& m : remote) {
      if (m.id == id) {
        ApiResponse r;
        append_remote_object(r.body, m);
        return r;
      }
    }
  }
  if (id.empty() || !check_model_name(id, model_).ok()) {
    return error(Status(ErrorKind::kNotFound, "The model `" + id + "` does not exist.", "model"));
  }
  ApiResponse r;
  append_model_object(r.body, id);
  return r;
}

ApiResponse OpenAiApi::version() {
  ApiResponse r;
  r.body = "{\"version\":";
  append_json_string(r.body, TANDEM_VERSION);
  r.body += '}';
  return r;
}

ApiResponse OpenAiApi::tokenize(std::string_view body) const {
  auto req = parse_tokenize_request(body);
  if (!req.ok()) return error(req.status());
  Status st = check_model_name(req->model, model_);
  if (!st.ok()) return error(st);
  const auto& tok = *model_.tokenizer;
  std::vector<int32_t> ids;
  if (req->prompt) {
    ids = tok.encode(*req->prompt, req->add_special_tokens, true);
  } else {
    auto rendered = model_.render_chat(chat_template_context(*req->chat, tok));
    if (!rendered.ok()) return error(rendered.status());
    ids = tok.encode(rendered.value(), req->add_special_tokens, true);
  }
  ApiResponse r;
  r.body.reserve(64 + ids.size() * 6);
  r.body = "{\"count\":";
  append_json_int(r.body, static_cast<int64_t>(ids.size()));
  r.body += ",\"max_model_len\":";
  append_json_int(r.body, model_.max_context);
  r.body += ",\"tokens\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) r.body += ',';
    append_json_int(r.body, ids[i]);
  }
  r.body += "],\"token_strs\":";
  if (!req->return_token_strs) {
    r.body += "null}";
    return r;
  }
  r.body += '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) r.body += ',';
    append_json_string(r.body, tok.token_text(ids[i]));
  }
  r.body += "]}";
  return r;
}

ApiResponse OpenAiApi::detokenize(std::string_view body) const {
  auto req = parse_detokenize_request(body);
  if (!req.ok()) return error(req.status());
  Status st = check_model_name(req->model, model_);
  if (!st.ok()) return error(st);
  const auto& tok = *model_.tokenizer;
  std::vector<int32_t> ids;
  ids.reserve(req->tokens.size());
  for (int64_t id : req->tokens) {
    if (id < 0 || id >= tok.vocab_size()) {
      return error(invalid_field("tokens", "contains token id " + std::to_string(id) + " outside the vocabulary [0, " +
                                               std::to_string(tok.vocab_size()) + ")"));
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  ApiResponse r;
  r.body = "{\"prompt\":";
  append_json_string(r.body, tok.decode(ids, false));
  r.body += '}';
  return r;
}

Result<JobPlan> OpenAiApi::plan(Route route, std::string_view body) const {
  switch (route) {
    case Route::kChatCompletions: {
      auto req = parse_chat_request(body);
      if (!req.ok()) return req.status();
      return plan_chat(std::move(req.value()), model_);
    }
    case Route::kCompletions: {
      auto req = parse_completion_request(body);
      if (!req.ok()) return req.status();
      return plan_completion(std::move(req.value()), model_);
    }
    case Route::kResponses: {
      auto req = parse_responses_request(body, responses_);
      if (!req.ok()) return req.status();
      auto plan = plan_chat(std::move(req->chat), model_);
      if (!plan.ok()) return responses_param_names(plan.status());
      req->plan->echo["temperature"] = plan->sampling.temperature;
      req->plan->echo["top_p"] = plan->sampling.top_p;
      plan->responses = std::move(req->plan);
      return plan;
    }
    case Route::kModels:
    case Route::kModel:
    case Route::kTokenize:
    case Route::kDetokenize:
    case Route::kHealth:
    case Route::kReady:
    case Route::kMetrics:
    case Route::kVersion:
    case Route::kPing:
    case Route::kNotFound: break;
  }
  TANDEM_CHECK_MSG(false, "OpenAiApi::plan called for a route that does not generate");
  return Status(ErrorKind::kInternal, "not a generation route");
}

}  // namespace tandem::frontend
