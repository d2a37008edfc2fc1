// Shared by the decode and prefill attention checks: a paged-attention
// problem on the host, its launch metadata (tiles as StepPlan lays them out,
// or StepPlan's own plan), one device run, and the CPU twin's answer.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/cuda/paged_attention.h"
#include "engine/model_spec.h"
#include "gpu/ops/cpu_twins.h"
#include "gpu/ops/op_check.h"

namespace tandem::gpu_ops {

// Bounds per (token, head) row of head_dim outputs.
inline constexpr Tolerance kAttention{
    1.2e-2, 6e-3,
    "same bf16 Q, K, V; the GPU rounds P to bf16 for P.V (<= 2^-8 relative per weight), runs an online fp32 "
    "softmax (exp2, scale folded) and rounds the output to bf16"};

// Sequences (start_pos, new tokens) over a pool of shuffled blocks, two layers (the op reads layer 1), random
// Q and K/V (scores of standard deviation ~1.7: some rows peaked, some flat); pool slots no sequence owns
// (past each context in its last block, three spare blocks) hold NaN, so reading them fails the check.
struct AttentionProblem {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int block_tokens = 0;
  int layer = 1;
  int64_t block_elems = 0;
  int n_blocks = 0;
  int n_tokens = 0;
  std::vector<SeqRef> seqs;
  std::vector<uint16_t> q;     // bf16 [n_tokens, n_heads, head_dim]
  std::vector<uint16_t> pool;  // bf16 [n_blocks * block_elems]
};
AttentionProblem make_attention_problem(const engine::ModelSpec& spec, const std::vector<std::pair<int, int>>& seqs,
                                        int block_tokens, uint64_t seed);

// The launch's metadata and shape.
struct AttentionPlan {
  std::vector<engine::cuda::AttnSeq> seqs;
  std::vector<engine::cuda::AttnTile> tiles;
  std::vector<int32_t> tables;
  bool key_split = false;
  engine::cuda::PrefillTiling tiling = engine::cuda::PrefillTiling::kWarps4Rows16;
  int n_splits = 1;
};
// Tiles of 16 rows (key_split) or of the tiling's rows, per sequence the last rows first and every KV head,
// as StepPlan::build lays them out; the split count as given.
AttentionPlan plan_attention(const AttentionProblem& pr, bool key_split, engine::cuda::PrefillTiling tiling,
                             int n_splits);
// StepPlan::build's own plan of the same sequences (key split, tiling and split count chosen for `sms`
// multiprocessors, the runner's split-KV workspace).
AttentionPlan plan_attention_as_runner(const AttentionProblem& pr, const engine::ModelSpec& spec, int sms);

struct AttentionRun {
  engine::cuda::PdlMode pdl = engine::cuda::PdlMode::kOff;  // key_split only
  bool allow_sm90 = true;                                   // prefill: the wgmma kernel where it applies
  bool allow_sm90_tma = true;                               // prefill: its TMA loads where the layout allows
  int launches = 1;  // > 1: the same metadata and split counters again (as a replayed decode graph)
};

struct AttentionResult {
  std::vector<std::vector<float>> outputs;  // per launch, [n_tokens, n_heads, head_dim]
  bool sm90 = false;                        // prefill_sm90_applies: the wgmma kernel ran
};
// Runs the plan (output poisoned with NaN before each launch). With decode split-KV, also checks (a case
// named `name` + " split counters back to 0") that the per-tile arrival counters are 0 after every launch.
AttentionResult run_paged_attention(const AttentionProblem& pr, const AttentionPlan& plan, const AttentionRun& run,
                                    const std::string& name);

// The CPU twin (cpu_attention) on the problem's values.
std::vector<float> cpu_attention_reference(const AttentionProblem& pr);

// Multiprocessors of the current device.
int device_sms();

std::string describe(const std::vector<std::pair<int, int>>& seqs);  // "(start_pos+n_q) ..." for case names

}  // namespace tandem::gpu_ops
