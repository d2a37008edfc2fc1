// frontend::StructuredOutput: what a request asks its output to match
// (constrained decoding, issue #23), parsed from the OpenAI and vLLM request
// shapes, and the JSON Schemas that force tool calls.
//
// Shapes read by parse_structured_output (chat and completions alike):
//   response_format {"type": "text"}                          -> none
//                   {"type": "json_object"}                   -> any JSON object
//                   {"type": "json_schema", "json_schema":
//                      {"name": str, "schema": {...}, "strict"?: bool}}
//   structured_outputs {exactly one of "json" (a schema object, or a string
//                      holding one), "regex" (str), "choice" ([str, ...]),
//                      "grammar" (str, GBNF), "json_object": true}   (vLLM)
//     plus its tuning flags disable_fallback, disable_any_whitespace,
//     disable_additional_properties (booleans, accepted, no effect);
//     structural_tag and whitespace_pattern are refused (kUnsupported).
//   guided_json, guided_regex, guided_choice, guided_grammar (vLLM's older
//     top-level names, same values); guided_decoding_backend (a string,
//     ignored: there is one engine); guided_whitespace_pattern is refused.
// At most one of them may ask for a format. Every wrong shape is a 400
// (kInvalidRequest) whose param names the field.
// Threading: pure functions.
#pragma once

#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/status.h"

namespace tandem::frontend {

enum class StructuredKind {
  kNone,
  kJsonSchema,  // source: the schema, compact JSON
  kJsonObject,  // any JSON object
  kRegex,       // source: the pattern
  kChoice,      // choices: the output is exactly one of them
  kGrammar,     // source: GBNF text, root rule "root"
};

struct StructuredOutput {
  StructuredKind kind = StructuredKind::kNone;
  std::string source;
  std::vector<std::string> choices;
  bool strict = true;  // json_schema.strict (default true)
  std::string field;   // the request field it came from; errors (compile ones too) name it
  bool any() const { return kind != StructuredKind::kNone; }
};

Status parse_structured_output(const boost::json::object& body, StructuredOutput& out);

// tool_choice {"type": "function", "function": {"name": name}}: the output is
// that tool's arguments, a JSON object matching its `parameters` (any object
// when it has none). kInvalidRequest (tool_choice) when no tool has the name.
// `tools` was checked by validate_tools.
Result<StructuredOutput> named_tool_output(const boost::json::array& tools, const std::string& name);
// tool_choice "required": the output is a JSON array of one or more (exactly
// one unless `parallel`) {"name": <a tool's name>, "parameters": <its
// arguments>} objects, each matching its tool's schema (vLLM's shape).
StructuredOutput required_tools_output(const boost::json::array& tools, bool parallel);

}  // namespace tandem::frontend
