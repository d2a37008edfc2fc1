#include "kv/block_hash.h"

#include "common/check.h"

namespace tandem::kv {
namespace {

// splitmix64's finalizer: a bijection on 64 bits with full avalanche.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kRootTag = 0x74616e64656d0001ULL;  // distinguishes roots from blocks
constexpr uint64_t kBlockTag = 0x74616e64656d0002ULL;

}  // namespace

BlockHash root_hash(uint64_t model_salt, std::string_view cache_salt) {
  uint64_t h = mix(kRootTag ^ mix(model_salt + kGolden));
  for (unsigned char c : cache_salt) h = mix(h + kGolden + c);
  return mix(h ^ (static_cast<uint64_t>(cache_salt.size()) * kGolden));
}

BlockHash chain_hash(BlockHash parent, std::span<const int32_t> tokens) {
  uint64_t h = mix(parent ^ kBlockTag);
  for (int32_t t : tokens) h = mix(h + kGolden + static_cast<uint32_t>(t));
  return mix(h ^ (static_cast<uint64_t>(tokens.size()) * kGolden));
}

std::vector<BlockHash> block_hashes(BlockHash root, std::span<const int32_t> tokens, int block_tokens, int max_blocks) {
  TANDEM_CHECK(block_tokens >= 1);
  std::vector<BlockHash> out;
  const size_t bt = static_cast<size_t>(block_tokens);
  BlockHash parent = root;
  for (size_t i = 0; static_cast<int>(i) < max_blocks && (i + 1) * bt <= tokens.size(); ++i) {
    parent = chain_hash(parent, tokens.subspan(i * bt, bt));
    out.push_back(parent);
  }
  return out;
}

}  // namespace tandem::kv
