// The KV tiers' wiring for `tandem serve` and `tandem doctor`: the model
// fingerprint the disk tier stores with every block, and opening one worker's
// kv::TierCache from the [kv] config.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/metrics.h"
#include "engine/runner.h"
#include "kv/tier_cache.h"

namespace tandem::main {

// What must match for a disk block to be reused: the model's files (name,
// size and modification time of the .gguf file, or of every regular file of
// the Hugging Face directory: weights, tokenizer, configs), the KV dtype
// ("f32" on the CPU, "bf16" on CUDA) and the block layout. 16 hex digits.
std::string model_fingerprint(const std::string& model_path, const std::string& kv_dtype, int block_tokens,
                              size_t block_bytes);

// Worker `worker`'s tiers (one of `workers`, each with an even share of the
// [kv] sizes), with host memory from `runner`; null when [kv] host_cache_gib
// is 0. A runner whose export_blocks is unsupported throws ConfigError
// naming [kv] host_cache_gib. The disk tier lives in `<disk_cache_dir>/<worker>/`. A disk directory
// set in the config that cannot be used throws ConfigError naming
// [kv] disk_cache_dir; the default one turns the disk tier off with one
// warning (`*warned` keeps it to one over all workers).
std::shared_ptr<kv::TierCache> open_worker_tiers(const Config& config, const std::string& worker, int workers,
                                                 engine::Runner& runner, const std::string& kv_dtype,
                                                 metrics::Registry* registry, bool* warned);

}  // namespace tandem::main
