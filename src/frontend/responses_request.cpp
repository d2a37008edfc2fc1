#include "frontend/responses_request.h"

#include <optional>
#include <string>

#include <boost/json/serialize.hpp>

#include "frontend/json_fields.h"

namespace tandem::frontend {
namespace {

namespace json = boost::json;

Status unsupported(std::string param, const std::string& what) {
  return Status(ErrorKind::kUnsupported, what, std::move(param));
}

Status input_error(size_t i, const std::string& what) {
  return Status(ErrorKind::kInvalidRequest, "input[" + std::to_string(i) + "]" + what, "input");
}

const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

// A message item's content as chat content: a string, or text parts.
Result<json::value> message_content(size_t i, const json::value& content) {
  if (content.is_string()) return json::value(content.get_string());
  if (!content.is_array()) return input_error(i, ".content must be a string or an array of content parts");
  json::array parts;
  const auto& arr = content.get_array();
  for (size_t p = 0; p < arr.size(); ++p) {
    const std::string where = ".content[" + std::to_string(p) + "]";
    const json::object* part = arr[p].if_object();
    const json::value* type = part != nullptr ? present(*part, "type") : nullptr;
    if (type == nullptr || !type->is_string()) return input_error(i, where + ".type must be a string");
    const std::string_view t = type->get_string();
    const char* field = t == "refusal" ? "refusal" : "text";
    if (t != "input_text" && t != "output_text" && t != "text" && t != "refusal") {
      return unsupported("input", "input[" + std::to_string(i) + "]" + where + ": content type '" + std::string(t) +
                                      "' is not supported (text only: input_text, output_text)");
    }
    const json::value* text = present(*part, field);
    if (text == nullptr || !text->is_string()) return input_error(i, where + "." + field + " must be a string");
    parts.push_back(json::object{{"type", "text"}, {"text", text->get_string()}});
  }
  return json::value(std::move(parts));
}

// Appends the chat messages of `input` (a string or a list of items).
Status input_messages(const json::value& input, json::array& out) {
  if (input.is_string()) {
    out.push_back(json::object{{"role", "user"}, {"content", input.get_string()}});
    return {};
  }
  if (!input.is_array()) return invalid_field("input", "must be a string or an array of input items");
  const auto& items = input.get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const json::object* item = items[i].if_object();
    if (item == nullptr) return input_error(i, " must be an object");
    const json::value* type_v = present(*item, "type");
    if (type_v != nullptr && !type_v->is_string()) return input_error(i, ".type must be a string");
    const std::string_view type = type_v != nullptr ? std::string_view(type_v->get_string()) : "message";
    if (type == "message") {
      const json::value* role = present(*item, "role");
      if (role == nullptr || !role->is_string()) return input_error(i, ".role must be a string");
      const std::string_view r = role->get_string();
      if (r != "user" && r != "system" && r != "developer" && r != "assistant") {
        return input_error(i, ".role '" + std::string(r) + "' is not one of user, system, developer, assistant");
      }
      const json::value* content = present(*item, "content");
      if (content == nullptr) return input_error(i, ".content is required");
      auto c = message_content(i, *content);
      if (!c.ok()) return c.status();
      out.push_back(json::object{{"role", r}, {"content", std::move(c.value())}});
    } else if (type == "function_call") {
      const json::value* call_id = present(*item, "call_id");
      const json::value* name = present(*item, "name");
      const json::value* args = present(*item, "arguments");
      if (call_id == nullptr || !call_id->is_string()) return input_error(i, ".call_id must be a string");
      if (name == nullptr || !name->is_string()) return input_error(i, ".name must be a string");
      if (args == nullptr || !args->is_string()) return input_error(i, ".arguments must be a string");
      json::object call{{"id", call_id->get_string()},
                        {"type", "function"},
                        {"function", json::object{{"name", name->get_string()}, {"arguments", args->get_string()}}}};
      // Calls that follow an assistant turn (or each other) belong to it.
      json::object* last = out.empty() ? nullptr : out.back().if_object();
      if (last != nullptr && last->at("role") == "assistant") {
        auto& calls = (*last)["tool_calls"];
        if (!calls.is_array()) calls = json::array();
        calls.get_array().push_back(std::move(call));
      } else {
        out.push_back(json::object{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array{call}}});
      }
    } else if (type == "function_call_output") {
      const json::value* call_id = present(*item, "call_id");
      const json::value* output = present(*item, "output");
      if (call_id == nullptr || !call_id->is_string()) return input_error(i, ".call_id must be a string");
      if (output == nullptr) return input_error(i, ".output is required");
      auto c = message_content(i, *output);
      if (!c.ok()) return c.status();
      out.push_back(json::object{{"role", "tool"}, {"tool_call_id", call_id->get_string()}, {"content", c.value()}});
    } else if (type == "reasoning") {
      continue;  // the model's own earlier thinking: templates drop it from past turns
    } else {
      return unsupported("input", "input[" + std::to_string(i) + "]: item type '" + std::string(type) +
                                      "' is not supported (message, function_call, function_call_output)");
    }
  }
  return {};
}

// Responses function tools ({"type": "function", "name", ...}) as chat tools.
Status chat_tools(const json::value& tools, json::array& out) {
  if (!tools.is_array()) return invalid_field("tools", "must be an array");
  const auto& arr = tools.get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const json::object* t = arr[i].if_object();
    const json::value* type = t != nullptr ? present(*t, "type") : nullptr;
    if (type == nullptr || !type->is_string()) return invalid_field("tools", where + ".type must be a string");
    if (type->get_string() != "function") {
      return unsupported("tools", where + ": the hosted tool '" + std::string(type->get_string()) +
                                      "' is not supported; Tandem runs function tools only");
    }
    json::object fn;
    for (const char* key : {"name", "description", "parameters"}) {
      if (const json::value* v = present(*t, key)) fn[key] = *v;
    }
    if (!fn.contains("name")) return invalid_field("tools", where + ".name is required");
    out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  return {};
}

Status map_tool_choice(const json::value& choice, json::object& chat) {
  if (choice.is_string()) {
    chat["tool_choice"] = choice;
    return {};
  }
  const json::object* o = choice.if_object();
  const json::value* type = o != nullptr ? present(*o, "type") : nullptr;
  const json::value* name = o != nullptr ? present(*o, "name") : nullptr;
  if (type != nullptr && type->is_string() && type->get_string() == "function" && name != nullptr) {
    chat["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", *name}}}};
    return {};
  }
  return unsupported("tool_choice",
                     "tool_choice must be \"none\", \"auto\", \"required\" or a function; hosted "
                     "tools are not supported");
}

// text.format: {"type": "text"} | {"type": "json_object"} | {"type":
// "json_schema", "name", "schema", "strict"?} (the Responses API flattens the
// chat shape) -> the chat request's response_format (null for text).
Status map_text_format(const json::value& format, json::value& response_format) {
  const json::object* f = format.if_object();
  const json::value* type = f != nullptr ? present(*f, "type") : nullptr;
  if (type == nullptr || !type->is_string())
    return invalid_field("text", "format must be an object with a string `type`");
  const std::string_view t = type->get_string();
  if (t == "text") return {};
  if (t == "json_object") {
    response_format = json::object{{"type", "json_object"}};
    return {};
  }
  if (t != "json_schema") {
    return invalid_field(
        "text", "format.type must be \"text\", \"json_object\" or \"json_schema\", got \"" + std::string(t) + "\"");
  }
  json::object schema;
  for (const char* key : {"name", "schema", "strict", "description"}) {
    if (const json::value* v = present(*f, key)) schema[key] = *v;
  }
  if (!schema.contains("name") || !schema.at("name").is_string()) {
    return invalid_field("text", "format.name is required (a string)");
  }
  if (!schema.contains("schema")) return invalid_field("text", "format.schema is required (a JSON Schema)");
  response_format = json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
  return {};
}

// The chat planner names chat fields; a Responses client knows other names.
Status renamed(Status st) {
  if (st.ok()) return st;
  std::string param = st.param();
  if (param == "max_tokens")
    param = "max_output_tokens";
  else if (param == "response_format")
    param = "text";
  else if (param == "messages")
    param = "input";
  else
    return st;
  return Status(st.kind(), st.message(), std::move(param));
}

}  // namespace

Status responses_param_names(Status status) { return renamed(std::move(status)); }

Result<ResponsesRequest> parse_responses_request(std::string_view body, const std::shared_ptr<ResponseStore>& store) {
  auto parsed = parse_json_object(body);
  if (!parsed.ok()) return parsed.status();
  const json::object& o = parsed.value();

  if (const json::value* b = present(o, "background"); b != nullptr && !(b->is_bool() && !b->get_bool())) {
    return unsupported("background", "background responses are not supported");
  }
  for (const char* field : {"conversation", "prompt"}) {
    if (present(o, field) != nullptr) return unsupported(field, std::string("'") + field + "' is not supported");
  }
  if (const json::value* t = present(o, "top_logprobs"); t != nullptr && !(t->is_int64() && t->get_int64() == 0)) {
    return unsupported("top_logprobs", "'top_logprobs' is not supported by the Responses API here");
  }
  json::value text_format = json::object{{"type", "text"}};
  json::value response_format;  // null: none
  if (const json::value* text = present(o, "text")) {
    const json::object* t = text->if_object();
    if (t == nullptr) return invalid_field("text", "must be an object");
    if (const json::value* format = present(*t, "format")) {
      TANDEM_RETURN_IF_ERROR(map_text_format(*format, response_format));
      text_format = *format;
    }
  }

  auto plan = std::make_shared<ResponsesPlan>();
  json::object chat;
  json::array messages;
  std::optional<std::string> instructions;
  TANDEM_RETURN_IF_ERROR(read_string(o, "instructions", instructions));
  if (instructions) messages.push_back(json::object{{"role", "system"}, {"content", *instructions}});

  std::optional<std::string> previous;
  TANDEM_RETURN_IF_ERROR(read_string(o, "previous_response_id", previous));
  if (previous) {
    auto prior = store ? store->get(*previous) : nullptr;
    if (!prior) {
      return Status(ErrorKind::kInvalidRequest, "Previous response with id '" + *previous + "' not found.",
                    "previous_response_id");
    }
    plan->conversation = *prior;
  }
  const json::value* input = present(o, "input");
  if (input == nullptr) return invalid_field("input", "is required");
  TANDEM_RETURN_IF_ERROR(input_messages(*input, plan->conversation));
  if (plan->conversation.empty()) return invalid_field("input", "must contain at least one message");
  for (const auto& m : plan->conversation) messages.push_back(m);
  chat["messages"] = std::move(messages);

  json::array tools;
  if (const json::value* t = present(o, "tools")) TANDEM_RETURN_IF_ERROR(chat_tools(*t, tools));
  if (!tools.empty()) {
    chat["tools"] = tools;
    if (const json::value* c = present(o, "tool_choice")) TANDEM_RETURN_IF_ERROR(map_tool_choice(*c, chat));
  }
  if (const json::value* m = present(o, "max_output_tokens")) chat["max_tokens"] = *m;
  if (!response_format.is_null()) chat["response_format"] = std::move(response_format);
  for (const char* key :
       {"model", "temperature", "top_p", "stream", "parallel_tool_calls", "user", "top_k", "min_p",
        "repetition_penalty", "presence_penalty", "frequency_penalty", "seed", "chat_template_kwargs"}) {
    if (const json::value* v = present(o, key)) chat[key] = *v;
  }
  if (const json::value* s = present(o, "stream"); s != nullptr && s->is_bool() && s->get_bool()) {
    chat["stream_options"] = json::object{{"include_usage", true}};
  }
  auto req = parse_chat_request(json::serialize(chat));
  if (!req.ok()) return renamed(req.status());

  std::optional<bool> store_flag;
  TANDEM_RETURN_IF_ERROR(read_bool(o, "store", store_flag));
  if (store_flag.value_or(true)) plan->store = store;
  auto& echo = plan->echo;
  const auto field = [&](const char* key) { return present(o, key) ? o.at(key) : json::value(nullptr); };
  echo["instructions"] = field("instructions");
  echo["max_output_tokens"] = field("max_output_tokens");
  echo["metadata"] = present(o, "metadata") ? o.at("metadata") : json::value(json::object());
  echo["parallel_tool_calls"] = req->parallel_tool_calls;
  echo["previous_response_id"] = field("previous_response_id");
  echo["tool_choice"] = present(o, "tool_choice") ? o.at("tool_choice") : json::value(tools.empty() ? "none" : "auto");
  echo["tools"] = present(o, "tools") ? o.at("tools") : json::value(json::array());
  echo["text"] = json::object{{"format", std::move(text_format)}};
  echo["truncation"] = "disabled";
  echo["user"] = field("user");
  echo["store"] = store_flag.value_or(true);
  echo["background"] = false;
  echo["reasoning"] = field("reasoning");
  return ResponsesRequest{std::move(req.value()), std::move(plan)};
}

}  // namespace tandem::frontend
