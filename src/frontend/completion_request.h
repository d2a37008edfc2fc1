// frontend::CompletionRequest: a validated POST /v1/completions body. The
// prompt may be a string, an array of strings, an array of token ids or an
// array of token-id arrays (one choice group per prompt).
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "frontend/generation_options.h"

namespace tandem::frontend {

struct CompletionPrompt {
  std::optional<std::string> text;  // set for text prompts
  std::vector<int64_t> tokens;      // set for token prompts (checked against the vocabulary later)
};

struct CompletionRequest {
  std::vector<CompletionPrompt> prompts;  // at least one
  GenerationOptions options;
};

// prompts x n may not exceed this many choices.
inline constexpr int kMaxTotalChoices = 256;

Result<CompletionRequest> parse_completion_request(std::string_view body);

}  // namespace tandem::frontend
