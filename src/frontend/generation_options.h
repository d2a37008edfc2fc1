// frontend::GenerationOptions: the request fields that chat and text
// completions share (sampling, stops, n, streaming, logprobs), parsed and
// range-checked but with unset values still unset: model defaults are applied
// later (frontend/sampling_builder.h), where the tokenizer and context length
// are known.
//
// Validation follows vLLM: every wrong type or out-of-range value is a
// kInvalidRequest Status whose param names the field. Unknown fields are
// ignored. Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"
#include "frontend/structured_output.h"

namespace tandem::frontend {

enum class ApiKind {
  kChat,        // /v1/chat/completions
  kCompletion,  // /v1/completions
};

inline constexpr int kMaxLogprobs = 20;
inline constexpr int kMaxChoices = 128;

struct GenerationOptions {
  std::string model;                                  // empty: not given
  int n = 1;                                          // choices per prompt, [1, kMaxChoices]
  std::optional<int> max_tokens;                      // >= 1 (chat: max_completion_tokens wins)
  std::optional<double> temperature;                  // >= 0
  std::optional<double> top_p;                        // (0, 1]
  std::optional<int> top_k;                           // -1 / 0 disable, else >= 1
  std::optional<double> min_p;                        // [0, 1]
  std::optional<double> repetition_penalty;           // > 0
  double presence_penalty = 0.0;                      // [-2, 2]
  double frequency_penalty = 0.0;                     // [-2, 2]
  std::vector<std::pair<int64_t, float>> logit_bias;  // ids checked against the vocabulary later
  std::optional<int64_t> seed;
  std::vector<std::string> stop;        // non-empty strings
  std::vector<int64_t> stop_token_ids;  // checked against the vocabulary later
  bool ignore_eos = false;
  int min_tokens = 0;  // >= 0, <= max_tokens
  int logprobs = -1;   // -1: none; k: chosen token + top k
  bool echo = false;   // completions only
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // stream_options.continuous_usage_stats (vLLM), only with include_usage:
  // every chunk carries its choice's usage so far.
  bool continuous_usage_stats = false;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  std::string user;
  std::string cache_salt;  // vLLM's field: separates prefix caches; non-empty when given
  // response_format / structured_outputs / guided_* (structured_output.h);
  // compiled by the plan (job_plan.h), refused there when the model has no
  // constraint compiler.
  StructuredOutput structured;
};

// What a request that asks for structured output (response_format
// json_object/json_schema, vLLM's structured_outputs and guided_* fields,
// a forced tool_choice, Responses text.format) is told while the served model
// has no constraint compiler (a build without the grammar engine): a 400
// (kUnsupported) with this message naming the field, never ignored.
inline constexpr const char* kStructuredOutputUnavailable = "structured output is not available in this build";

// Reads the shared fields of a chat or completion request body.
Status parse_generation_options(const boost::json::object& body, ApiKind api, GenerationOptions& out);

}  // namespace tandem::frontend
