// frontend::TokenizeRequest / DetokenizeRequest: validated bodies of vLLM's
// POST /tokenize and POST /detokenize.
//
// /tokenize takes either `prompt` (a string; add_special_tokens defaults to
// true) or `messages` (rendered with the chat template; add_generation_prompt
// defaults to true and add_special_tokens to false, as vLLM, because the
// template already writes BOS). `return_token_strs` (both forms) adds each
// token's vocabulary text. /detokenize takes `tokens` (ids).
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "frontend/chat_request.h"

namespace tandem::frontend {

struct TokenizeRequest {
  std::string model;
  std::optional<std::string> prompt;  // set: the prompt form
  std::optional<ChatRequest> chat;    // set: the messages form
  bool add_special_tokens = true;
  bool return_token_strs = false;  // vLLM: `token_strs` lists each token's vocabulary text
};

struct DetokenizeRequest {
  std::string model;
  std::vector<int64_t> tokens;
};

Result<TokenizeRequest> parse_tokenize_request(std::string_view body);
Result<DetokenizeRequest> parse_detokenize_request(std::string_view body);

}  // namespace tandem::frontend
