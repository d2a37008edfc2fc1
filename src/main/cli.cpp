#include "main/cli.h"

#include <charconv>

namespace tandem::cli {
namespace {

int parse_port(const std::string& v) {
  int port = -1;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
  if (ec != std::errc() || ptr != v.data() + v.size() || port < 0 || port > 65535) {
    throw ConfigError("--port: expected an integer in 0..65535, got \"" + v + "\"");
  }
  return port;
}

}  // namespace

const char* usage() {
  return "usage: tandem <command> [options]\n"
         "\n"
         "commands:\n"
         "  serve     start the OpenAI-compatible server\n"
         "  doctor    check the driver, GPUs, config, model file, port and state directory\n"
         "  version   print the version and build features\n"
         "\n"
         "options (serve, doctor):\n"
         "  --config FILE              TOML configuration (see /etc/tandem/tandem.toml)\n"
         "  --model PATH               .gguf file or Hugging Face model directory\n"
         "  --host HOST                address to listen on\n"
         "  --port PORT                port to listen on (0 = any free port)\n"
         "  --backend auto|cpu|cuda    engine backend\n"
         "  --log-level LEVEL          trace|debug|info|warn|error|off\n";
}

CliOptions parse_args(const std::vector<std::string>& args) {
  CliOptions o;
  if (args.empty()) return o;
  const std::string& cmd = args[0];
  if (cmd == "serve") o.command = Command::kServe;
  else if (cmd == "doctor") o.command = Command::kDoctor;
  else if (cmd == "version" || cmd == "--version") o.command = Command::kVersion;
  else if (cmd == "help" || cmd == "--help" || cmd == "-h") return o;
  else throw ConfigError("unknown command \"" + cmd + "\" (expected serve, doctor or version)");

  for (size_t i = 1; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_inline = false;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_inline = true;
    }
    if (flag == "--help" || flag == "-h") {
      o.command = Command::kHelp;
      return o;
    }
    static const char* kWithValue[] = {"--config", "--model", "--host", "--port", "--backend",
                                       "--log-level"};
    bool known = false;
    for (const char* f : kWithValue) known |= flag == f;
    if (!known) throw ConfigError("unknown option \"" + args[i] + "\"");
    if (!has_inline) {
      if (i + 1 >= args.size()) throw ConfigError(flag + ": expected a value");
      value = args[++i];
    }
    if (flag == "--config") o.config_path = value;
    else if (flag == "--model") o.overrides.model_path = value;
    else if (flag == "--host") o.overrides.host = value;
    else if (flag == "--port") o.overrides.port = parse_port(value);
    else if (flag == "--backend") o.overrides.backend = value;
    else if (flag == "--log-level") o.overrides.log_level = value;
  }
  return o;
}

}  // namespace tandem::cli
