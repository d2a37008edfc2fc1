// `tandem serve` with a device fault injected into every CUDA worker's Nth
// runner step, for tests/gpu/test_cuda_fault.py (issue 5: a device error fails
// the affected requests with a 500, marks the worker unhealthy in /ready and
// /metrics, and never hangs the process).
//
//   cuda_fault_serve --config FILE --fail-at-step N
//
// The config is a normal tandem.toml (backend = "cuda"); everything else is
// the real server: run_serve with a runner wrapper that, on step N, launches a
// kernel writing to an unmapped address and then lets the real runner run, so
// the runner meets the fault through its own CUDA calls.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "common/config.h"
#include "device_fault.h"
#include "engine/runner.h"
#include "main/serve.h"

namespace {

class FaultingRunner final : public tandem::engine::Runner {
 public:
  FaultingRunner(std::unique_ptr<tandem::engine::Runner> inner, int fail_at_step)
      : inner_(std::move(inner)), fail_at_step_(fail_at_step) {}

  const tandem::engine::ModelSpec& spec() const override { return inner_->spec(); }
  int block_tokens() const override { return inner_->block_tokens(); }
  int num_blocks() const override { return inner_->num_blocks(); }
  size_t block_bytes() const override { return inner_->block_bytes(); }

  tandem::Status step(const tandem::engine::StepBatch& batch, std::vector<float>& logits) override {
    maybe_fault();
    return inner_->step(batch, logits);
  }
  tandem::Status step_and_sample(const tandem::engine::StepBatch& batch,
                                 std::span<const tandem::engine::SampleRow> rows,
                                 std::vector<tandem::engine::SampledToken>& out,
                                 const tandem::engine::BeforeSampling& hook) override {
    maybe_fault();
    return inner_->step_and_sample(batch, rows, out, hook);
  }
  tandem::Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) override {
    return inner_->copy_blocks(src, dst);
  }

 private:
  void maybe_fault() {
    if (++steps_ != fail_at_step_) return;
    spdlog::warn("[test] injecting an illegal-address device fault before step {}", steps_);
    if (!tandem::testing::inject_illegal_address_fault()) spdlog::error("[test] the faulting kernel did not launch");
  }

  std::unique_ptr<tandem::engine::Runner> inner_;
  int fail_at_step_;
  int steps_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  int fail_at_step = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--config") {
      config_path = argv[i + 1];
    } else if (flag == "--fail-at-step") {
      fail_at_step = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "cuda_fault_serve: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (config_path.empty() || fail_at_step < 1) {
    std::fprintf(stderr, "usage: cuda_fault_serve --config FILE --fail-at-step N (N >= 1)\n");
    return 2;
  }
  try {
    const tandem::Config config = tandem::load_config_file(config_path);
    tandem::ServeHooks hooks;
    hooks.wrap_runner = [fail_at_step](std::unique_ptr<tandem::engine::Runner> runner) {
      return std::unique_ptr<tandem::engine::Runner>(new FaultingRunner(std::move(runner), fail_at_step));
    };
    return tandem::run_serve(config, hooks);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_fault_serve: %s\n", e.what());
    return 2;
  }
}
