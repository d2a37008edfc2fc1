// frontend::ChatRequest: a validated POST /v1/chat/completions body.
//
// `messages` is kept as the client sent it (Hugging Face passes messages to
// the chat template unchanged), after checking its shape: a non-empty array
// of objects with a known role and content that is a string, null (assistant
// turns with tool_calls) or an array of {"type": "text", "text": ...} parts.
// Threading: pure functions.
#pragma once

#include <optional>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/status.h"
#include "frontend/generation_options.h"

namespace tandem::frontend {

struct ChatRequest {
  boost::json::array messages;
  std::optional<boost::json::array> tools;
  boost::json::object template_kwargs;    // chat_template_kwargs, merged into the context
  bool add_generation_prompt = true;
  GenerationOptions options;
};

Result<ChatRequest> parse_chat_request(std::string_view body);

// Parses `body` as a JSON object; a 400 naming the problem otherwise.
Result<boost::json::object> parse_json_object(std::string_view body);

// Checks the shape of a `messages` array (shared with /tokenize).
Status validate_messages(const boost::json::value& messages);

}  // namespace tandem::frontend
