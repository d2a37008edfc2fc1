// libFuzzer target: the JSON Schema compiler must turn any input into a grammar or a kInvalidRequest
// Status with a message, never crash, hang or throw; a compiled grammar is walked by the matcher with
// its invariants checked (grammar_fuzz_vocab.h). The input is the schema; its bytes also drive the walk.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "grammar_fuzz_vocab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto& c = grammar::fuzz::compiler();
  for (bool strict : {true, false}) {
    auto g = c.json_schema(text, strict);
    if (!g.ok()) {
      if (g.status().kind() != ErrorKind::kInvalidRequest || g.status().message().empty()) __builtin_trap();
      continue;
    }
    grammar::fuzz::exercise(*g, {data, size});
  }
  return 0;
}
