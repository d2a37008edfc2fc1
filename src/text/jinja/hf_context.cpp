#include "text/jinja/hf_context.h"

#include "text/jinja/json_value.h"
#include "text/jinja/template_error.h"

namespace tandem::text::jinja {

namespace {

constexpr const char* kReasoningFields[] = {"reasoning_content", "thinking", "reasoning"};

Value alias_reasoning(const Value& message) {
  if (!message.is_dict()) return message;
  const Dict& d = message.as_dict();
  const Value* reasoning = nullptr;
  for (const char* field : kReasoningFields) {
    const Value* v = d.find(std::string_view(field));
    if (v != nullptr && !v->is_none()) {
      reasoning = v;
      break;
    }
  }
  if (reasoning == nullptr) return message;
  Dict out;
  out.items.emplace_back(Value::string("thinking"), *reasoning);
  bool has_reasoning_content = false;
  for (const auto& [k, v] : d.items) {
    if (k.is_string() && k.as_string() == "thinking") {
      out.items[0].second = v;
      continue;
    }
    if (k.is_string() && k.as_string() == "reasoning_content") {
      out.items.emplace_back(k, *reasoning);
      has_reasoning_content = true;
      continue;
    }
    out.items.emplace_back(k, v);
  }
  if (!has_reasoning_content) out.items.emplace_back(Value::string("reasoning_content"), *reasoning);
  return Value::dict(std::move(out));
}

}  // namespace

Result<std::vector<std::pair<std::string, Value>>> hf_variables(const boost::json::object& context) {
  std::vector<std::pair<std::string, Value>> vars;
  try {
    vars.reserve(context.size() + 3);
    if (!context.contains("tools")) vars.emplace_back("tools", Value::none());
    if (!context.contains("documents")) vars.emplace_back("documents", Value::none());
    if (!context.contains("add_generation_prompt")) vars.emplace_back("add_generation_prompt", Value::boolean(false));
    for (const auto& kv : context) {
      Value v = from_json(kv.value());
      if (kv.key() == "messages" && v.is_sequence()) {
        std::vector<Value> messages;
        messages.reserve(v.as_sequence().items.size());
        for (const auto& m : v.as_sequence().items) messages.push_back(alias_reasoning(m));
        v = Value::sequence(std::move(messages));
      }
      vars.emplace_back(std::string(kv.key()), std::move(v));
    }
  } catch (const TemplateError& e) {
    return Status(ErrorKind::kTemplateError, e.message());
  }
  return vars;
}

}  // namespace tandem::text::jinja
