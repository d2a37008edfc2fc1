// Engine tuning: the switches that choose between kernels computing the same
// result (up to float rounding). Built once at start-up: the config's
// [engine.cuda] and [engine.cpu] tables (config.h), then the environment
// overrides (apply_tuning_environment, the only place that reads them).
// `tandem serve` logs it and `tandem doctor` prints it; the backends get
// their part through their runner options and pass plain fields down to the
// kernels, so a test sets a field instead of the environment.
//
// Defaults are the measured-fastest choices; the others are
// safety switches and let checks and benchmarks run the fallback kernels.
//
// Threads: plain data; the functions are pure except the getenv overload.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

// Forced on, forced off, or the engine's own rule.
enum class Toggle : uint8_t { kAuto, kOn, kOff };
// A kernel path taken wherever it applies (device, shapes), or never.
enum class KernelPath : uint8_t { kAuto, kOff };
// The CPU backend's kernel table.
enum class CpuKernels : uint8_t {
  kAuto,      // AVX2/FMA/F16C where the CPU has them, else portable
  kPortable,  // the portable table, the reference (other summation order than AVX2)
};

struct CudaTuning {
  // pdl (TANDEM_CUDA_PDL): programmatic dependent launch of the decode path's
  // kernels on sm_90+ (each starts while its predecessor finishes); false is a
  // safety switch.
  bool pdl = true;
  // attention_pdl (TANDEM_CUDA_ATTN_PDL): decode attention launched with PDL
  // too; auto = when a layer's weights are under 128 MiB, where it was
  // measured to pay (it costs where the products stream at full bandwidth).
  Toggle attention_pdl = Toggle::kAuto;
  // prefill_sm90 (TANDEM_ATTN_SM90): the wgmma prefill attention kernel
  // (sm_90, head_dim 128, 128/256-row tiles); off = mma.sync everywhere.
  KernelPath prefill_sm90 = KernelPath::kAuto;
  // prefill_sm90_tma (TANDEM_ATTN_SM90_TMA): that kernel's TMA producer where
  // the KV layout allows; off = its cp.async gather.
  KernelPath prefill_sm90_tma = KernelPath::kAuto;
  // gemm_autotune (TANDEM_GEMM_TUNE): time cuBLASLt's candidate algorithms on
  // a product shape's first use and keep the fastest (~0.1 s per 8K-token 8B
  // product); logits may then differ in the last bits between processes.
  bool gemm_autotune = false;

  bool operator==(const CudaTuning&) const = default;
};

struct CpuTuning {
  CpuKernels kernels = CpuKernels::kAuto;  // kernels (TANDEM_CPU_KERNELS)

  bool operator==(const CpuTuning&) const = default;
};

struct EngineTuning {
  CudaTuning cuda;  // [engine.cuda]
  CpuTuning cpu;    // [engine.cpu]
  // "NAME=value" of each environment override apply_tuning_environment took.
  std::vector<std::string> from_environment;
};

// Names as the config file and the summaries write them, and back.
const char* tuning_name(Toggle t);      // auto | on | off
const char* tuning_name(KernelPath p);  // auto | off
const char* tuning_name(CpuKernels k);  // auto | portable
std::optional<Toggle> toggle_from_name(std::string_view name);
std::optional<KernelPath> kernel_path_from_name(std::string_view name);
std::optional<CpuKernels> cpu_kernels_from_name(std::string_view name);

// Returns a variable's value, or nullptr when it is unset.
using EnvLookup = std::function<const char*(const char* name)>;

// Applies the environment's overrides to `tuning` and records each in
// from_environment. Variables and values:
//   TANDEM_CUDA_PDL, TANDEM_GEMM_TUNE          1 0 true false on off
//   TANDEM_CUDA_ATTN_PDL                       auto on off 1 0
//   TANDEM_ATTN_SM90, TANDEM_ATTN_SM90_TMA     auto off 1 (= auto) 0 (= off)
//   TANDEM_CPU_KERNELS                         auto portable
// An empty value counts as unset. Throws ConfigError naming the variable and
// the accepted values on anything else.
void apply_tuning_environment(EngineTuning& tuning, const EnvLookup& lookup);
// The same with the process environment: called once at start-up by `tandem`
// (serve, doctor) and by the tools that build runners themselves.
void apply_tuning_environment(EngineTuning& tuning);

// One-line summaries as key=value pairs in config-file words:
// "pdl=true attention_pdl=auto prefill_sm90=auto prefill_sm90_tma=auto gemm_autotune=false", "kernels=auto".
std::string describe(const CudaTuning& t);
std::string describe(const CpuTuning& t);

}  // namespace tandem
