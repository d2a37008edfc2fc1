// Prefill paged attention against CpuRunner::attention's math (cpu_attention): the multi-row mma.sync
// kernel of paged_attention.h and, on an sm_90 device, the wgmma kernel of prefill_attention_sm90.h (head_dim
// 128 with 128- or 256-row tiles; every case line names the kernel that ran, and on sm_90 a case meant for
// the wgmma kernel fails if it was not chosen). Each case runs three ways: as configured by default, with the
// wgmma kernel's cp.async loads instead of TMA (prefill_sm90_tma off), and with the wgmma kernel off
// (prefill_sm90 off: the mma.sync kernel on every device). Causal prefill from position 0, chunked prefill over cached
// blocks mixed with decode-sized sequences in one launch, split-KV with the combine pass; every tiling;
// block sizes 16 (the wgmma kernel's TMA loads), 12 (not a power of two: its cp.async gather) and 32; and
// StepPlan's own plan of a larger mixed step for the device.
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "gpu/ops/attention_setup.h"
#include "gpu/ops/model_shapes.h"

namespace tandem::gpu_ops {
namespace {

using engine::cuda::PrefillTiling;

const std::vector<std::pair<int, int>> kCausal = {{0, 300}};
const std::vector<std::pair<int, int>> kChunkedMixed = {{700, 333}, {500, 1}, {0, 70}, {37, 2}};
const std::vector<std::pair<int, int>> kChunkedSplit = {{900, 250}, {0, 129}};
const std::vector<std::pair<int, int>> kPlannedStep = {{0, 1000}, {700, 333}, {40, 1}};

struct PrefillCase {
  Model model;
  const char* scenario;
  const std::vector<std::pair<int, int>>* seqs;
  int block_tokens;
  PrefillTiling tiling;
  int n_splits;  // 0: StepPlan's own plan (tiling and splits) for this device
  std::string label() const {
    std::string l = std::string(model_name(model)) + ".prefill_" + scenario + "_block" + std::to_string(block_tokens);
    if (n_splits == 0) return l + "_planned";
    return l + "_tiling" + std::to_string(static_cast<int>(tiling)) + "_splits" + std::to_string(n_splits);
  }
};

void PrintTo(const PrefillCase& c, std::ostream* os) { *os << c.label(); }

// Case table, per model: the three scenarios under every tiling (64-row tiles: kWarps4Rows16; 128: 8Rows16,
// 4Rows32; 256: 8Rows32), the chunked mix with blocks of 12 and 32, and StepPlan's plan.
std::vector<PrefillCase> prefill_cases() {
  const PrefillTiling tilings[] = {PrefillTiling::kWarps4Rows16, PrefillTiling::kWarps8Rows16,
                                   PrefillTiling::kWarps4Rows32, PrefillTiling::kWarps8Rows32};
  std::vector<PrefillCase> cases;
  for (Model m : kModels) {
    for (PrefillTiling t : tilings) {
      cases.push_back({m, "causal300", &kCausal, 16, t, 1});
      cases.push_back({m, "chunked_mixed", &kChunkedMixed, 16, t, 1});
      cases.push_back({m, "chunked_split", &kChunkedSplit, 16, t, 3});
    }
    cases.push_back({m, "chunked_mixed", &kChunkedMixed, 12, PrefillTiling::kWarps4Rows32, 1});
    cases.push_back({m, "chunked_mixed", &kChunkedMixed, 32, PrefillTiling::kWarps8Rows32, 2});
    cases.push_back({m, "step", &kPlannedStep, 16, PrefillTiling::kWarps4Rows16, 0});
  }
  return cases;
}

// Whether this device can run the wgmma kernel (sm_90).
bool device_is_sm90() {
  int device = 0, major = 0, minor = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "compute capability");
  check_cuda(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "compute capability");
  return major == 9 && minor == 0;
}

// The kernel choices each case runs under (engine tuning's prefill_sm90 / prefill_sm90_tma).
struct KernelVariant {
  const char* name;
  bool allow_sm90;
  bool allow_sm90_tma;
};
constexpr KernelVariant kVariants[] = {
    {"default", true, true}, {"sm90_cp_async", true, false}, {"sm90_off", false, true}};

class PrefillAttentionCheck : public OpTest<PrefillCase> {};

TEST_P(PrefillAttentionCheck, MatchesCpuAttention) {
  const PrefillCase& c = GetParam();
  const engine::ModelSpec& spec = model_spec(c.model);
  const AttentionProblem pr = make_attention_problem(spec, *c.seqs, c.block_tokens, seed_of(c.label()));
  const AttentionPlan plan = c.n_splits == 0 ? plan_attention_as_runner(pr, spec, device_sms())
                                             : plan_attention(pr, false, c.tiling, c.n_splits);
  ASSERT_FALSE(plan.key_split) << "StepPlan planned this prefill step with the decode kernel";
  const std::string name = c.label() + " [" + std::to_string(spec.n_heads) + "/" + std::to_string(spec.n_kv_heads) +
                           "x" + std::to_string(spec.head_dim) + ", " + std::to_string(pr.n_tokens) + " tokens, " +
                           std::to_string(engine::cuda::prefill_tile_rows(plan.tiling)) + "-row tiles, splits " +
                           std::to_string(plan.n_splits);
  const bool wants_sm90 = spec.head_dim == 128 && plan.tiling != PrefillTiling::kWarps4Rows16;
  const std::vector<float> want = cpu_attention_reference(pr);
  for (const KernelVariant& v : kVariants) {
    AttentionRun run;
    run.allow_sm90 = v.allow_sm90;
    run.allow_sm90_tma = v.allow_sm90_tma;
    const std::string vname = name + ", " + v.name;
    const AttentionResult res = run_paged_attention(pr, plan, run, vname);
    if (wants_sm90 && device_is_sm90()) {
      EXPECT_EQ(res.sm90, v.allow_sm90) << vname << ": wgmma kernel chosen " << res.sm90 << ", allowed "
                                        << v.allow_sm90;
    } else {
      EXPECT_FALSE(res.sm90) << vname << ": the wgmma kernel ran where it does not apply";
    }
    expect_close(vname + (res.sm90 ? ", wgmma-sm90]" : ", mma.sync]"), res.outputs[0], want,
                 static_cast<size_t>(pr.head_dim), kAttention);
  }
}

INSTANTIATE_TEST_SUITE_P(PrefillAttention, PrefillAttentionCheck, ::testing::ValuesIn(prefill_cases()),
                         [](const ::testing::TestParamInfo<PrefillCase>& info) {
                           return test_name(info.param.label());
                         });

}  // namespace
}  // namespace tandem::gpu_ops
