// Times KvRoutingPolicy::pick() (hash the prompt, look its blocks up in the
// KV index, score every worker) for an appliance of W workers whose index was
// filled through KV events with B cached blocks in total, for prompts of P
// tokens that overlap worker caches by varying amounts. Prints one table; the
// last lines are the headline figures (median and p99 per decision).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kv/block_hash.h"
#include "kv/kv_event.h"
#include "scheduler/kv_routing_policy.h"

using namespace tandem;

namespace {

struct Args {
  int workers = 8;
  long blocks = 1'000'000;
  int prompt_tokens = 2048;
  int block_tokens = 16;
  int picks = 20000;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long v = std::atol(argv[i + 1]);
    if (k == "--workers")
      a.workers = static_cast<int>(v);
    else if (k == "--blocks")
      a.blocks = v;
    else if (k == "--prompt")
      a.prompt_tokens = static_cast<int>(v);
    else if (k == "--block-tokens")
      a.block_tokens = static_cast<int>(v);
    else if (k == "--picks")
      a.picks = static_cast<int>(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  if (a.workers < 1 || a.workers > 64 || a.blocks < 1 || a.prompt_tokens < 2 || a.block_tokens < 1 || a.picks < 1) {
    std::fprintf(stderr, "bad option value\n");
    std::exit(2);
  }
  return a;
}

std::vector<int32_t> random_tokens(std::mt19937_64& rng, int n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % 49152);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // no per-decision log lines
  constexpr uint64_t kModelSalt = 1234;
  scheduler::KvRoutingPolicy policy(scheduler::KvRoutingOptions{1.0, 0.0, 1});
  std::mt19937_64 rng(42);
  const int prompt_blocks = a.prompt_tokens / a.block_tokens;
  const kv::BlockHash root = kv::root_hash(kModelSalt, "");

  // A set of "documents" (prompts) that the queries will share prefixes with;
  // each worker caches a random prefix length of some of them, and the rest
  // of its share of the B blocks is filler chains (other conversations).
  const int kDocs = 64;
  std::vector<std::vector<int32_t>> docs;
  for (int d = 0; d < kDocs; ++d) docs.push_back(random_tokens(rng, a.prompt_tokens));
  std::vector<uint64_t> seq(static_cast<size_t>(a.workers));
  long stored = 0;
  auto emit = [&](int w, kv::BlockHash parent, kv::BlockHash h) {
    kv::KvEvent e;
    e.worker = "w" + std::to_string(w);
    e.seq_no = seq[static_cast<size_t>(w)]++;
    e.kind = kv::KvEventKind::kStored;
    e.parent_hash = parent;
    e.block_hash = h;
    policy.on_kv_event(static_cast<size_t>(w), e);
    ++stored;
  };
  const auto fill_start = std::chrono::steady_clock::now();
  for (int w = 0; w < a.workers; ++w) {
    for (int d = w % 2; d < kDocs; d += 2) {
      const int keep = static_cast<int>(rng() % static_cast<uint64_t>(prompt_blocks + 1));
      const auto hs = kv::block_hashes(root, docs[static_cast<size_t>(d)], a.block_tokens, keep);
      kv::BlockHash parent = root;
      for (kv::BlockHash h : hs) {
        emit(w, parent, h);
        parent = h;
      }
    }
  }
  // Filler: random chains until the index holds `blocks` blocks.
  std::vector<int32_t> filler(static_cast<size_t>(a.block_tokens));
  for (long i = 0; stored < a.blocks; ++i) {
    const int w = static_cast<int>(i % a.workers);
    kv::BlockHash parent = kv::chain_hash(root, random_tokens(rng, a.block_tokens));
    for (int b = 0; b < 64 && stored < a.blocks; ++b) {
      const kv::BlockHash h = kv::chain_hash(parent, std::span<const int32_t>(filler));
      emit(w, parent, h ^ (static_cast<uint64_t>(i) << 20) ^ static_cast<uint64_t>(b));
      parent = h;
    }
  }
  const double fill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();

  std::vector<scheduler::WorkerView> views(static_cast<size_t>(a.workers));
  std::vector<std::string> names;
  for (int w = 0; w < a.workers; ++w) names.push_back("w" + std::to_string(w));
  for (int w = 0; w < a.workers; ++w) {
    auto& v = views[static_cast<size_t>(w)];
    v.index = static_cast<size_t>(w);
    v.name = names[static_cast<size_t>(w)];
    v.load.healthy = true;
    v.load.load_tokens = static_cast<int64_t>(rng() % 20000);
    v.block_tokens = a.block_tokens;
    v.model_salt = kModelSalt;
  }

  // Queries: a document prefix (0..100% of the prompt) followed by new tokens.
  std::printf(
      "router_bench: %d workers, %zu blocks indexed (%.1f s to fill through events), prompt %d "
      "tokens (%d blocks of %d), %d picks per row\n",
      a.workers, policy.index().num_hashes(), fill_s, a.prompt_tokens, prompt_blocks, a.block_tokens, a.picks);
  std::printf("%-22s %12s %12s %12s %14s\n", "shared prefix", "median_us", "p99_us", "max_us", "chosen_overlap");
  std::vector<double> all;
  for (int pct : {0, 25, 50, 100}) {
    std::vector<scheduler::GenerationRequest> reqs;
    for (int q = 0; q < 64; ++q) {
      scheduler::GenerationRequest r;
      r.id = "q";
      const auto& doc = docs[static_cast<size_t>(q % kDocs)];
      const int shared = a.prompt_tokens * pct / 100;
      r.prompt.assign(doc.begin(), doc.begin() + shared);
      const auto tail = random_tokens(rng, a.prompt_tokens - shared);
      r.prompt.insert(r.prompt.end(), tail.begin(), tail.end());
      reqs.push_back(std::move(r));
    }
    std::vector<double> us;
    double overlap_sum = 0;
    for (int i = 0; i < a.picks; ++i) {
      const auto& r = reqs[static_cast<size_t>(i) % reqs.size()];
      const auto t0 = std::chrono::steady_clock::now();
      const size_t chosen = policy.pick(r, views);
      const auto t1 = std::chrono::steady_clock::now();
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      if (i < 64) overlap_sum += policy.score(r, views)[chosen].overlap_blocks;
    }
    std::sort(us.begin(), us.end());
    all.insert(all.end(), us.begin(), us.end());
    char label[32];
    std::snprintf(label, sizeof label, "%d%%", pct);
    std::printf("%-22s %12.2f %12.2f %12.2f %14.1f\n", label, us[us.size() / 2], us[us.size() * 99 / 100], us.back(),
                overlap_sum / 64);
  }
  std::sort(all.begin(), all.end());
  std::printf("decision median_us %.2f\n", all[all.size() / 2]);
  std::printf("decision p99_us %.2f\n", all[all.size() * 99 / 100]);
  return 0;
}
