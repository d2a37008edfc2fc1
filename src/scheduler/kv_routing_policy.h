// The KV-aware routing policy (`[scheduler] router = "kv"`): for each worker,
// overlap = leading prompt blocks its prefix cache holds in any tier (from a
// kv::KvIndex fed only by the workers' KV events), credit = the sum over those
// blocks of the best tier's credit (tier_credit: device 1, host 0.75, disk
// 0.25 by default: a block below the device must be loaded back), and
//
//   cost = (prompt blocks - credit) * overlap_weight + load blocks
//
// where prompt blocks = ceil(prompt tokens / block_tokens) and load blocks =
// ceil(WorkerLoad::load_tokens / block_tokens) (its queued + running tokens).
// The lowest cost wins; ties go to the least loaded (load_tokens), then the
// lowest index. With temperature > 0 the worker is instead drawn from a
// softmax over the costs min-max normalised to [0, 1] and divided by the
// temperature (as Dynamo's router does), with a seeded generator.
//
// The prompt's block hashes come from kv::block_hashes() with the worker's
// model salt and the request's cache_salt, over the first
// (prompt tokens - 1) / block_tokens blocks: exactly the blocks the worker's
// pool may reuse (its last prompt token is always computed).
//
// Threading: pick() from any thread, on_kv_event() from worker threads; the
// index has its own lock, the sampler a mutex. A decision is logged at info
// level with the request id, worker, overlap and cost.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <vector>

#include "kv/kv_index.h"
#include "scheduler/routing_policy.h"

namespace tandem::scheduler {

struct KvRoutingOptions {
  double overlap_weight = 1.0;  // [scheduler] kv_overlap_weight, >= 0
  double temperature = 0.0;     // [scheduler] router_temperature, >= 0; 0 = deterministic
  uint64_t seed = 0;            // sampling seed (temperature > 0); 0 = drawn at start
  // Credit per leading block held, by kv::KvTier (device, host, disk), each in [0, 1].
  double tier_credit[3] = {1.0, 0.75, 0.25};
};

// One worker's score for one request (exposed for tests and the benchmark).
struct KvScore {
  uint32_t overlap_blocks = 0;  // leading blocks held in any tier
  double overlap_credit = 0.0;  // their credit (tier_credit of the best tier holding each)
  uint32_t prompt_blocks = 0;
  int64_t load_blocks = 0;
  double cost = 0.0;
};

class KvRoutingPolicy final : public RoutingPolicy {
 public:
  // Throws std::invalid_argument on a negative or non-finite weight or
  // temperature (start-up error).
  explicit KvRoutingPolicy(KvRoutingOptions options = {});

  const char* name() const override { return "kv"; }
  size_t pick(const GenerationRequest& request, std::span<const WorkerView> candidates) override;
  // overlap blocks x block_tokens, from the index.
  int cached_tokens(const GenerationRequest& request, const WorkerView& worker) override;
  void on_kv_event(size_t worker_index, const kv::KvEvent& event) override;
  void on_worker_removed(size_t worker_index) override;

  // The scores pick() compares, one per candidate (same order).
  std::vector<KvScore> score(const GenerationRequest& request, std::span<const WorkerView> candidates) const;

  const kv::KvIndex& index() const { return index_; }
  const KvRoutingOptions& options() const { return options_; }

 private:
  size_t choose(std::span<const KvScore> scores, std::span<const WorkerView> candidates);

  KvRoutingOptions options_;
  kv::KvIndex index_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

}  // namespace tandem::scheduler
