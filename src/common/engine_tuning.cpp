#include "common/engine_tuning.h"

#include <cstdlib>
#include <initializer_list>

#include "common/config.h"

namespace tandem {
namespace {

template <class T>
struct EnvValue {
  const char* text;
  T value;
};

const std::initializer_list<EnvValue<bool>> kBoolValues = {{"1", true},      {"0", false}, {"true", true},
                                                           {"false", false}, {"on", true}, {"off", false}};

// Sets `field` from variable `var` when it is set and not empty.
template <class T>
void apply_one(const EnvLookup& lookup, const char* var, std::initializer_list<EnvValue<T>> values, T& field,
               std::vector<std::string>& applied) {
  const char* v = lookup(var);
  if (v == nullptr || *v == '\0') return;
  for (const EnvValue<T>& e : values) {
    if (std::string_view(v) == e.text) {
      field = e.value;
      applied.push_back(std::string(var) + "=" + v);
      return;
    }
  }
  std::string expected;
  for (const EnvValue<T>& e : values) expected += std::string(" ") + e.text;
  throw ConfigError(std::string("environment variable ") + var + ": expected one of" + expected + ", got \"" + v +
                    "\"");
}

const char* bool_name(bool b) { return b ? "true" : "false"; }

}  // namespace

const char* tuning_name(Toggle t) {
  switch (t) {
    case Toggle::kAuto: return "auto";
    case Toggle::kOn: return "on";
    case Toggle::kOff: return "off";
  }
  return "?";
}

const char* tuning_name(KernelPath p) {
  switch (p) {
    case KernelPath::kAuto: return "auto";
    case KernelPath::kOff: return "off";
  }
  return "?";
}

const char* tuning_name(CpuKernels k) {
  switch (k) {
    case CpuKernels::kAuto: return "auto";
    case CpuKernels::kPortable: return "portable";
  }
  return "?";
}

std::optional<Toggle> toggle_from_name(std::string_view name) {
  for (Toggle t : {Toggle::kAuto, Toggle::kOn, Toggle::kOff}) {
    if (name == tuning_name(t)) return t;
  }
  return std::nullopt;
}

std::optional<KernelPath> kernel_path_from_name(std::string_view name) {
  for (KernelPath p : {KernelPath::kAuto, KernelPath::kOff}) {
    if (name == tuning_name(p)) return p;
  }
  return std::nullopt;
}

std::optional<CpuKernels> cpu_kernels_from_name(std::string_view name) {
  for (CpuKernels k : {CpuKernels::kAuto, CpuKernels::kPortable}) {
    if (name == tuning_name(k)) return k;
  }
  return std::nullopt;
}

void apply_tuning_environment(EngineTuning& tuning, const EnvLookup& lookup) {
  std::vector<std::string>& applied = tuning.from_environment;
  CudaTuning& cuda = tuning.cuda;
  apply_one(lookup, "TANDEM_CUDA_PDL", kBoolValues, cuda.pdl, applied);
  apply_one<Toggle>(
      lookup, "TANDEM_CUDA_ATTN_PDL",
      {{"auto", Toggle::kAuto}, {"on", Toggle::kOn}, {"off", Toggle::kOff}, {"1", Toggle::kOn}, {"0", Toggle::kOff}},
      cuda.attention_pdl, applied);
  const std::initializer_list<EnvValue<KernelPath>> paths = {
      {"auto", KernelPath::kAuto}, {"off", KernelPath::kOff}, {"1", KernelPath::kAuto}, {"0", KernelPath::kOff}};
  apply_one(lookup, "TANDEM_ATTN_SM90", paths, cuda.prefill_sm90, applied);
  apply_one(lookup, "TANDEM_ATTN_SM90_TMA", paths, cuda.prefill_sm90_tma, applied);
  apply_one(lookup, "TANDEM_GEMM_TUNE", kBoolValues, cuda.gemm_autotune, applied);
  apply_one<CpuKernels>(lookup, "TANDEM_CPU_KERNELS",
                        {{"auto", CpuKernels::kAuto}, {"portable", CpuKernels::kPortable}}, tuning.cpu.kernels,
                        applied);
}

void apply_tuning_environment(EngineTuning& tuning) {
  apply_tuning_environment(tuning, [](const char* name) -> const char* { return std::getenv(name); });
}

std::string describe(const CudaTuning& t) {
  return std::string("pdl=") + bool_name(t.pdl) + " attention_pdl=" + tuning_name(t.attention_pdl) +
         " prefill_sm90=" + tuning_name(t.prefill_sm90) + " prefill_sm90_tma=" + tuning_name(t.prefill_sm90_tma) +
         " gemm_autotune=" + bool_name(t.gemm_autotune);
}

std::string describe(const CpuTuning& t) { return std::string("kernels=") + tuning_name(t.kernels); }

}  // namespace tandem
