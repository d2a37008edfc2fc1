// frontend::JobPlan: everything needed to run one chat or completion request,
// built from a parsed request and the ServedModel: the chat template rendered,
// prompts tokenized, the context length checked, model generation defaults
// applied (before OpenAI's), token ids checked against the vocabulary.
//
// Structured output (options.structured, or the schema a forced tool_choice
// implies) is compiled here, on the prepare thread, by the model's
// ConstraintCompiler; without one the request is refused (kUnsupported,
// kStructuredOutputUnavailable, param = the field that asked). A constrained
// chat output is the answer itself: the reasoning and tool-call parsers do not
// run on it.
//
// Failure: kNotFound (model), kInvalidRequest / kUnsupported (field named in
// param), kTemplateError (the template's message), kContextLengthExceeded
// (message names prompt and completion token counts and the limit).
// Threading: pure functions of their arguments; the ServedModel's tokenizer
// and render_chat must be thread-safe (they are).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/sampling.h"
#include "frontend/chat_request.h"
#include "frontend/completion_request.h"
#include "frontend/constraint_compiler.h"
#include "frontend/generation_options.h"
#include "frontend/served_model.h"
#include "scheduler/generation.h"

namespace tandem::frontend {

struct ResponsesPlan;

struct PlannedPrompt {
  std::vector<int32_t> tokens;  // non-empty
  int max_tokens = 0;           // after the default (max_context - prompt) was applied
  std::string echo_text;        // completions with echo: the prompt as text
};

struct JobPlan {
  ApiKind api = ApiKind::kChat;
  GenerationOptions options;           // as parsed (stream, stops, logprobs, ...)
  std::vector<PlannedPrompt> prompts;  // chat: exactly one
  engine::SamplingParams sampling;     // defaults applied; seed = the request's seed
  scheduler::StopCriteria stop;        // max_tokens of prompts[0]; per prompt in PlannedPrompt
  // Chat with tools and tool_choice "auto": the format calls are parsed in
  // (the model's); kNone otherwise. When set, special tokens are not skipped
  // in the output (vLLM does the same: some formats' markers are special tokens).
  text::ToolCallFormat tool_format = text::ToolCallFormat::kNone;
  bool parallel_tool_calls = true;  // false: calls after the first are dropped
  // Structured output: makes one fresh matcher per choice (GenerationJob::
  // make_request); empty when the output is unconstrained.
  ConstraintFactory constraint;
  // tool_choice "required" (the output is a JSON array of {"name",
  // "parameters"}) or kNamed (the output is forced_tool_name's arguments):
  // the output becomes tool_calls; kNone otherwise.
  ToolChoice forced_tools = ToolChoice::kNone;
  std::string forced_tool_name;
  // Chat: the format the model's reasoning is parsed in (kNone: none), whether
  // the rendered prompt left a think block open, and whether the reasoning is
  // returned (include_reasoning) or dropped.
  text::ReasoningFormat reasoning_format = text::ReasoningFormat::kNone;
  bool reasoning_opened = false;
  bool include_reasoning = true;
  // POST /v1/responses: what the Responses output needs (responses_request.h);
  // null for chat and completions.
  std::shared_ptr<ResponsesPlan> responses;
  // Choices are numbered prompt_index * n + j (OpenAI's order for batched prompts).
  int choice_count() const { return static_cast<int>(prompts.size()) * options.n; }
};

// The Hugging Face apply_chat_template context for `request` (moves its
// messages, tools and kwargs out), messages as template_messages() makes
// them (chat_request.h). Assistant tool_calls whose arguments are a
// JSON string (as OpenAI clients send them) get the parsed object instead, as
// vLLM does, so templates that write `arguments | tojson` do not quote twice.
boost::json::object chat_template_context(ChatRequest& request, const text::Tokenizer& tokenizer);

Result<JobPlan> plan_chat(ChatRequest request, const ServedModel& model);
Result<JobPlan> plan_completion(CompletionRequest request, const ServedModel& model);

// Checks `model` (the request's `model` field, empty when not given).
Status check_model_name(const std::string& model, const ServedModel& served);

}  // namespace tandem::frontend
