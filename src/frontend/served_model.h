// frontend::ServedModel: what the HTTP frontend needs to know about the one
// model it serves. Built once by main (from the loaded model) and read-only
// afterwards, so it may be shared by every connection thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"
#include "engine/model_spec.h"
#include "frontend/constraint_compiler.h"
#include "text/reasoning_parser.h"
#include "text/tokenizer.h"
#include "text/tool_call_parser.h"

namespace tandem::frontend {

struct ServedModel {
  // The id clients put in `model` and that /v1/models lists.
  std::string name;
  // Further names requests may use ([model] aliases, vLLM's extra
  // --served-model-name values); /v1/models lists them after `name`, and
  // responses report `name`.
  std::vector<std::string> aliases;
  // Prompt tokens + max_tokens may not exceed this (tokens).
  int max_context = 0;
  std::shared_ptr<const text::Tokenizer> tokenizer;
  // Renders the chat template with the Hugging Face apply_chat_template
  // context the frontend builds: `messages` (as the client sent them),
  // `tools` (when given), `add_generation_prompt`, `bos_token`, `eos_token`
  // and every chat_template_kwargs entry at top level. Must be thread-safe.
  // A kTemplateError result becomes a 400 carrying the template's message.
  std::function<Result<std::string>(const boost::json::object& context)> render_chat;
  // generation_config.json defaults; unset (negative) fields fall back to
  // OpenAI's defaults. eos_token_ids end generation (empty: the tokenizer's eos_id).
  engine::GenerationDefaults defaults;
  // max_tokens of a request that sets none ([model.defaults] max_tokens,
  // vLLM's max_new_tokens override), capped by the context left; 0: the
  // context left.
  int default_max_tokens = 0;
  // How this model writes tool calls ([model] tool_call_parser, "auto" read
  // from the chat template); kNone: chat requests with tools and tool_choice
  // "auto" are refused, as vLLM refuses them without a tool-call parser.
  text::ToolCallFormat tool_call_format = text::ToolCallFormat::kNone;
  // How this model writes its reasoning ([model] reasoning_parser, "auto" read
  // from the chat template); kNone: the whole output is the answer.
  text::ReasoningFormat reasoning_format = text::ReasoningFormat::kNone;
  // Compiles structured output (response_format, structured_outputs,
  // guided_*, forced tool_choice) into per-choice matchers; null: such
  // requests are refused with a 400 (kStructuredOutputUnavailable).
  std::shared_ptr<const ConstraintCompiler> constraints;
  // Unix seconds reported as `created` in /v1/models.
  int64_t created = 0;
};

}  // namespace tandem::frontend
