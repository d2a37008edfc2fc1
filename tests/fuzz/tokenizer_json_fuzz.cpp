// libFuzzer target: the tokenizer.json / tokenizer_config.json loader on
// arbitrary text, then encode/decode of a fixed string with whatever tokenizer
// was built. Must never crash or hang; any input is loaded or refused with a
// Status. Input layout: tokenizer.json text, optionally followed by a NUL byte
// and tokenizer_config.json text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/check.h"
#include "text/tokenizer_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view tokenizer = all, config;
  if (auto nul = all.find('\0'); nul != std::string_view::npos) {
    tokenizer = all.substr(0, nul);
    config = all.substr(nul + 1);
  }
  auto loaded = tandem::text::parse_tokenizer_json(tokenizer, config, "fuzz/tokenizer.json");
  if (!loaded.ok()) {
    TANDEM_CHECK(!loaded.status().message().empty());
    return 0;
  }
  const auto& tok = *loaded.value();
  auto ids = tok.encode("Hello, world! <|im_end|> \xF0\x9F\x98\x80 \xff 12345", true, true);
  for (int32_t id : ids) TANDEM_CHECK(id >= 0 && id < tok.vocab_size());
  (void)tok.decode(ids, true);
  (void)tok.decode(ids, false);
  for (int32_t id : ids) (void)tok.token_bytes(id);
  return 0;
}
