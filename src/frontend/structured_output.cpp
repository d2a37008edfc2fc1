#include "frontend/structured_output.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "frontend/json_fields.h"

namespace tandem::frontend {
namespace {

namespace json = boost::json;

const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Status unsupported(const std::string& field, const std::string& what) {
  return Status(ErrorKind::kUnsupported, "'" + field + "' " + what, field);
}

// A schema given as an object, or as a string holding one (vLLM accepts both).
// `name` is the field path for messages; `param` the top-level field.
Status schema_source(const json::value& v, const std::string& name, const std::string& param, std::string& out) {
  if (v.is_object()) {
    out = json::serialize(v);
    return {};
  }
  if (v.is_string()) {
    boost::system::error_code ec;
    json::parse_options opt;
    opt.max_depth = 256;
    const json::value parsed = json::parse(v.get_string(), ec, {}, opt);
    if (!ec && parsed.is_object()) {
      out = json::serialize(parsed);
      return {};
    }
    return Status(ErrorKind::kInvalidRequest,
                  "'" + name + "' must be a JSON Schema object (or a string holding one)" +
                      (ec ? ": invalid JSON: " + ec.message() : std::string()),
                  param);
  }
  return Status(ErrorKind::kInvalidRequest, "'" + name + "' must be a JSON Schema object, got " + json_kind_name(v),
                param);
}

Status string_field(const json::value& v, const std::string& name, const std::string& param, std::string& out) {
  if (!v.is_string() || v.get_string().empty()) {
    return Status(ErrorKind::kInvalidRequest, "'" + name + "' must be a non-empty string", param);
  }
  out = v.get_string();
  return {};
}

Status choice_field(const json::value& v, const std::string& name, const std::string& param,
                    std::vector<std::string>& out) {
  const auto bad = [&] {
    return Status(ErrorKind::kInvalidRequest, "'" + name + "' must be a non-empty array of strings", param);
  };
  if (!v.is_array() || v.get_array().empty()) return bad();
  for (const json::value& c : v.get_array()) {
    if (!c.is_string()) return bad();
    out.emplace_back(c.get_string());
  }
  return {};
}

Status parse_response_format(const json::value& v, StructuredOutput& out) {
  const json::value* type = v.is_object() ? present(v.get_object(), "type") : nullptr;
  if (type == nullptr || !type->is_string()) {
    return invalid_field("response_format", "must be an object with a string `type`");
  }
  const std::string_view t = type->get_string();
  if (t == "text") return {};
  out.field = "response_format";
  if (t == "json_object") {
    out.kind = StructuredKind::kJsonObject;
    return {};
  }
  if (t != "json_schema") {
    return invalid_field("response_format",
                         "type must be \"text\", \"json_object\" or \"json_schema\", got \"" + std::string(t) + "\"");
  }
  const json::value* js = present(v.get_object(), "json_schema");
  if (js == nullptr || !js->is_object()) {
    return invalid_field("response_format", "json_schema must be an object with `name` and `schema`");
  }
  const json::object& o = js->get_object();
  const json::value* name = present(o, "name");
  if (name == nullptr || !name->is_string()) {
    return invalid_field("response_format", "json_schema.name is required (a string)");
  }
  const json::value* schema = present(o, "schema");
  if (schema == nullptr) return invalid_field("response_format", "json_schema.schema is required (a JSON Schema)");
  TANDEM_RETURN_IF_ERROR(schema_source(*schema, "response_format.json_schema.schema", "response_format", out.source));
  if (const json::value* strict = present(o, "strict")) {
    if (!strict->is_bool()) return invalid_field("response_format", "json_schema.strict must be a boolean");
    out.strict = strict->get_bool();
  }
  out.kind = StructuredKind::kJsonSchema;
  return {};
}

Status parse_vllm_structured_outputs(const json::value& v, StructuredOutput& out) {
  const std::string param = "structured_outputs";
  if (!v.is_object()) return invalid_field(param, std::string("must be an object, got ") + json_kind_name(v));
  const json::object& o = v.get_object();
  for (const char* key : {"structural_tag", "whitespace_pattern"}) {
    if (present(o, key) != nullptr) {
      return unsupported(param, std::string("field '") + key + "' is not supported");
    }
  }
  for (const char* key : {"disable_fallback", "disable_any_whitespace", "disable_additional_properties"}) {
    const json::value* b = present(o, key);
    if (b != nullptr && !b->is_bool()) return invalid_field(param, std::string(key) + " must be a boolean");
  }
  int set = 0;
  out.field = param;
  if (const json::value* j = present(o, "json")) {
    ++set;
    out.kind = StructuredKind::kJsonSchema;
    TANDEM_RETURN_IF_ERROR(schema_source(*j, "structured_outputs.json", param, out.source));
  }
  if (const json::value* r = present(o, "regex")) {
    ++set;
    out.kind = StructuredKind::kRegex;
    TANDEM_RETURN_IF_ERROR(string_field(*r, "structured_outputs.regex", param, out.source));
  }
  if (const json::value* c = present(o, "choice")) {
    ++set;
    out.kind = StructuredKind::kChoice;
    TANDEM_RETURN_IF_ERROR(choice_field(*c, "structured_outputs.choice", param, out.choices));
  }
  if (const json::value* g = present(o, "grammar")) {
    ++set;
    out.kind = StructuredKind::kGrammar;
    TANDEM_RETURN_IF_ERROR(string_field(*g, "structured_outputs.grammar", param, out.source));
  }
  if (const json::value* jo = present(o, "json_object")) {
    if (!jo->is_bool()) return invalid_field(param, "json_object must be a boolean");
    if (jo->get_bool()) {
      ++set;
      out.kind = StructuredKind::kJsonObject;
    }
  }
  if (set != 1) {
    return invalid_field(
        param, "must set exactly one of json, regex, choice, grammar and json_object, got " + std::to_string(set));
  }
  return {};
}

Status parse_guided(const json::object& body, const char* key, StructuredOutput& out) {
  const json::value* v = present(body, key);
  if (v == nullptr) return {};
  const std::string k = key;
  if (out.any()) {
    return invalid_field(k, "cannot be combined with '" + out.field + "': give one kind of structured output");
  }
  out.field = k;
  if (k == "guided_json") {
    out.kind = StructuredKind::kJsonSchema;
    return schema_source(*v, k, k, out.source);
  }
  if (k == "guided_regex") {
    out.kind = StructuredKind::kRegex;
    return string_field(*v, k, k, out.source);
  }
  if (k == "guided_choice") {
    out.kind = StructuredKind::kChoice;
    return choice_field(*v, k, k, out.choices);
  }
  out.kind = StructuredKind::kGrammar;
  return string_field(*v, k, k, out.source);
}

}  // namespace

Status parse_structured_output(const json::object& body, StructuredOutput& out) {
  out = StructuredOutput{};
  if (const json::value* rf = present(body, "response_format")) TANDEM_RETURN_IF_ERROR(parse_response_format(*rf, out));
  if (const json::value* so = present(body, "structured_outputs")) {
    if (out.any()) {
      return invalid_field("structured_outputs",
                           "cannot be combined with '" + out.field + "': give one kind of structured output");
    }
    TANDEM_RETURN_IF_ERROR(parse_vllm_structured_outputs(*so, out));
  }
  for (const char* key : {"guided_json", "guided_regex", "guided_choice", "guided_grammar"}) {
    TANDEM_RETURN_IF_ERROR(parse_guided(body, key, out));
  }
  if (const json::value* b = present(body, "guided_decoding_backend"); b != nullptr && !b->is_string()) {
    return invalid_field("guided_decoding_backend", "must be a string");
  }
  if (present(body, "guided_whitespace_pattern") != nullptr) {
    return unsupported("guided_whitespace_pattern", "is not supported");
  }
  return {};
}

namespace {

// The tool's `parameters`, or any object when it declares none.
json::value tool_parameters(const json::object& function) {
  const json::value* p = present(function, "parameters");
  return p != nullptr ? *p : json::value(json::object{{"type", "object"}});
}

}  // namespace

Result<StructuredOutput> named_tool_output(const json::array& tools, const std::string& name) {
  for (const json::value& t : tools) {
    const json::object& fn = t.at("function").as_object();
    if (fn.at("name").as_string() != name) continue;
    StructuredOutput out;
    out.kind = StructuredKind::kJsonSchema;
    out.source = json::serialize(tool_parameters(fn));
    out.field = "tool_choice";
    return out;
  }
  return invalid_field("tool_choice", "names function '" + name + "', which is not among `tools`");
}

StructuredOutput required_tools_output(const json::array& tools, bool parallel) {
  json::array any_of;
  for (const json::value& t : tools) {
    const json::object& fn = t.at("function").as_object();
    json::object properties;
    properties["name"] = json::object{{"const", fn.at("name")}};
    properties["parameters"] = tool_parameters(fn);
    any_of.push_back(json::object{
        {"type", "object"}, {"properties", std::move(properties)}, {"required", json::array{"name", "parameters"}}});
  }
  json::object schema{{"type", "array"}, {"minItems", 1}, {"items", json::object{{"anyOf", std::move(any_of)}}}};
  if (!parallel) schema["maxItems"] = 1;
  StructuredOutput out;
  out.kind = StructuredKind::kJsonSchema;
  out.source = json::serialize(schema);
  out.field = "tool_choice";
  return out;
}

}  // namespace tandem::frontend
