#include "gpu/ops/attention_setup.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "engine/cuda/prefill_attention_sm90.h"
#include "engine/cuda/step_plan.h"
#include "engine/runner.h"

namespace tandem::gpu_ops {

using engine::cuda::AttnSeq;
using engine::cuda::AttnTile;
using engine::cuda::PagedAttentionParams;

AttentionProblem make_attention_problem(const engine::ModelSpec& spec, const std::vector<std::pair<int, int>>& seqs,
                                        int block_tokens, uint64_t seed) {
  AttentionProblem pr;
  pr.n_heads = spec.n_heads;
  pr.n_kv_heads = spec.n_kv_heads;
  pr.head_dim = spec.head_dim;
  pr.block_tokens = block_tokens;
  const int layers = 2;
  const int64_t slot_elems = static_cast<int64_t>(pr.n_kv_heads) * pr.head_dim;
  pr.block_elems = layers * 2 * block_tokens * slot_elems;
  constexpr int kSpares = 3;
  for (auto [start, n_q] : seqs) {
    pr.n_blocks += (start + n_q + block_tokens - 1) / block_tokens;
    pr.n_tokens += n_q;
  }
  pr.n_blocks += kSpares;
  std::vector<int32_t> ids(static_cast<size_t>(pr.n_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  const std::vector<float> order = random_f32(ids.size(), 0.0f, 1.0f, seed);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return order[a] < order[b]; });
  size_t next = 0;
  for (auto [start, n_q] : seqs) {
    SeqRef s;
    s.start_pos = start;
    s.n_q = n_q;
    const size_t needed = static_cast<size_t>((start + n_q + block_tokens - 1) / block_tokens);
    s.block_table.assign(ids.begin() + next, ids.begin() + next + needed);
    next += needed;
    pr.seqs.push_back(std::move(s));
  }
  pr.q = random_bf16(static_cast<size_t>(pr.n_tokens) * pr.n_heads * pr.head_dim, -3.5f, 3.5f, seed + 1);
  pr.pool = random_bf16(static_cast<size_t>(pr.n_blocks * pr.block_elems), -1.5f, 1.5f, seed + 2);
  for (const SeqRef& s : pr.seqs) {
    const int ctx = s.start_pos + s.n_q;
    const int used = ctx % block_tokens;
    if (used == 0) continue;
    const int64_t block = s.block_table.back();
    for (int lkv = 0; lkv < 2 * layers; ++lkv) {
      const int64_t at = block * pr.block_elems + (static_cast<int64_t>(lkv) * block_tokens + used) * slot_elems;
      std::fill(pr.pool.begin() + at, pr.pool.begin() + at + (block_tokens - used) * slot_elems, kBf16NaN);
    }
  }
  for (size_t i = next; i < ids.size(); ++i) {
    const int64_t at = ids[i] * pr.block_elems;
    std::fill(pr.pool.begin() + at, pr.pool.begin() + at + pr.block_elems, kBf16NaN);
  }
  return pr;
}

AttentionPlan plan_attention(const AttentionProblem& pr, bool key_split, engine::cuda::PrefillTiling tiling,
                             int n_splits) {
  AttentionPlan plan;
  plan.key_split = key_split;
  plan.tiling = tiling;
  plan.n_splits = n_splits;
  const int group = pr.n_heads / pr.n_kv_heads;
  const int tile_rows = key_split ? 16 : engine::cuda::prefill_tile_rows(tiling);
  int q_start = 0;
  for (size_t i = 0; i < pr.seqs.size(); ++i) {
    const SeqRef& s = pr.seqs[i];
    plan.seqs.push_back(AttnSeq{q_start, s.n_q, s.start_pos, static_cast<int32_t>(plan.tables.size())});
    plan.tables.insert(plan.tables.end(), s.block_table.begin(), s.block_table.end());
    q_start += s.n_q;
    const int n_row_tiles = (s.n_q * group + tile_rows - 1) / tile_rows;
    for (int rt = n_row_tiles - 1; rt >= 0; --rt) {
      for (int h = 0; h < pr.n_kv_heads; ++h)
        plan.tiles.push_back(AttnTile{static_cast<int32_t>(i), h, rt * tile_rows, 0});
    }
  }
  return plan;
}

AttentionPlan plan_attention_as_runner(const AttentionProblem& pr, const engine::ModelSpec& spec, int sms) {
  std::vector<std::vector<int32_t>> tokens;
  engine::StepBatch batch;
  for (const SeqRef& s : pr.seqs) tokens.emplace_back(static_cast<size_t>(s.n_q), 0);
  for (size_t i = 0; i < pr.seqs.size(); ++i) {
    engine::SequenceStep step;
    step.tokens = tokens[i];
    step.start_pos = pr.seqs[i].start_pos;
    step.block_table = pr.seqs[i].block_table;
    batch.seqs.push_back(step);
  }
  engine::cuda::StepPlanLimits limits;
  limits.max_tokens = 1 << 20;
  limits.max_seqs = 1 << 12;
  limits.max_table = 1 << 20;
  limits.num_blocks = pr.n_blocks;
  limits.block_tokens = pr.block_tokens;
  limits.sms = sms;
  limits.ws_rows = 64 * 1024;  // cuda_runner.cpp's split-KV workspace rows
  engine::cuda::StepPlan step_plan;
  require(step_plan.build(batch, spec, limits, 0, false), "StepPlan::build");
  const engine::cuda::StepLayout& L = step_plan.layout();
  const int32_t* packed = step_plan.packed().data();
  AttentionPlan plan;
  plan.key_split = step_plan.attention_key_split();
  plan.tiling = step_plan.prefill_tiling();
  plan.n_splits = step_plan.n_splits();
  const auto* seqs = reinterpret_cast<const AttnSeq*>(packed + L.seqs);  // as the runner reads them
  const auto* tiles = reinterpret_cast<const AttnTile*>(packed + L.tiles);
  plan.seqs.assign(seqs, seqs + L.n_seqs);
  plan.tiles.assign(tiles, tiles + L.n_tiles);
  plan.tables.assign(packed + L.tables, packed + step_plan.packed().size());
  return plan;
}

AttentionResult run_paged_attention(const AttentionProblem& pr, const AttentionPlan& plan, const AttentionRun& run,
                                    const std::string& name) {
  const size_t out_elems = static_cast<size_t>(pr.n_tokens) * pr.n_heads * pr.head_dim;
  const DeviceArray<uint16_t> d_q(pr.q), d_pool(pr.pool);
  const DeviceArray<int32_t> d_tables(plan.tables);
  const DeviceArray<AttnSeq> d_seqs(plan.seqs);
  const DeviceArray<AttnTile> d_tiles(plan.tiles);
  const std::vector<uint16_t> poison(out_elems, kBf16NaN);
  DeviceArray<uint16_t> d_out(out_elems);
  PagedAttentionParams p;
  p.q = bf16_ptr(d_q);
  p.kv_pool = bf16_ptr(d_pool);
  p.block_tables = d_tables.get();
  p.seqs = d_seqs.get();
  p.tiles = d_tiles.get();
  p.out = bf16_ptr(d_out);
  p.block_elems = pr.block_elems;
  p.n_tiles = static_cast<int>(plan.tiles.size());
  p.n_splits = plan.n_splits;
  p.key_split = plan.key_split;
  p.prefill_tiling = plan.tiling;
  p.n_tokens = pr.n_tokens;
  p.n_heads = pr.n_heads;
  p.n_kv_heads = pr.n_kv_heads;
  p.head_dim = pr.head_dim;
  p.block_tokens = pr.block_tokens;
  p.block_shift =
      (pr.block_tokens & (pr.block_tokens - 1)) == 0 ? std::countr_zero(static_cast<unsigned>(pr.block_tokens)) : -1;
  p.layer = pr.layer;
  p.scale = 1.0f / std::sqrt(static_cast<float>(pr.head_dim));
  p.pdl = run.pdl;
  p.allow_sm90 = run.allow_sm90;
  p.allow_sm90_tma = run.allow_sm90_tma;
  DeviceArray<float> d_ws(p.workspace_bytes() / sizeof(float));
  if (p.n_splits > 1) {
    p.partial_o = d_ws.get();
    p.partial_ml = d_ws.get() + static_cast<size_t>(p.n_splits) * pr.n_tokens * pr.n_heads * pr.head_dim;
  }
  const bool counters = p.key_split && p.n_splits > 1;
  const std::vector<uint32_t> zeros(plan.tiles.size(), 0u);
  DeviceArray<uint32_t> d_counters(zeros);
  if (counters) {
    p.split_counters = d_counters.get();
    p.n_split_counters = static_cast<int>(plan.tiles.size());
  }
  AttentionResult result;
  result.sm90 = !p.key_split && engine::cuda::prefill_sm90_applies(p);
  std::vector<uint32_t> counters_after;
  for (int i = 0; i < run.launches; ++i) {
    d_out.upload(poison);
    require(engine::cuda::launch(p, nullptr), "paged attention launch");
    sync("paged attention");
    result.outputs.push_back(bf16_to_f32(d_out.download()));
    if (counters) {
      const std::vector<uint32_t> c = d_counters.download();
      counters_after.insert(counters_after.end(), c.begin(), c.end());
    }
  }
  if (counters) {
    const std::vector<uint32_t> all_zero(counters_after.size(), 0u);
    expect_untouched(name + " split counters back to 0", counters_after, all_zero);
  }
  return result;
}

std::vector<float> cpu_attention_reference(const AttentionProblem& pr) {
  const std::vector<float> q = bf16_to_f32(pr.q);
  const std::vector<float> pool = bf16_to_f32(pr.pool);
  KvPoolView kv;
  kv.values = pool;
  kv.block_elems = pr.block_elems;
  kv.block_tokens = pr.block_tokens;
  kv.n_kv_heads = pr.n_kv_heads;
  kv.head_dim = pr.head_dim;
  kv.layer = pr.layer;
  std::vector<float> out(q.size());
  cpu_attention(q, kv, pr.seqs, pr.n_heads, out);
  return out;
}

int device_sms() {
  int device = 0, sms = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "multiprocessor count");
  return sms;
}

std::string describe(const std::vector<std::pair<int, int>>& seqs) {
  std::string s;
  for (auto [start, n_q] : seqs) s += (s.empty() ? "" : " ") + std::to_string(start) + "+" + std::to_string(n_q);
  return s;
}

}  // namespace tandem::gpu_ops
