// frontend::ResponsesRequest: a POST /v1/responses body (OpenAI's Responses
// API) turned into the chat request it amounts to, plus what the response
// object repeats and the conversation to store.
//
// Supported: `input` as a string or a list of items (messages with text
// content: a string or input_text/output_text parts; function_call and
// function_call_output items of the tool loop; reasoning items are dropped),
// `instructions` (a system message first, not carried to later turns),
// `previous_response_id` (the stored conversation, see response_store.h),
// `text.format` (text, json_object, or json_schema with name/schema/strict:
// the chat request's response_format),
// function `tools`, `tool_choice`, `parallel_tool_calls`, `max_output_tokens`,
// `temperature`, `top_p`, `stream`, `store`, `metadata`, `user`, and vLLM's
// sampling extras (top_k, min_p, repetition_penalty, presence_penalty,
// frequency_penalty, seed, chat_template_kwargs).
// Refused with a 400 naming the field (kUnsupported): hosted tools
// (web_search, file_search, ...), non-text input (input_image, input_file,
// input_audio), item_reference items, `background`, `conversation`, `prompt`,
// and `top_logprobs`. An unknown previous_response_id is a 400 naming it.
// Threading: pure functions (the store is thread-safe).
#pragma once

#include <memory>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/status.h"
#include "frontend/chat_request.h"
#include "frontend/response_store.h"

namespace tandem::frontend {

// What a Responses request carries beside its chat plan (JobPlan::responses).
struct ResponsesPlan {
  // The request fields the response object repeats (instructions, tools,
  // tool_choice, parallel_tool_calls, max_output_tokens, previous_response_id,
  // metadata, user, store, text, truncation; temperature and top_p once the
  // plan's sampling is known).
  boost::json::object echo;
  // The conversation before this turn's output, as chat messages (the
  // previous response's, then this input), without instructions.
  boost::json::array conversation;
  // Where the finished conversation goes; null when `store` is false.
  std::shared_ptr<ResponseStore> store;
};

struct ResponsesRequest {
  ChatRequest chat;
  std::shared_ptr<ResponsesPlan> plan;
};

Result<ResponsesRequest> parse_responses_request(std::string_view body, const std::shared_ptr<ResponseStore>& store);

// The chat planner's field names in `status` as the Responses API names them
// (max_tokens -> max_output_tokens, messages -> input).
Status responses_param_names(Status status);

}  // namespace tandem::frontend
