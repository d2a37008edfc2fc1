#include "common/engine_tuning.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/config.h"

namespace tandem {
namespace {

// An environment made of `vars`, nothing else set.
EnvLookup env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

EngineTuning with_env(std::map<std::string, std::string> vars) {
  EngineTuning t;
  apply_tuning_environment(t, env(std::move(vars)));
  return t;
}

std::string error_of(std::map<std::string, std::string> vars) {
  try {
    with_env(std::move(vars));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(EngineTuning, NoVariablesChangeNothing) {
  const EngineTuning t = with_env({{"TANDEM_OTHER", "1"}});
  EXPECT_EQ(t.cuda, CudaTuning{});
  EXPECT_EQ(t.cpu, CpuTuning{});
  EXPECT_TRUE(t.from_environment.empty());
}

TEST(EngineTuning, EachVariableSetsItsField) {
  const EngineTuning t = with_env({{"TANDEM_CUDA_PDL", "0"},
                                   {"TANDEM_CUDA_ATTN_PDL", "on"},
                                   {"TANDEM_ATTN_SM90", "0"},
                                   {"TANDEM_ATTN_SM90_TMA", "off"},
                                   {"TANDEM_GEMM_TUNE", "1"},
                                   {"TANDEM_CPU_KERNELS", "portable"}});
  EXPECT_FALSE(t.cuda.pdl);
  EXPECT_EQ(t.cuda.attention_pdl, Toggle::kOn);
  EXPECT_EQ(t.cuda.prefill_sm90, KernelPath::kOff);
  EXPECT_EQ(t.cuda.prefill_sm90_tma, KernelPath::kOff);
  EXPECT_TRUE(t.cuda.gemm_autotune);
  EXPECT_EQ(t.cpu.kernels, CpuKernels::kPortable);
  EXPECT_EQ(t.from_environment, (std::vector<std::string>{"TANDEM_CUDA_PDL=0", "TANDEM_CUDA_ATTN_PDL=on",
                                                          "TANDEM_ATTN_SM90=0", "TANDEM_ATTN_SM90_TMA=off",
                                                          "TANDEM_GEMM_TUNE=1", "TANDEM_CPU_KERNELS=portable"}));
}

TEST(EngineTuning, AcceptedSpellings) {
  for (const char* v : {"1", "true", "on"}) {
    EngineTuning t;
    t.cuda.pdl = false;
    apply_tuning_environment(t, env({{"TANDEM_CUDA_PDL", v}}));
    EXPECT_TRUE(t.cuda.pdl) << v;
    EXPECT_TRUE(with_env({{"TANDEM_GEMM_TUNE", v}}).cuda.gemm_autotune) << v;
  }
  for (const char* v : {"0", "false", "off"}) {
    EXPECT_FALSE(with_env({{"TANDEM_CUDA_PDL", v}}).cuda.pdl) << v;
  }
  EXPECT_EQ(with_env({{"TANDEM_CUDA_ATTN_PDL", "1"}}).cuda.attention_pdl, Toggle::kOn);
  EXPECT_EQ(with_env({{"TANDEM_CUDA_ATTN_PDL", "0"}}).cuda.attention_pdl, Toggle::kOff);
  EXPECT_EQ(with_env({{"TANDEM_CUDA_ATTN_PDL", "auto"}}).cuda.attention_pdl, Toggle::kAuto);
  EXPECT_EQ(with_env({{"TANDEM_ATTN_SM90", "1"}}).cuda.prefill_sm90, KernelPath::kAuto);
  EXPECT_EQ(with_env({{"TANDEM_ATTN_SM90_TMA", "auto"}}).cuda.prefill_sm90_tma, KernelPath::kAuto);
  EXPECT_EQ(with_env({{"TANDEM_CPU_KERNELS", "auto"}}).cpu.kernels, CpuKernels::kAuto);
}

TEST(EngineTuning, EnvironmentWinsOverTheConfigFile) {
  Config c = parse_config("[engine.cuda]\npdl = false\nprefill_sm90 = \"off\"\n", "t.toml");
  apply_tuning_environment(c.engine.tuning, env({{"TANDEM_CUDA_PDL", "1"}}));
  EXPECT_TRUE(c.engine.tuning.cuda.pdl);
  EXPECT_EQ(c.engine.tuning.cuda.prefill_sm90, KernelPath::kOff);  // not in the environment: the file's value
}

TEST(EngineTuning, EmptyValueCountsAsUnset) {
  const EngineTuning t = with_env({{"TANDEM_CUDA_PDL", ""}, {"TANDEM_CPU_KERNELS", ""}});
  EXPECT_TRUE(t.cuda.pdl);
  EXPECT_TRUE(t.from_environment.empty());
}

TEST(EngineTuning, BadValuesNameTheVariableAndTheChoices) {
  EXPECT_EQ(error_of({{"TANDEM_CUDA_PDL", "early"}}),
            "environment variable TANDEM_CUDA_PDL: expected one of 1 0 true false on off, got \"early\"");
  EXPECT_EQ(error_of({{"TANDEM_CUDA_ATTN_PDL", "2"}}),
            "environment variable TANDEM_CUDA_ATTN_PDL: expected one of auto on off 1 0, got \"2\"");
  EXPECT_EQ(error_of({{"TANDEM_ATTN_SM90", "on"}}),
            "environment variable TANDEM_ATTN_SM90: expected one of auto off 1 0, got \"on\"");
  EXPECT_NE(error_of({{"TANDEM_ATTN_SM90_TMA", "yes"}}).find("TANDEM_ATTN_SM90_TMA"), std::string::npos);
  EXPECT_NE(error_of({{"TANDEM_GEMM_TUNE", "2"}}).find("TANDEM_GEMM_TUNE"), std::string::npos);
  EXPECT_EQ(error_of({{"TANDEM_CPU_KERNELS", "avx2"}}),
            "environment variable TANDEM_CPU_KERNELS: expected one of auto portable, got \"avx2\"");
}

TEST(EngineTuning, DescribeUsesConfigFileWords) {
  EXPECT_EQ(describe(CudaTuning{}),
            "pdl=true attention_pdl=auto prefill_sm90=auto prefill_sm90_tma=auto gemm_autotune=false");
  CudaTuning t;
  t.pdl = false;
  t.attention_pdl = Toggle::kOff;
  t.prefill_sm90_tma = KernelPath::kOff;
  t.gemm_autotune = true;
  EXPECT_EQ(describe(t), "pdl=false attention_pdl=off prefill_sm90=auto prefill_sm90_tma=off gemm_autotune=true");
  EXPECT_EQ(describe(CpuTuning{}), "kernels=auto");
  EXPECT_EQ(describe(CpuTuning{CpuKernels::kPortable}), "kernels=portable");
}

TEST(EngineTuning, NamesRoundTrip) {
  for (Toggle v : {Toggle::kAuto, Toggle::kOn, Toggle::kOff}) EXPECT_EQ(toggle_from_name(tuning_name(v)), v);
  for (KernelPath v : {KernelPath::kAuto, KernelPath::kOff}) EXPECT_EQ(kernel_path_from_name(tuning_name(v)), v);
  for (CpuKernels v : {CpuKernels::kAuto, CpuKernels::kPortable}) {
    EXPECT_EQ(cpu_kernels_from_name(tuning_name(v)), v);
  }
  EXPECT_FALSE(toggle_from_name("early").has_value());
}

}  // namespace
}  // namespace tandem
