#include "scheduler/kv_routing_policy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

#include "common/check.h"
#include "kv/block_hash.h"

namespace tandem::scheduler {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A uniform double in [0, 1) from 53 random bits (same on every platform,
// unlike std::uniform_real_distribution).
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

KvRoutingPolicy::KvRoutingPolicy(KvRoutingOptions options)
    : options_(options), rng_(options.seed != 0 ? options.seed : std::random_device{}()) {
  if (!std::isfinite(options_.overlap_weight) || options_.overlap_weight < 0) {
    throw std::invalid_argument("kv_overlap_weight must be a finite number >= 0, got " +
                                std::to_string(options_.overlap_weight));
  }
  for (double c : options_.tier_credit) {
    if (!std::isfinite(c) || c < 0 || c > 1) {
      throw std::invalid_argument("a KV tier credit must be in [0, 1], got " + std::to_string(c));
    }
  }
  if (!std::isfinite(options_.temperature) || options_.temperature < 0) {
    throw std::invalid_argument("router_temperature must be a finite number >= 0, got " +
                                std::to_string(options_.temperature));
  }
}

void KvRoutingPolicy::on_kv_event(size_t worker_index, const kv::KvEvent& event) {
  switch (index_.apply(worker_index, event)) {
    case kv::KvIndexUpdate::kApplied: return;
    case kv::KvIndexUpdate::kUnknownEviction:
      spdlog::warn("[router] worker {} evicted block {:016x} the KV index did not hold (event {})", event.worker,
                   event.block_hash, event.seq_no);
      return;
    case kv::KvIndexUpdate::kWorkerOutOfRange:
      spdlog::warn(
          "[router] worker {} (index {}) is beyond the KV index's {} workers; its cache "
          "is not used for routing",
          event.worker, worker_index, kv::KvIndex::kMaxWorkers);
      return;
  }
}

void KvRoutingPolicy::on_worker_removed(size_t worker_index) { index_.remove_worker(worker_index); }

int KvRoutingPolicy::cached_tokens(const GenerationRequest& request, const WorkerView& worker) {
  const std::vector<KvScore> s = score(request, std::span<const WorkerView>(&worker, 1));
  return static_cast<int>(s[0].overlap_blocks) * worker.block_tokens;
}

std::vector<KvScore> KvRoutingPolicy::score(const GenerationRequest& request,
                                            std::span<const WorkerView> candidates) const {
  std::vector<KvScore> scores(candidates.size());
  size_t max_index = 0;
  for (const WorkerView& c : candidates) max_index = std::max(max_index, c.index);
  std::vector<uint32_t> overlap(std::min(max_index + 1, kv::KvIndex::kMaxWorkers));
  std::vector<double> credit(overlap.size());
  // Candidates normally share one (block_tokens, model_salt); hash again only
  // when it changes.
  int hashed_bt = 0;
  uint64_t hashed_salt = 0;
  const int64_t n = static_cast<int64_t>(request.prompt.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    const WorkerView& c = candidates[i];
    TANDEM_CHECK(c.block_tokens >= 1);
    if (i == 0 || c.block_tokens != hashed_bt || c.model_salt != hashed_salt) {
      hashed_bt = c.block_tokens;
      hashed_salt = c.model_salt;
      const int reusable = n > 0 ? static_cast<int>((n - 1) / c.block_tokens) : 0;
      const std::vector<kv::BlockHash> hashes =
          kv::block_hashes(kv::root_hash(c.model_salt, request.cache_salt), request.prompt, c.block_tokens, reusable);
      index_.credits(hashes, std::span<const double, 3>(options_.tier_credit), overlap, credit);
    }
    KvScore& s = scores[i];
    s.overlap_blocks = c.index < overlap.size() ? overlap[c.index] : 0;
    s.overlap_credit = c.index < credit.size() ? credit[c.index] : 0.0;
    s.prompt_blocks = static_cast<uint32_t>(ceil_div(n, c.block_tokens));
    s.load_blocks = ceil_div(std::max<int64_t>(0, c.load.load_tokens), c.block_tokens);
    s.cost = (static_cast<double>(s.prompt_blocks) - s.overlap_credit) * options_.overlap_weight +
             static_cast<double>(s.load_blocks);
  }
  return scores;
}

size_t KvRoutingPolicy::choose(std::span<const KvScore> scores, std::span<const WorkerView> candidates) {
  auto key = [&](size_t i) {
    return std::make_tuple(scores[i].cost, candidates[i].load.load_tokens, candidates[i].index);
  };
  size_t best = 0;
  for (size_t i = 1; i < scores.size(); ++i) {
    if (key(i) < key(best)) best = i;
  }
  if (options_.temperature <= 0 || scores.size() == 1) return best;

  double lo = scores[0].cost;
  double hi = scores[0].cost;
  for (const KvScore& s : scores) {
    lo = std::min(lo, s.cost);
    hi = std::max(hi, s.cost);
  }
  const double range = hi > lo ? hi - lo : 1.0;
  std::vector<double> weight(scores.size());
  double total = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    weight[i] = std::exp(-((scores[i].cost - lo) / range) / options_.temperature);
    total += weight[i];
  }
  double u;
  {
    std::lock_guard<std::mutex> lock(rng_mu_);
    u = unit(rng_) * total;
  }
  for (size_t i = 0; i < weight.size(); ++i) {
    if (u < weight[i]) return i;
    u -= weight[i];
  }
  return best;  // rounding at the top end
}

size_t KvRoutingPolicy::pick(const GenerationRequest& request, std::span<const WorkerView> candidates) {
  TANDEM_CHECK(!candidates.empty());
  const std::vector<KvScore> scores = score(request, candidates);
  const size_t chosen = choose(scores, candidates);
  const KvScore& s = scores[chosen];
  spdlog::info("[router] {} -> worker {} overlap_blocks={}/{} credit={:.2f} load_blocks={} cost={:.1f}", request.id,
               candidates[chosen].name, s.overlap_blocks, s.prompt_blocks, s.overlap_credit, s.load_blocks, s.cost);
  return chosen;
}

}  // namespace tandem::scheduler
