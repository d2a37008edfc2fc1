#include "main/cli.h"

#include <charconv>
#include <cstdlib>

#include <boost/json/parse.hpp>

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

// How a vLLM flag's value becomes TOML.
enum class Value {
  kString,   // one string
  kStrings,  // one or more strings (the flag's following arguments)
  kInt,
  kHumanInt,  // an integer, or vLLM's human-readable form: 32k = 32000, 32K = 32768 (m/M, g/G alike)
  kNumber,
  kTrue,        // no value; sets true
  kFalse,       // no value; sets false
  kJsonObject,  // a JSON object of sampling values -> a TOML inline table
  kNone,        // no value; accepted for compatibility, sets nothing
};

struct VllmFlag {
  const char* flag;
  const char* meta;
  const char* section;
  const char* key;
  Value value;
};

// The flags vLLM users type, each mapped onto the TOML key it sets.
constexpr VllmFlag kVllmFlags[] = {
    {"--served-model-name", "NAME...", "model", "name", Value::kStrings},
    {"--max-model-len", "N", "model", "max_context", Value::kHumanInt},
    {"--chat-template", "FILE", "model", "chat_template", Value::kString},
    {"--tool-call-parser", "NAME", "model", "tool_call_parser", Value::kString},
    {"--enable-auto-tool-choice", "", "", "", Value::kNone},
    {"--reasoning-parser", "NAME", "model", "reasoning_parser", Value::kString},
    {"--generation-config", "auto|vllm|DIR", "model", "generation_config", Value::kString},
    {"--override-generation-config", "JSON", "model", "defaults", Value::kJsonObject},
    {"--gpu-memory-utilization", "F", "engine", "gpu_memory_fraction", Value::kNumber},
    {"--max-num-seqs", "N", "engine", "max_running", Value::kInt},
    {"--max-num-batched-tokens", "N", "engine", "max_batch_tokens", Value::kInt},
    {"--enable-prefix-caching", "", "engine", "enable_prefix_caching", Value::kTrue},
    {"--no-enable-prefix-caching", "", "engine", "enable_prefix_caching", Value::kFalse},
    {"--api-key", "KEY...", "server", "api_keys", Value::kStrings},
};

const VllmFlag* find_vllm_flag(const std::string& flag) {
  for (const auto& f : kVllmFlags) {
    if (flag == f.flag) return &f;
  }
  return nullptr;
}

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out + '"';
}

std::string toml_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i != 0 ? ", " : "") + toml_string(values[i]);
  return out + "]";
}

bool is_int(const std::string& v) {
  long long x = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  return ec == std::errc() && ptr == v.data() + v.size();
}

// vLLM's human_readable_int: "32k" -> 32000, "32K" -> 32768, "1.5m" -> 1500000;
// plain integers pass through. Empty when `v` is neither.
std::string human_int(const std::string& v) {
  if (is_int(v)) return v;
  if (v.size() < 2) return {};
  const std::string number = v.substr(0, v.size() - 1);
  double scale = 0;
  switch (v.back()) {
    case 'k': scale = 1e3; break;
    case 'm': scale = 1e6; break;
    case 'g': scale = 1e9; break;
    case 'K': scale = 1024.0; break;
    case 'M': scale = 1024.0 * 1024; break;
    case 'G': scale = 1024.0 * 1024 * 1024; break;
    default: return {};
  }
  char* end = nullptr;
  const double x = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !(x >= 0) || x * scale > 9e18) return {};
  return std::to_string(static_cast<long long>(x * scale));
}

bool is_number(const std::string& v) {
  if (v.empty()) return false;
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  return end == v.c_str() + v.size() && v.find_first_of("xXnN") == std::string::npos;
}

// vLLM's --override-generation-config JSON ({"temperature": 0.2,
// "max_new_tokens": 256}) as a TOML inline table for [model.defaults].
std::string json_object_to_toml(const std::string& flag, const std::string& text) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) throw ConfigError(flag + ": expected a JSON object, got " + text);
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : v.get_object()) {
    const std::string_view k = key == "max_new_tokens" ? std::string_view("max_tokens") : std::string_view(key);
    std::string number;
    if (value.is_int64())
      number = std::to_string(value.get_int64());
    else if (value.is_uint64())
      number = std::to_string(value.get_uint64());
    else if (value.is_double())
      number = std::to_string(value.get_double());
    else
      throw ConfigError(flag + ": \"" + std::string(key) + "\": expected a number");
    out += (first ? " " : ", ") + toml_string(k) + " = " + number;
    first = false;
  }
  return out + " }";
}

ConfigOverrides::Setting vllm_setting(const VllmFlag& f, const std::vector<std::string>& values) {
  ConfigOverrides::Setting s{f.flag, f.section, f.key, ""};
  const std::string flag = f.flag;
  switch (f.value) {
    case Value::kString: s.toml_value = toml_string(values[0]); break;
    case Value::kStrings: s.toml_value = toml_array(values); break;
    case Value::kInt:
      if (!is_int(values[0])) throw ConfigError(flag + ": expected an integer, got \"" + values[0] + "\"");
      s.toml_value = values[0];
      break;
    case Value::kHumanInt:
      s.toml_value = human_int(values[0]);
      if (s.toml_value.empty()) {
        throw ConfigError(flag + ": expected an integer (or 32k, 32K, ...), got \"" + values[0] + "\"");
      }
      break;
    case Value::kNumber:
      if (!is_number(values[0])) throw ConfigError(flag + ": expected a number, got \"" + values[0] + "\"");
      s.toml_value = values[0];
      break;
    case Value::kTrue: s.toml_value = "true"; break;
    case Value::kFalse: s.toml_value = "false"; break;
    case Value::kJsonObject: s.toml_value = json_object_to_toml(flag, values[0]); break;
    case Value::kNone: break;
  }
  return s;
}

// --served-model-name A B: A is [model] name, the rest [model] aliases.
void add_served_names(ConfigOverrides& o, const std::vector<std::string>& names) {
  o.settings.push_back({"--served-model-name", "model", "name", toml_string(names[0])});
  o.settings.push_back({"--served-model-name", "model", "aliases",
                        toml_array(std::vector<std::string>(names.begin() + 1, names.end()))});
}

}  // namespace

const char* usage() {
  static const std::string text = [] {
    std::string u =
        "usage: tandem <command> [options]\n"
        "\n"
        "commands:\n"
        "  serve [MODEL]  start the OpenAI-compatible server (MODEL: as --model)\n"
        "  doctor         check the driver, GPUs, config, model file, port and state directory\n"
        "  version        print the version and build features\n"
        "\n"
        "options (serve, doctor):\n"
        "  --config FILE                    TOML configuration (see /etc/tandem/tandem.toml)\n"
        "  --model PATH                     [model] path: .gguf file or Hugging Face model directory\n"
        "  --host HOST                      [server] host: address to listen on\n"
        "  --port PORT                      [server] port: port to listen on (0 = any free port)\n"
        "  --backend auto|cpu|cuda          [engine] backend\n"
        "  --log-level LEVEL                [log] level: trace|debug|info|warn|error|off\n"
        "\n"
        "vLLM's flags, each setting the TOML key shown (flags win over the file):\n";
    for (const auto& f : kVllmFlags) {
      std::string left = std::string("  ") + f.flag + (f.meta[0] != '\0' ? " " : "") + f.meta;
      left.resize(std::max<size_t>(left.size() + 1, 37), ' ');
      std::string key;
      if (f.value == Value::kNone) {
        key = "accepted; tool_choice \"auto\" works whenever a tool-call format is known";
      } else {
        key = std::string("[") + f.section + "] " + f.key;
        if (f.value == Value::kTrue) key += " = true";
        if (f.value == Value::kFalse) key += " = false";
        if (std::string_view(f.flag) == "--served-model-name") key += " (the first), [model] aliases (the rest)";
        if (std::string_view(f.flag) == "--generation-config") key += " (vllm: \"none\")";
        if (std::string_view(f.flag) == "--override-generation-config") {
          key = "[model.defaults] (temperature, top_p, top_k, min_p, repetition_penalty; max_new_tokens: max_tokens)";
        }
      }
      u += left + key + "\n";
    }
    return u;
  }();
  return text.c_str();
}

CliOptions parse_args(const std::vector<std::string>& args) {
  CliOptions o;
  if (args.empty()) return o;
  const std::string& cmd = args[0];
  if (cmd == "serve")
    o.command = Command::kServe;
  else if (cmd == "doctor")
    o.command = Command::kDoctor;
  else if (cmd == "version" || cmd == "--version")
    o.command = Command::kVersion;
  else if (cmd == "help" || cmd == "--help" || cmd == "-h")
    return o;
  else
    throw ConfigError("unknown command \"" + cmd + "\" (expected serve, doctor or version)");

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
    if (o.command == Command::kServe && flag.rfind("-", 0) != 0 && !o.overrides.model_path) {
      o.overrides.model_path = flag;  // `tandem serve MODEL`, as `vllm serve MODEL`
      continue;
    }
    if (const VllmFlag* f = find_vllm_flag(flag)) {
      std::vector<std::string> values;
      const bool takes_value = f->value != Value::kTrue && f->value != Value::kFalse && f->value != Value::kNone;
      if (has_inline && !takes_value) throw ConfigError(flag + ": takes no value");
      if (has_inline) values.push_back(value);
      while (takes_value && !has_inline && i + 1 < args.size() &&
             (values.empty() || (f->value == Value::kStrings && args[i + 1].rfind("--", 0) != 0))) {
        values.push_back(args[++i]);
      }
      if (takes_value && values.empty()) throw ConfigError(flag + ": expected a value");
      if (flag == "--served-model-name") {
        add_served_names(o.overrides, values);
      } else if (f->value != Value::kNone) {
        o.overrides.settings.push_back(vllm_setting(*f, values));
      }
      continue;
    }
    static const char* kWithValue[] = {"--config", "--model", "--host", "--port", "--backend", "--log-level"};
    bool known = false;
    for (const char* f : kWithValue) known |= flag == f;
    if (!known) throw ConfigError("unknown option \"" + args[i] + "\"");
    if (!has_inline) {
      if (i + 1 >= args.size()) throw ConfigError(flag + ": expected a value");
      value = args[++i];
    }
    if (flag == "--config")
      o.config_path = value;
    else if (flag == "--model")
      o.overrides.model_path = value;
    else if (flag == "--host")
      o.overrides.host = value;
    else if (flag == "--port")
      o.overrides.port = parse_port(value);
    else if (flag == "--backend")
      o.overrides.backend = value;
    else if (flag == "--log-level")
      o.overrides.log_level = value;
  }
  return o;
}

}  // namespace tandem::cli
