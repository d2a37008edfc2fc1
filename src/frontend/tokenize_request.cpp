#include "frontend/tokenize_request.h"

#include "frontend/json_fields.h"

namespace tandem::frontend {

Result<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  auto obj = parse_json_object(body);
  if (!obj.ok()) return obj.status();
  auto& o = obj.value();
  TokenizeRequest req;
  std::optional<std::string> model;
  TANDEM_RETURN_IF_ERROR(read_string(o, "model", model));
  if (model) req.model = *model;
  std::optional<bool> special;
  TANDEM_RETURN_IF_ERROR(read_bool(o, "add_special_tokens", special));
  std::optional<bool> token_strs;
  TANDEM_RETURN_IF_ERROR(read_bool(o, "return_token_strs", token_strs));
  req.return_token_strs = token_strs.value_or(false);

  const bool has_prompt = o.contains("prompt") && !o.at("prompt").is_null();
  const bool has_messages = o.contains("messages") && !o.at("messages").is_null();
  if (has_prompt == has_messages) {
    return Status(ErrorKind::kInvalidRequest, "Exactly one of 'prompt' and 'messages' is required",
                  has_prompt ? "messages" : "prompt");
  }
  if (has_prompt) {
    TANDEM_RETURN_IF_ERROR(read_string(o, "prompt", req.prompt));
    req.add_special_tokens = special.value_or(true);
    return req;
  }
  ChatRequest chat;
  TANDEM_RETURN_IF_ERROR(validate_messages(o.at("messages")));
  chat.messages = std::move(o.at("messages").as_array());
  auto tools = o.find("tools");
  if (tools != o.end() && !tools->value().is_null()) {
    TANDEM_RETURN_IF_ERROR(validate_tools(tools->value()));
    chat.tools = std::move(tools->value().as_array());
  }
  auto kwargs = o.find("chat_template_kwargs");
  if (kwargs != o.end() && !kwargs->value().is_null()) {
    if (!kwargs->value().is_object()) return invalid_field("chat_template_kwargs", "must be an object");
    chat.template_kwargs = std::move(kwargs->value().as_object());
  }
  std::optional<bool> agp;
  TANDEM_RETURN_IF_ERROR(read_bool(o, "add_generation_prompt", agp));
  chat.add_generation_prompt = agp.value_or(true);
  req.chat = std::move(chat);
  req.add_special_tokens = special.value_or(false);
  return req;
}

Result<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  auto obj = parse_json_object(body);
  if (!obj.ok()) return obj.status();
  const auto& o = obj.value();
  DetokenizeRequest req;
  std::optional<std::string> model;
  TANDEM_RETURN_IF_ERROR(read_string(o, "model", model));
  if (model) req.model = *model;
  auto t = o.find("tokens");
  if (t == o.end() || t->value().is_null()) return invalid_field("tokens", "is required");
  if (!t->value().is_array()) return invalid_field("tokens", "must be an array of token ids");
  for (const auto& v : t->value().get_array()) {
    const auto id = v.is_bool() ? std::nullopt : as_integer(v);
    if (!id) return invalid_field("tokens", "must be an array of token ids");
    req.tokens.push_back(*id);
  }
  return req;
}

}  // namespace tandem::frontend
