#include "engine/kv_blob.h"

#include <cstring>
#include <string>

namespace tandem::engine {

Status KvBlob::check_range(int first, size_t out_bytes) const {
  const size_t bb = block_bytes();
  if (bb == 0 || out_bytes % bb != 0) {
    return Status(ErrorKind::kInvalidRequest, "kv blob: " + std::to_string(out_bytes) +
                                                  " bytes are not a whole number of " + std::to_string(bb) +
                                                  "-byte blocks");
  }
  const size_t n = out_bytes / bb;
  if (first < 0 || static_cast<size_t>(first) + n > static_cast<size_t>(num_blocks())) {
    return Status(ErrorKind::kInvalidRequest, "kv blob: blocks [" + std::to_string(first) + ", " +
                                                  std::to_string(static_cast<size_t>(first) + n) +
                                                  ") are outside the blob's " + std::to_string(num_blocks()));
  }
  return {};
}

Status HostKvBlob::copy_to_host(int first, std::span<std::byte> out) const {
  if (Status s = check_range(first, out.size()); !s.ok()) return s;
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + static_cast<size_t>(first) * block_bytes_, out.size());
  return {};
}

}  // namespace tandem::engine
