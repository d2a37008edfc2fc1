#include "frontend/chat_request.h"

#include <array>
#include <string>

#include <boost/json/parse.hpp>

#include "frontend/json_fields.h"

namespace tandem::frontend {
namespace {

constexpr std::array<std::string_view, 6> kRoles = {"system", "user", "assistant", "tool", "developer", "function"};

Status message_error(size_t index, const std::string& what) {
  return Status(ErrorKind::kInvalidRequest, "messages[" + std::to_string(index) + "]" + what, "messages");
}

bool is_json_object_text(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return !ec && v.is_object();
}

// An assistant turn's tool_calls: [{"function": {"name", "arguments"}}, ...].
Status validate_tool_calls(size_t index, const boost::json::value& calls) {
  if (calls.is_null()) return {};
  if (!calls.is_array()) return message_error(index, ".tool_calls must be an array");
  const auto& arr = calls.get_array();
  for (size_t k = 0; k < arr.size(); ++k) {
    const std::string where = ".tool_calls[" + std::to_string(k) + "]";
    if (!arr[k].is_object()) return message_error(index, where + " must be an object");
    const auto* fn = arr[k].get_object().if_contains("function");
    if (fn == nullptr || !fn->is_object()) return message_error(index, where + ".function must be an object");
    const auto* name = fn->get_object().if_contains("name");
    if (name == nullptr || !name->is_string()) {
      return message_error(index, where + ".function.name must be a string");
    }
    const auto* args = fn->get_object().if_contains("arguments");
    if (args == nullptr || args->is_object()) continue;
    if (!args->is_string() || !is_json_object_text(args->get_string())) {
      return message_error(index, where + ".function.arguments must be a JSON object or a string holding one");
    }
  }
  return {};
}

Status tool_error(size_t index, const std::string& what) {
  return Status(ErrorKind::kInvalidRequest, "tools[" + std::to_string(index) + "]" + what, "tools");
}

Status parse_tool_choice(const boost::json::object& o, ChatRequest& req) {
  const bool has_tools = req.tools && !req.tools->empty();
  req.tool_choice = has_tools ? ToolChoice::kAuto : ToolChoice::kNone;
  auto it = o.find("tool_choice");
  if (it == o.end() || it->value().is_null()) return {};
  if (!req.tools) return invalid_field("tool_choice", "needs `tools`: when using `tool_choice`, `tools` must be set");
  const auto& v = it->value();
  if (v.is_string()) {
    const std::string_view choice = v.get_string();
    if (choice == "none") {
      req.tool_choice = ToolChoice::kNone;
    } else if (choice == "auto") {
      req.tool_choice = has_tools ? ToolChoice::kAuto : ToolChoice::kNone;
    } else if (choice == "required") {
      if (!has_tools) return invalid_field("tool_choice", "\"required\" needs at least one tool in `tools`");
      req.tool_choice = ToolChoice::kRequired;
    } else {
      return invalid_field("tool_choice", "must be \"none\", \"auto\", \"required\" or a function object, got \"" +
                                              std::string(choice) + "\"");
    }
    return {};
  }
  if (v.is_object()) {
    const auto* fn = v.get_object().if_contains("function");
    const auto* name = fn != nullptr && fn->is_object() ? fn->get_object().if_contains("name") : nullptr;
    if (name == nullptr || !name->is_string()) {
      return invalid_field("tool_choice",
                           "as an object must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    req.tool_choice = ToolChoice::kNamed;
    req.tool_name = name->get_string();
    for (const auto& t : *req.tools) {
      if (t.at("function").at("name").as_string() == req.tool_name) return {};
    }
    return invalid_field("tool_choice", "names function '" + req.tool_name + "', which is not among `tools`");
  }
  return invalid_field("tool_choice", std::string("must be a string or an object, got ") + json_kind_name(v));
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
    if (const auto* name = m.if_contains("name"); name != nullptr && !name->is_string() && !name->is_null()) {
      return message_error(i, ".name must be a string");
    }
    if (const auto* calls = m.if_contains("tool_calls"); calls != nullptr && !calls->is_null()) {
      if (r != "assistant") return message_error(i, ".tool_calls is only allowed in assistant messages");
      TANDEM_RETURN_IF_ERROR(validate_tool_calls(i, *calls));
    }
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

boost::json::array template_messages(boost::json::array messages) {
  boost::json::array out;
  out.reserve(messages.size());
  for (auto& v : messages) {
    auto& m = v.as_object();
    boost::json::object t;
    const std::string_view role = m.at("role").as_string();
    t["role"] = role == "developer" ? "system" : role;
    std::string content;
    if (const auto* c = m.if_contains("content"); c != nullptr && c->is_string()) {
      content = c->get_string();
    } else if (c != nullptr && c->is_array()) {
      const auto& parts = c->get_array();
      for (size_t p = 0; p < parts.size(); ++p) {
        if (p != 0) content += '\n';
        content += parts[p].as_object().at("text").as_string();
      }
    }
    t["content"] = std::move(content);
    if (auto* calls = m.if_contains("tool_calls"); calls != nullptr && !calls->is_null()) {
      t["tool_calls"] = std::move(*calls);
    }
    if (auto* id = m.if_contains("tool_call_id"); role == "tool" && id != nullptr && id->is_string()) {
      t["tool_call_id"] = std::move(*id);
    }
    if (auto* name = m.if_contains("name"); name != nullptr && name->is_string()) t["name"] = std::move(*name);
    const boost::json::value* reasoning = m.if_contains("reasoning_content");
    if (reasoning == nullptr || !reasoning->is_string()) reasoning = m.if_contains("reasoning");
    if (role == "assistant" && reasoning != nullptr && reasoning->is_string()) {
      t["reasoning_content"] = *reasoning;
      t["reasoning"] = *reasoning;
    }
    out.push_back(std::move(t));
  }
  return out;
}

Status validate_tools(const boost::json::value& tools) {
  if (!tools.is_array()) return invalid_field("tools", std::string("must be an array, got ") + json_kind_name(tools));
  const auto& arr = tools.get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_object()) return tool_error(i, " must be an object");
    const auto& t = arr[i].get_object();
    const auto* type = t.if_contains("type");
    if (type == nullptr || !type->is_string() || type->get_string() != "function") {
      return tool_error(i, ".type must be \"function\"");
    }
    const auto* fn = t.if_contains("function");
    if (fn == nullptr || !fn->is_object()) return tool_error(i, ".function must be an object");
    const auto& f = fn->get_object();
    const auto* name = f.if_contains("name");
    if (name == nullptr || !name->is_string() || name->get_string().empty()) {
      return tool_error(i, ".function.name must be a non-empty string");
    }
    if (const auto* d = f.if_contains("description"); d != nullptr && !d->is_string() && !d->is_null()) {
      return tool_error(i, ".function.description must be a string");
    }
    if (const auto* p = f.if_contains("parameters"); p != nullptr && !p->is_object() && !p->is_null()) {
      return tool_error(i, ".function.parameters must be an object (a JSON Schema)");
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
    TANDEM_RETURN_IF_ERROR(validate_tools(tools->value()));
    req.tools = std::move(tools->value().as_array());
  }
  TANDEM_RETURN_IF_ERROR(parse_tool_choice(o, req));
  std::optional<bool> parallel;
  TANDEM_RETURN_IF_ERROR(read_bool(o, "parallel_tool_calls", parallel));
  req.parallel_tool_calls = parallel.value_or(true);
  std::optional<bool> include_reasoning;
  TANDEM_RETURN_IF_ERROR(read_bool(o, "include_reasoning", include_reasoning));
  req.include_reasoning = include_reasoning.value_or(true);
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
