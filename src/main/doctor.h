// `tandem doctor`: checks what serving needs and prints one line per check
// ("ok", "warn" or "problem", with the fix for problems). Returns the process
// exit status: 0 when nothing is a problem, 1 otherwise.
#pragma once

#include "common/config.h"

namespace tandem {

int run_doctor(const Config& config, const std::string& config_path);

}  // namespace tandem
