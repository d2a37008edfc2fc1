// tandem: entry point. Parses the command line, builds the Config, and runs a
// command. Start-up and config errors are reported here, once: one line on
// stderr and exit status 2.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/engine_tuning.h"
#include "common/logging.h"
#include "main/cli.h"
#include "main/doctor.h"
#include "main/serve.h"

namespace {

constexpr int kExitConfigError = 2;
constexpr const char* kSystemConfig = "/etc/tandem/tandem.toml";

void print_version() {
  std::printf("tandem %s\n", TANDEM_VERSION);
#ifdef TANDEM_HAVE_CUDA
  std::printf("backends: cpu cuda\n");
#else
  std::printf("backends: cpu\n");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tandem;
  std::vector<std::string> args(argv + 1, argv + argc);
  cli::CliOptions options;
  Config config;
  try {
    options = cli::parse_args(args);
    if (options.command == cli::Command::kHelp) {
      std::fputs(cli::usage(), stdout);
      return args.empty() ? kExitConfigError : 0;
    }
    if (options.command == cli::Command::kVersion) {
      print_version();
      return 0;
    }
    if (options.config_path.empty() && options.command == cli::Command::kDoctor &&
        std::filesystem::exists(kSystemConfig)) {
      options.config_path = kSystemConfig;
    }
    if (!options.config_path.empty()) config = load_config_file(options.config_path);
    apply_overrides(config, options.overrides);
    apply_tuning_environment(config.engine.tuning);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "tandem: %s\n", e.what());
    return kExitConfigError;
  }

  setup_logging(config.log.level, config.log.format);
  try {
    switch (options.command) {
      case cli::Command::kServe: return run_serve(config);
      case cli::Command::kDoctor: return run_doctor(config, options.config_path);
      case cli::Command::kVersion:
      case cli::Command::kHelp: return 0;
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "tandem: %s\n", e.what());
    return kExitConfigError;
  } catch (const std::exception& e) {
    spdlog::critical("[main] fatal: {}", e.what());
    return 1;
  }
  return 0;
}
