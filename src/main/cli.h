// Command-line parsing for `tandem`: a subcommand and its flags. Flags
// override the config file (common/config.h).
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace tandem::cli {

enum class Command { kServe, kDoctor, kVersion, kHelp };

struct CliOptions {
  Command command = Command::kHelp;
  std::string config_path;  // --config; "" = defaults (or /etc/tandem/tandem.toml when present for doctor)
  ConfigOverrides overrides;
};

// Throws ConfigError with a one-line message on a bad command line.
CliOptions parse_args(const std::vector<std::string>& args);

const char* usage();

}  // namespace tandem::cli
