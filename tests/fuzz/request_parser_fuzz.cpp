// libFuzzer target: the chat, completion, tokenize and detokenize request
// parsers, the route table (and its query reader) and the API-key check (bearer
// and Basic credentials) must turn any input into a value or a Status, never
// crash, hang or throw. The whole input goes to every parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "frontend/api_key_auth.h"
#include "frontend/chat_request.h"
#include "frontend/completion_request.h"
#include "frontend/route.h"
#include "frontend/tokenize_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  using namespace tandem::frontend;
  auto chat = parse_chat_request(body);
  if (chat.ok() && chat->messages.empty()) __builtin_trap();  // validated non-empty
  auto completion = parse_completion_request(body);
  if (completion.ok() && completion->prompts.empty()) __builtin_trap();
  if (!completion.ok() && completion.status().message().empty()) __builtin_trap();
  (void)parse_tokenize_request(body);
  (void)parse_detokenize_request(body);
  (void)match_route("GET", body);
  (void)query_uint(body, "since");
  static const ApiKeyAuth auth({"sk-one"});
  if (auth.check_bearer_or_basic(body) && body.find("sk-one") == std::string_view::npos &&
      body.find("c2stb25l") == std::string_view::npos && body.find("NrLW9uZ") == std::string_view::npos &&
      body.find("zay1vbm") == std::string_view::npos) {
    // The key must appear somewhere: as itself (bearer) or base64-encoded at one of the three alignments.
    __builtin_trap();
  }
  if (auto decoded = base64_decode(body); decoded && decoded->size() > body.size()) __builtin_trap();
  return 0;
}
