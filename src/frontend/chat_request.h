// frontend::ChatRequest: a validated POST /v1/chat/completions body.
//
// `messages` is kept as the client sent it after checking its shape: a
// non-empty array of objects with a known role, `name` a string when given,
// and content that is a string, null or absent (assistant turns with
// tool_calls) or an array of {"type": "text", "text": ...} parts (other part
// types are a 400 kUnsupported). template_messages() turns it into what
// chat templates expect.
// An assistant turn's `tool_calls` must be [{"function": {"name": string,
// "arguments": object or a string holding a JSON object}}, ...].
//
// Tools: `tools` is [{"type": "function", "function": {"name", "description"?,
// "parameters"?}}, ...]. `tool_choice` is "none", "auto" (the default when
// tools are given) or, as OpenAI defines them, "required" and
// {"type": "function", "function": {"name"}}: those two force a call through
// constrained decoding (the plan compiles the tools' schemas; job_plan.h).
// A named function must be among `tools`. `tool_choice` without `tools` is a
// 400 (vLLM).
// Threading: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/status.h"
#include "frontend/generation_options.h"

namespace tandem::frontend {

enum class ToolChoice {
  kNone,      // calls in the output are left as text
  kAuto,      // the model may call tools; calls are parsed out of its output
  kRequired,  // the output is a JSON array of {"name", "parameters"} calls (constrained)
  kNamed,     // the output is the arguments of tool_name (constrained)
};

struct ChatRequest {
  boost::json::array messages;
  std::optional<boost::json::array> tools;
  ToolChoice tool_choice = ToolChoice::kNone;
  std::string tool_name;                // kNamed: the function to call
  bool parallel_tool_calls = true;      // false: only the first call is returned
  bool include_reasoning = true;        // false: the reasoning is parsed out and dropped (vLLM)
  boost::json::object template_kwargs;  // chat_template_kwargs, merged into the context
  bool add_generation_prompt = true;
  GenerationOptions options;
};

Result<ChatRequest> parse_chat_request(std::string_view body);

// Parses `body` as a JSON object; a 400 naming the problem otherwise.
Result<boost::json::object> parse_json_object(std::string_view body);

// Checks the shape of a `messages` array (shared with /tokenize).
Status validate_messages(const boost::json::value& messages);
// The messages (checked by validate_messages) as chat templates expect them,
// the way vLLM hands them over (its "string" content format): `content` is
// always a string (text parts joined with "\n"; null or absent: ""), and
// each message keeps only `role`, `content`, `tool_calls` (assistant, when
// not null), `tool_call_id` (tool), `name` (when a string) and the
// assistant's `reasoning_content` (also given as `reasoning`, either name
// accepted). The `developer` role (OpenAI's newer name for the system
// prompt) becomes `system`: the templates Tandem serves know no developer
// role and would skip the turn (Qwen) or write a header the model never saw
// (Llama, SmolLM2). vLLM passes it through unchanged.
boost::json::array template_messages(boost::json::array messages);
// Checks the shape of a `tools` array (shared with /tokenize).
Status validate_tools(const boost::json::value& tools);

}  // namespace tandem::frontend
