#include "frontend/chat_request.h"

#include <array>
#include <string>

#include <boost/json/parse.hpp>

#include "frontend/json_fields.h"

namespace tandem::frontend {
namespace {

constexpr std::array<std::string_view, 6> kRoles = {"system", "user",  "assistant",
                                                    "tool",   "developer", "function"};

Status message_error(size_t index, const std::string& what) {
  return Status(ErrorKind::kInvalidRequest, "messages[" + std::to_string(index) + "]" + what,
                "messages");
}

}  // namespace

Result<boost::json::object> parse_json_object(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) {
    return Status(ErrorKind::kInvalidRequest, "Invalid JSON in request body: " + ec.message());
  }
  if (!v.is_object()) {
    return Status(ErrorKind::kInvalidRequest,
                  std::string("The request body must be a JSON object, got ") + json_kind_name(v));
  }
  return std::move(v.as_object());
}

Status validate_messages(const boost::json::value& messages) {
  if (!messages.is_array()) {
    return invalid_field("messages", std::string("must be an array, got ") + json_kind_name(messages));
  }
  const auto& arr = messages.get_array();
  if (arr.empty()) return invalid_field("messages", "must contain at least one message");
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_object()) return message_error(i, " must be an object");
    const auto& m = arr[i].get_object();
    auto role = m.find("role");
    if (role == m.end() || !role->value().is_string()) {
      return message_error(i, ".role must be a string");
    }
    const std::string_view r = role->value().get_string();
    bool known = false;
    for (auto k : kRoles) known = known || k == r;
    if (!known) return message_error(i, ".role '" + std::string(r) + "' is not a known role");
    auto content = m.find("content");
    if (content == m.end()) {
      if (r == "assistant") continue;  // tool_calls-only turns
      return message_error(i, ".content is required for role '" + std::string(r) + "'");
    }
    const auto& c = content->value();
    if (c.is_string() || (c.is_null() && r == "assistant")) continue;
    if (!c.is_array()) return message_error(i, ".content must be a string or an array of content parts");
    const auto& parts = c.get_array();
    for (size_t p = 0; p < parts.size(); ++p) {
      const std::string where = ".content[" + std::to_string(p) + "]";
      if (!parts[p].is_object()) return message_error(i, where + " must be an object");
      const auto& part = parts[p].get_object();
      auto type = part.find("type");
      if (type == part.end() || !type->value().is_string()) {
        return message_error(i, where + ".type must be a string");
      }
      if (type->value().get_string() != "text") {
        return Status(ErrorKind::kUnsupported,
                      "messages[" + std::to_string(i) + "]" + where + ": content part type '" +
                          std::string(type->value().get_string()) + "' is not supported (only 'text')",
                      "messages");
      }
      auto text = part.find("text");
      if (text == part.end() || !text->value().is_string()) {
        return message_error(i, where + ".text must be a string");
      }
    }
  }
  return {};
}

Result<ChatRequest> parse_chat_request(std::string_view body) {
  auto obj = parse_json_object(body);
  if (!obj.ok()) return obj.status();
  auto& o = obj.value();
  ChatRequest req;
  auto messages = o.find("messages");
  if (messages == o.end()) return invalid_field("messages", "is required");
  TANDEM_RETURN_IF_ERROR(validate_messages(messages->value()));
  req.messages = std::move(messages->value().as_array());

  auto tools = o.find("tools");
  if (tools != o.end() && !tools->value().is_null()) {
    if (!tools->value().is_array()) return invalid_field("tools", "must be an array");
    req.tools = std::move(tools->value().as_array());
  }
  auto kwargs = o.find("chat_template_kwargs");
  if (kwargs != o.end() && !kwargs->value().is_null()) {
    if (!kwargs->value().is_object()) return invalid_field("chat_template_kwargs", "must be an object");
    req.template_kwargs = std::move(kwargs->value().as_object());
  }
  std::optional<bool> agp;
  TANDEM_RETURN_IF_ERROR(read_bool(o, "add_generation_prompt", agp));
  req.add_generation_prompt = agp.value_or(true);

  TANDEM_RETURN_IF_ERROR(parse_generation_options(o, ApiKind::kChat, req.options));
  return req;
}

}  // namespace tandem::frontend
