// `tandem serve` whose workers' KV transfers fail now and then, for
// tests/e2e/test_disaggregation.py (issue 21: a failed transfer makes the
// decode worker prefill the request itself; outputs do not change).
//
//   disagg_fault_serve serve --config FILE [--model PATH] [--host H] [--port P]
//
// TANDEM_TEST_FAIL_IMPORT_EVERY=N makes every Nth Runner::import_blocks of
// each worker fail with kDevice before copying anything, and
// TANDEM_TEST_FAIL_EXPORT_EVERY=N every Nth export_blocks; everything else is
// the real server (run_serve with a runner wrapper, as cuda_fault_serve does).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "common/config.h"
#include "common/engine_tuning.h"
#include "common/logging.h"
#include "engine/runner.h"
#include "main/serve.h"

namespace {

using tandem::ErrorKind;
using tandem::Status;

class FailingTransferRunner final : public tandem::engine::Runner {
 public:
  FailingTransferRunner(std::unique_ptr<tandem::engine::Runner> inner, int fail_import_every, int fail_export_every)
      : inner_(std::move(inner)), fail_import_every_(fail_import_every), fail_export_every_(fail_export_every) {}

  const tandem::engine::ModelSpec& spec() const override { return inner_->spec(); }
  int block_tokens() const override { return inner_->block_tokens(); }
  int num_blocks() const override { return inner_->num_blocks(); }
  size_t block_bytes() const override { return inner_->block_bytes(); }
  Status step(const tandem::engine::StepBatch& batch, std::vector<float>& logits) override {
    return inner_->step(batch, logits);
  }
  Status step_and_sample(const tandem::engine::StepBatch& batch, std::span<const tandem::engine::SampleRow> rows,
                         std::vector<tandem::engine::SampledToken>& out,
                         const tandem::engine::BeforeSampling& hook) override {
    return inner_->step_and_sample(batch, rows, out, hook);
  }
  Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) override {
    return inner_->copy_blocks(src, dst);
  }
  Status export_blocks(std::span<const int32_t> ids, std::span<std::byte> out) override {
    if (fail_export_every_ > 0 && ++exports_ % fail_export_every_ == 0) {
      spdlog::warn("[test] failing KV export {}", exports_);
      return Status(ErrorKind::kDevice, "injected KV export fault");
    }
    return inner_->export_blocks(ids, out);
  }
  Status import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in) override {
    if (fail_import_every_ > 0 && ++imports_ % fail_import_every_ == 0) {
      spdlog::warn("[test] failing KV import {}", imports_);
      return Status(ErrorKind::kDevice, "injected KV import fault");
    }
    return inner_->import_blocks(ids, in);
  }

 private:
  std::unique_ptr<tandem::engine::Runner> inner_;
  int fail_import_every_;
  int fail_export_every_;
  int imports_ = 0;
  int exports_ = 0;
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "serve") {
    std::fprintf(stderr, "usage: disagg_fault_serve serve --config FILE [--model PATH] [--host H] [--port P]\n");
    return 2;
  }
  std::string config_path;
  tandem::ConfigOverrides overrides;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--config") {
      config_path = value;
    } else if (flag == "--model") {
      overrides.model_path = value;
    } else if (flag == "--host") {
      overrides.host = value;
    } else if (flag == "--port") {
      overrides.port = std::atoi(value.c_str());
    } else {
      std::fprintf(stderr, "disagg_fault_serve: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const int fail_import_every = env_int("TANDEM_TEST_FAIL_IMPORT_EVERY");
  const int fail_export_every = env_int("TANDEM_TEST_FAIL_EXPORT_EVERY");
  try {
    tandem::Config config = config_path.empty() ? tandem::Config{} : tandem::load_config_file(config_path);
    tandem::apply_overrides(config, overrides);
    tandem::apply_tuning_environment(config.engine.tuning);
    tandem::setup_logging(config.log.level, config.log.format);
    tandem::ServeHooks hooks;
    hooks.wrap_runner = [=](std::unique_ptr<tandem::engine::Runner> runner) {
      return std::unique_ptr<tandem::engine::Runner>(
          new FailingTransferRunner(std::move(runner), fail_import_every, fail_export_every));
    };
    return tandem::run_serve(config, hooks);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "disagg_fault_serve: %s\n", e.what());
    return 2;
  }
}
