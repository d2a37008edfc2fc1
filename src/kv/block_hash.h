// Block hashes for the prefix cache. A full block's hash is chained from its
// parent's hash and its own tokens, and the chain starts from a root that mixes
// the model salt and the request's cache_salt, so equal hashes (checked again
// against the stored tokens) mean equal prefixes of the same model and tenant.
//
// The router computes the same hashes for an incoming prompt to score workers
// against the KV events they published, so these functions are the contract
// between kv::BlockPool and the KV-aware router: changing them changes both.
//
// Pure functions, thread-safe. 64-bit hashes: BlockPool compares the stored
// tokens and parent hash on every lookup, so a collision can only matter when
// two different parent chains collide (probability ~2^-64 per pair).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tandem::kv {

using BlockHash = uint64_t;

// Root of every chain for one (model, cache_salt) pair.
BlockHash root_hash(uint64_t model_salt, std::string_view cache_salt);

// Hash of one full block given its parent's hash (or the root for block 0).
BlockHash chain_hash(BlockHash parent, std::span<const int32_t> tokens);

// Hashes of the first `max_blocks` full blocks of `tokens` (fewer when tokens
// run out; a partial tail block has no hash). block_tokens must be >= 1.
std::vector<BlockHash> block_hashes(BlockHash root, std::span<const int32_t> tokens, int block_tokens, int max_blocks);

}  // namespace tandem::kv
