// libFuzzer target: discovery record parsing. Any bytes in the shared
// directory must become a record or a Status, never a crash, hang or throw;
// a record that parses encodes and parses back to the same fields.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "discovery/peer_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace tandem::discovery;
  // The seeds are written with the key "fuzz"; other hashes exercise the foreign path.
  static const std::string hash = peer_key_hash("fuzz");
  auto r = parse_record(text, hash);
  if (!r.ok()) {
    if (r.status().message().empty()) __builtin_trap();
  } else {
    if (!valid_id(r->id) || !parse_http_url(r->url).ok()) __builtin_trap();
    auto again = parse_record(encode_record(*r), hash);
    if (!again.ok() || again->id != r->id || again->url != r->url || again->models.size() != r->models.size() ||
        again->updated_ms != r->updated_ms || again->seq != r->seq) {
      __builtin_trap();
    }
  }
  (void)parse_http_url(text);
  (void)valid_id(text);
  return 0;
}
