// libFuzzer target: the chat, completion, tokenize and detokenize request
// parsers and the route table must turn any input into a value or a Status,
// never crash, hang or throw. The whole input goes to every parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

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
  return 0;
}
