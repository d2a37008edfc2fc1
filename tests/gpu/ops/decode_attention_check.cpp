// Decode paged attention (engine/cuda/paged_attention.h, key_split: 16-row tiles, the 4 warps splitting each
// chunk's keys, split-KV merged in the kernel by the last split to arrive) against CpuRunner::attention's
// math (cpu_attention). Batches of sequences of different lengths (contexts 1..4097, crossing block and
// 64-position chunk boundaries), one and two new tokens each, GQA of every model; unsplit, split (including
// 64 splits, most of them empty at short contexts, as the runner's decode plans have), StepPlan's own plan
// for the device; K/V loads before or after the PDL wait; block sizes 16 and 12. Each case launches twice
// with the same split counters (as a replayed decode graph) and checks both outputs and that the counters
// are back to 0.
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "gpu/ops/attention_setup.h"
#include "gpu/ops/model_shapes.h"

namespace tandem::gpu_ops {
namespace {

using engine::cuda::PdlMode;

// (start_pos, new tokens): contexts 1, 15, 16, 17, 63, 64, 65, 1000, 4097.
const std::vector<std::pair<int, int>> kContexts = {{0, 1},  {14, 1}, {15, 1},  {16, 1},  {62, 1},
                                                    {63, 1}, {64, 1}, {999, 1}, {4096, 1}};
// Two new tokens per sequence (a decode-sized step of 2).
const std::vector<std::pair<int, int>> kTwoTokens = {{30, 2}, {127, 2}, {2000, 2}};

struct DecodeCase {
  Model model;
  const char* scenario;
  const std::vector<std::pair<int, int>>* seqs;
  int block_tokens;
  int n_splits;  // 0: StepPlan's own plan for this device
  PdlMode pdl;
  std::string label() const {
    std::string l = std::string(model_name(model)) + ".decode_" + scenario + "_block" + std::to_string(block_tokens);
    l += n_splits == 0 ? "_planned" : "_splits" + std::to_string(n_splits);
    if (pdl != PdlMode::kOff) l += "_pdl";
    return l;
  }
};

void PrintTo(const DecodeCase& c, std::ostream* os) { *os << c.label(); }

// Case table, per model.
std::vector<DecodeCase> decode_cases() {
  std::vector<DecodeCase> cases;
  for (Model m : kModels) {
    cases.push_back({m, "ctx1-4097", &kContexts, 16, 1, PdlMode::kOff});
    cases.push_back({m, "ctx1-4097", &kContexts, 16, 5, PdlMode::kTriggerAfterWait});
    cases.push_back({m, "ctx1-4097", &kContexts, 16, 64, PdlMode::kTriggerAfterWait});
    cases.push_back({m, "ctx1-4097", &kContexts, 16, 0, PdlMode::kTriggerAfterWait});
    cases.push_back({m, "ctx1-4097", &kContexts, 12, 4, PdlMode::kOff});
    cases.push_back({m, "2tokens", &kTwoTokens, 16, 1, PdlMode::kOff});
    cases.push_back({m, "2tokens", &kTwoTokens, 16, 3, PdlMode::kTriggerAfterWait});
  }
  return cases;
}

class DecodeAttentionCheck : public OpTest<DecodeCase> {};

TEST_P(DecodeAttentionCheck, MatchesCpuAttention) {
  const DecodeCase& c = GetParam();
  const engine::ModelSpec& spec = model_spec(c.model);
  const AttentionProblem pr = make_attention_problem(spec, *c.seqs, c.block_tokens, seed_of(c.label()));
  const AttentionPlan plan = c.n_splits == 0
                                 ? plan_attention_as_runner(pr, spec, device_sms())
                                 : plan_attention(pr, true, engine::cuda::PrefillTiling::kWarps4Rows16, c.n_splits);
  ASSERT_TRUE(plan.key_split) << "StepPlan planned these decodes without the decode kernel";
  AttentionRun run;
  run.pdl = c.pdl;
  run.launches = 2;
  const std::string name = c.label() + " [" + std::to_string(spec.n_heads) + "/" + std::to_string(spec.n_kv_heads) +
                           "x" + std::to_string(spec.head_dim) + ", " + std::to_string(pr.seqs.size()) +
                           " seqs, splits " + std::to_string(plan.n_splits) + "]";
  const AttentionResult res = run_paged_attention(pr, plan, run, name);
  const std::vector<float> want = cpu_attention_reference(pr);
  Comparison all;
  for (size_t i = 0; i < res.outputs.size(); ++i) {
    merge(
        all,
        compare(res.outputs[i], want, static_cast<size_t>(pr.head_dim), kAttention, "launch " + std::to_string(i + 1)),
        kAttention);
  }
  expect_within(name + " x" + std::to_string(run.launches), all, kAttention);
}

INSTANTIATE_TEST_SUITE_P(DecodeAttention, DecodeAttentionCheck, ::testing::ValuesIn(decode_cases()),
                         [](const ::testing::TestParamInfo<DecodeCase>& info) {
                           return test_name(info.param.label());
                         });

}  // namespace
}  // namespace tandem::gpu_ops
