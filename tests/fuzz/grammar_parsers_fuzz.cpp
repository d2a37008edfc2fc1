// libFuzzer target: the regex and GBNF parsers must turn any input into a grammar or a kInvalidRequest
// Status with a message, never crash, hang or throw; compiled grammars are walked by the matcher with
// its invariants checked (grammar_fuzz_vocab.h). The whole input goes to both parsers and to choice()
// (split at newlines).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar_fuzz_vocab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto& c = grammar::fuzz::compiler();
  std::vector<std::string> options;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\n') {
      options.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  for (auto g : {c.regex(text), c.ebnf(text), c.choice(options)}) {
    if (!g.ok()) {
      if (g.status().kind() != ErrorKind::kInvalidRequest || g.status().message().empty()) __builtin_trap();
      continue;
    }
    grammar::fuzz::exercise(*g, {data, size});
  }
  return 0;
}
