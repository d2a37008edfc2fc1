#include "common/config.h"

#include <cctype>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include <toml++/toml.h>

namespace tandem {
namespace {

// Where a key is, for error messages: "tandem.toml: [server] port".
struct Where {
  const std::string& file;
  std::string section;
  std::string key;
  [[noreturn]] void fail(const std::string& expected, const std::string& got = {}) const {
    std::string msg = file + ": [" + section + "] " + key + ": expected " + expected;
    if (!got.empty()) msg += ", got " + got;
    throw ConfigError(msg);
  }
};

std::string describe(const toml::node& node) {
  std::ostringstream os;
  switch (node.type()) {
    case toml::node_type::string: os << '"' << node.as_string()->get() << '"'; break;
    case toml::node_type::integer: os << *node.as_integer(); break;
    case toml::node_type::floating_point: os << *node.as_floating_point(); break;
    case toml::node_type::boolean: os << (node.as_boolean()->get() ? "true" : "false"); break;
    case toml::node_type::array: os << "an array"; break;
    case toml::node_type::table: os << "a table"; break;
    default: os << "a " << node.type(); break;
  }
  return os.str();
}

int64_t get_int(const toml::node& node, const Where& w, int64_t lo, int64_t hi) {
  auto range = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
  const auto* v = node.as_integer();
  if (!v) w.fail(range, describe(node));
  if (v->get() < lo || v->get() > hi) w.fail(range, describe(node));
  return v->get();
}

double get_double(const toml::node& node, const Where& w, double lo, double hi, bool lo_open) {
  std::ostringstream range;
  range << "a number in " << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
  double d;
  if (const auto* f = node.as_floating_point())
    d = f->get();
  else if (const auto* i = node.as_integer())
    d = static_cast<double>(i->get());
  else
    w.fail(range.str(), describe(node));
  if (d < lo || d > hi || (lo_open && d == lo)) w.fail(range.str(), describe(node));
  return d;
}

bool get_bool(const toml::node& node, const Where& w) {
  const auto* v = node.as_boolean();
  if (!v) w.fail("true or false", describe(node));
  return v->get();
}

std::string get_string(const toml::node& node, const Where& w) {
  const auto* v = node.as_string();
  if (!v) w.fail("a string", describe(node));
  return v->get();
}

std::string get_choice(const toml::node& node, const Where& w, std::initializer_list<const char*> choices) {
  std::string expected = "one of";
  for (const char* c : choices) expected += std::string(" \"") + c + "\"";
  const auto* v = node.as_string();
  if (!v) w.fail(expected, describe(node));
  for (const char* c : choices) {
    if (v->get() == c) return v->get();
  }
  w.fail(expected, describe(node));
}

std::vector<std::string> get_string_array(const toml::node& node, const Where& w) {
  const auto* arr = node.as_array();
  if (!arr) w.fail("an array of strings", describe(node));
  std::vector<std::string> out;
  for (const auto& el : *arr) {
    const auto* s = el.as_string();
    if (!s) w.fail("an array of strings", "an element " + describe(el));
    out.push_back(s->get());
  }
  return out;
}

std::vector<int> get_int_array(const toml::node& node, const Where& w, int lo, int hi) {
  std::string expected = "an array of integers in " + std::to_string(lo) + ".." + std::to_string(hi);
  const auto* arr = node.as_array();
  if (!arr) w.fail(expected, describe(node));
  std::vector<int> out;
  for (const auto& el : *arr) {
    const auto* i = el.as_integer();
    if (!i || i->get() < lo || i->get() > hi) w.fail(expected, "an element " + describe(el));
    out.push_back(static_cast<int>(i->get()));
  }
  return out;
}

// [model.defaults]: a table of sampling values.
SamplingDefaults get_sampling_defaults(const toml::node& node, const Where& w) {
  const auto* table = node.as_table();
  if (!table) w.fail("a table (temperature, top_p, top_k, min_p, repetition_penalty, max_tokens)", describe(node));
  SamplingDefaults d;
  for (const auto& [key, value] : *table) {
    const std::string k(key.str());
    const Where at{w.file, w.section + "." + w.key, k};
    if (k == "temperature")
      d.temperature = get_double(value, at, 0.0, 100.0, false);
    else if (k == "top_p")
      d.top_p = get_double(value, at, 0.0, 1.0, true);
    else if (k == "top_k")
      d.top_k = static_cast<int>(get_int(value, at, 0, 1 << 20));
    else if (k == "min_p")
      d.min_p = get_double(value, at, 0.0, 1.0, false);
    else if (k == "repetition_penalty")
      d.repetition_penalty = get_double(value, at, 0.0, 100.0, true);
    else if (k == "max_tokens")
      d.max_tokens = static_cast<int>(get_int(value, at, 1, std::numeric_limits<int>::max()));
    else
      throw ConfigError(w.file + ": [" + at.section + "] " + k +
                        ": unknown key (known keys: temperature, top_p, top_k, min_p, repetition_penalty, "
                        "max_tokens)");
  }
  return d;
}

// Discovery ids name files in a shared directory (discovery::valid_id checks the same).
bool valid_appliance_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id.front() == '.') return false;
  for (char ch : id) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

using Setter = std::function<void(const toml::node&, const Where&, Config&)>;
struct KeySpec {
  const char* section;
  const char* key;
  Setter set;
};

constexpr int64_t kMaxInt = std::numeric_limits<int>::max();

const std::vector<KeySpec>& schema() {
  static const std::vector<KeySpec> kSchema = {
      {"server", "host",
       [](auto& n, auto& w, Config& c) {
         c.server.host = get_string(n, w);
         if (c.server.host.empty()) w.fail("a non-empty host name or address");
       }},
      {"server", "port", [](auto& n, auto& w, Config& c) { c.server.port = get_int(n, w, 0, 65535); }},
      {"server", "threads", [](auto& n, auto& w, Config& c) { c.server.threads = get_int(n, w, 0, 256); }},
      {"server", "api_keys",
       [](auto& n, auto& w, Config& c) {
         c.server.api_keys = get_string_array(n, w);
         for (const auto& k : c.server.api_keys) {
           if (k.empty()) w.fail("non-empty keys", "an empty string");
         }
       }},
      {"server", "max_body_bytes",
       [](auto& n, auto& w, Config& c) { c.server.max_body_bytes = get_int(n, w, 1024, int64_t{1} << 32); }},
      {"server", "header_timeout_s",
       [](auto& n, auto& w, Config& c) { c.server.header_timeout_s = get_int(n, w, 1, 3600); }},
      {"server", "idle_timeout_s",
       [](auto& n, auto& w, Config& c) { c.server.idle_timeout_s = get_int(n, w, 1, 86400); }},
      {"server", "request_timeout_s",
       [](auto& n, auto& w, Config& c) { c.server.request_timeout_s = get_int(n, w, 1, 86400); }},
      {"server", "drain_timeout_s",
       [](auto& n, auto& w, Config& c) { c.server.drain_timeout_s = get_int(n, w, 0, 86400); }},
      {"server", "max_connections",
       [](auto& n, auto& w, Config& c) { c.server.max_connections = get_int(n, w, 1, 1 << 20); }},
      {"server", "max_connections_per_client",
       [](auto& n, auto& w, Config& c) { c.server.max_connections_per_client = get_int(n, w, 0, 1 << 20); }},
      {"server", "cors_origins",
       [](auto& n, auto& w, Config& c) {
         c.server.cors_origins = get_string_array(n, w);
         for (const auto& o : c.server.cors_origins) {
           if (o.empty()) w.fail("non-empty origins such as \"https://app.example\" or \"*\"", "an empty string");
         }
       }},
      {"server", "prepare_threads",
       [](auto& n, auto& w, Config& c) { c.server.prepare_threads = get_int(n, w, 1, 64); }},
      {"model", "path", [](auto& n, auto& w, Config& c) { c.model.path = get_string(n, w); }},
      {"model", "name", [](auto& n, auto& w, Config& c) { c.model.name = get_string(n, w); }},
      {"model", "aliases",
       [](auto& n, auto& w, Config& c) {
         c.model.aliases = get_string_array(n, w);
         for (const auto& a : c.model.aliases) {
           if (a.empty()) w.fail("non-empty names", "an empty string");
         }
       }},
      {"model", "max_context", [](auto& n, auto& w, Config& c) { c.model.max_context = get_int(n, w, 0, kMaxInt); }},
      {"model", "chat_template", [](auto& n, auto& w, Config& c) { c.model.chat_template = get_string(n, w); }},
      {"model", "generation_config",
       [](auto& n, auto& w, Config& c) {
         c.model.generation_config = get_string(n, w);
         if (c.model.generation_config.empty()) w.fail("\"auto\", \"none\" or a folder");
       }},
      {"model", "defaults", [](auto& n, auto& w, Config& c) { c.model.defaults = get_sampling_defaults(n, w); }},
      {"model", "tool_call_parser",
       [](auto& n, auto& w, Config& c) {
         c.model.tool_call_parser = get_choice(n, w, {"auto", "none", "hermes", "mistral", "llama3_json"});
       }},
      {"model", "reasoning_parser",
       [](auto& n, auto& w, Config& c) {
         c.model.reasoning_parser = get_choice(n, w, {"auto", "none", "qwen3", "deepseek_r1"});
       }},
      {"engine", "backend",
       [](auto& n, auto& w, Config& c) {
         c.engine.backend = get_choice(n, w, {"auto", "cpu", "cuda"});
       }},
      {"engine", "devices", [](auto& n, auto& w, Config& c) { c.engine.devices = get_int_array(n, w, 0, 1023); }},
      {"engine", "workers", [](auto& n, auto& w, Config& c) { c.engine.workers = get_int(n, w, 1, 256); }},
      {"engine", "cpu_threads", [](auto& n, auto& w, Config& c) { c.engine.cpu_threads = get_int(n, w, 0, 1024); }},
      {"engine", "kv_block_tokens",
       [](auto& n, auto& w, Config& c) {
         int64_t v = get_int(n, w, 1, 1024);
         if (v & (v - 1)) w.fail("a power of two in 1..1024", describe(n));
         c.engine.kv_block_tokens = static_cast<int>(v);
       }},
      {"engine", "gpu_memory_fraction",
       [](auto& n, auto& w, Config& c) { c.engine.gpu_memory_fraction = get_double(n, w, 0.0, 1.0, true); }},
      {"engine", "cpu_kv_cache_mib",
       [](auto& n, auto& w, Config& c) { c.engine.cpu_kv_cache_mib = get_int(n, w, 1, int64_t{1} << 22); }},
      {"engine", "max_batch_tokens",
       [](auto& n, auto& w, Config& c) { c.engine.max_batch_tokens = get_int(n, w, 16, 1 << 20); }},
      {"engine", "max_running", [](auto& n, auto& w, Config& c) { c.engine.max_running = get_int(n, w, 1, 4096); }},
      {"engine", "enable_prefix_caching",
       [](auto& n, auto& w, Config& c) { c.engine.enable_prefix_caching = get_bool(n, w); }},
      {"engine.cuda", "pdl", [](auto& n, auto& w, Config& c) { c.engine.tuning.cuda.pdl = get_bool(n, w); }},
      {"engine.cuda", "attention_pdl",
       [](auto& n, auto& w, Config& c) {
         c.engine.tuning.cuda.attention_pdl = *toggle_from_name(get_choice(n, w, {"auto", "on", "off"}));
       }},
      {"engine.cuda", "prefill_sm90",
       [](auto& n, auto& w, Config& c) {
         c.engine.tuning.cuda.prefill_sm90 = *kernel_path_from_name(get_choice(n, w, {"auto", "off"}));
       }},
      {"engine.cuda", "prefill_sm90_tma",
       [](auto& n, auto& w, Config& c) {
         c.engine.tuning.cuda.prefill_sm90_tma = *kernel_path_from_name(get_choice(n, w, {"auto", "off"}));
       }},
      {"engine.cuda", "gemm_autotune",
       [](auto& n, auto& w, Config& c) { c.engine.tuning.cuda.gemm_autotune = get_bool(n, w); }},
      {"engine.cpu", "kernels",
       [](auto& n, auto& w, Config& c) {
         c.engine.tuning.cpu.kernels = *cpu_kernels_from_name(get_choice(n, w, {"auto", "portable"}));
       }},
      {"scheduler", "router",
       [](auto& n, auto& w, Config& c) {
         c.scheduler.router = get_choice(n, w, {"kv", "round_robin", "least_loaded"});
       }},
      {"scheduler", "max_queue",
       [](auto& n, auto& w, Config& c) { c.scheduler.max_queue = get_int(n, w, 1, 1 << 20); }},
      {"scheduler", "admission_ttft_ms",
       [](auto& n, auto& w, Config& c) {
         c.scheduler.admission_ttft_ms = static_cast<int>(get_int(n, w, 0, 3600000));
       }},
      {"scheduler", "kv_overlap_weight",
       [](auto& n, auto& w, Config& c) { c.scheduler.kv_overlap_weight = get_double(n, w, 0.0, 1000.0, false); }},
      {"scheduler", "router_temperature",
       [](auto& n, auto& w, Config& c) { c.scheduler.router_temperature = get_double(n, w, 0.0, 1000.0, false); }},
      {"scheduler", "max_local_prefill_tokens",
       [](auto& n, auto& w, Config& c) {
         c.scheduler.max_local_prefill_tokens = static_cast<int>(get_int(n, w, 0, kMaxInt));
       }},
      {"scheduler", "max_prefill_queue",
       [](auto& n, auto& w, Config& c) {
         c.scheduler.max_prefill_queue = static_cast<int>(get_int(n, w, 1, 1 << 20));
       }},
      {"kv", "host_cache_gib",
       [](auto& n, auto& w, Config& c) { c.kv.host_cache_gib = get_double(n, w, 0.0, 1 << 20, false); }},
      {"kv", "disk_cache_gib",
       [](auto& n, auto& w, Config& c) { c.kv.disk_cache_gib = get_double(n, w, 0.0, 1 << 24, false); }},
      {"kv", "disk_cache_dir",
       [](auto& n, auto& w, Config& c) {
         c.kv.disk_cache_dir = get_string(n, w);
         if (c.kv.disk_cache_dir.empty()) w.fail("a directory path");
         // The shipped file spells the default out; only another directory is "set".
         c.kv.disk_cache_dir_set = c.kv.disk_cache_dir != KvConfig{}.disk_cache_dir;
       }},
      {"kv", "disk_admit_uses",
       [](auto& n, auto& w, Config& c) { c.kv.disk_admit_uses = static_cast<int>(get_int(n, w, 1, 1000000)); }},
      {"kv", "device_credit",
       [](auto& n, auto& w, Config& c) { c.kv.device_credit = get_double(n, w, 0.0, 1.0, false); }},
      {"kv", "host_credit", [](auto& n, auto& w, Config& c) { c.kv.host_credit = get_double(n, w, 0.0, 1.0, false); }},
      {"kv", "disk_credit", [](auto& n, auto& w, Config& c) { c.kv.disk_credit = get_double(n, w, 0.0, 1.0, false); }},
      {"log", "level",
       [](auto& n, auto& w, Config& c) {
         c.log.level = get_choice(n, w, {"trace", "debug", "info", "warn", "error", "off"});
       }},
      {"log", "format",
       [](auto& n, auto& w, Config& c) {
         c.log.format = get_choice(n, w, {"text", "json"});
       }},
      {"log", "stats_interval_s",
       [](auto& n, auto& w, Config& c) { c.log.stats_interval_s = static_cast<int>(get_int(n, w, 0, 3600)); }},
      {"metrics", "vllm_names", [](auto& n, auto& w, Config& c) { c.metrics.vllm_names = get_bool(n, w); }},
      {"dashboard", "enabled", [](auto& n, auto& w, Config& c) { c.dashboard.enabled = get_bool(n, w); }},
      {"planner", "enabled", [](auto& n, auto& w, Config& c) { c.planner.enabled = get_bool(n, w); }},
      {"planner", "ttft_p95_ms",
       [](auto& n, auto& w, Config& c) { c.planner.ttft_p95_ms = static_cast<int>(get_int(n, w, 1, 3600000)); }},
      {"planner", "itl_p95_ms",
       [](auto& n, auto& w, Config& c) { c.planner.itl_p95_ms = static_cast<int>(get_int(n, w, 1, 600000)); }},
      {"planner", "interval_s",
       [](auto& n, auto& w, Config& c) { c.planner.interval_s = static_cast<int>(get_int(n, w, 1, 3600)); }},
      {"planner", "profile", [](auto& n, auto& w, Config& c) { c.planner.profile = get_string(n, w); }},
      {"discovery", "dir", [](auto& n, auto& w, Config& c) { c.discovery.dir = get_string(n, w); }},
      {"discovery", "id",
       [](auto& n, auto& w, Config& c) {
         c.discovery.id = get_string(n, w);
         if (!c.discovery.id.empty() && !valid_appliance_id(c.discovery.id)) {
           w.fail("1..128 characters of A-Z a-z 0-9 . _ - (not starting with .)", describe(n));
         }
       }},
      {"discovery", "advertise_url",
       [](auto& n, auto& w, Config& c) {
         c.discovery.advertise_url = get_string(n, w);
         if (!c.discovery.advertise_url.empty() && c.discovery.advertise_url.rfind("http://", 0) != 0) {
           w.fail("an http://host:port URL", describe(n));
         }
       }},
      {"discovery", "ttl_s", [](auto& n, auto& w, Config& c) { c.discovery.ttl_s = get_int(n, w, 1, 3600); }},
      {"discovery", "peer_key", [](auto& n, auto& w, Config& c) { c.discovery.peer_key = get_string(n, w); }},
      {"discovery", "forward_queue_threshold",
       [](auto& n, auto& w, Config& c) { c.discovery.forward_queue_threshold = get_int(n, w, 0, 1 << 20); }},
      {"discovery", "max_hops", [](auto& n, auto& w, Config& c) { c.discovery.max_hops = get_int(n, w, 0, 8); }},
  };
  return kSchema;
}

bool is_section(const std::string& section) {
  for (const auto& spec : schema()) {
    if (section == spec.section) return true;
  }
  return false;
}

// "backend, devices, ..., [engine.cuda], [engine.cpu]": the keys and inner
// tables of `section`, in schema order (a section's keys are contiguous there).
std::string known_keys(const std::string& section) {
  std::string known, last_inner;
  for (const auto& spec : schema()) {
    const std::string s = spec.section;
    std::string item;
    if (s == section) {
      item = spec.key;
    } else if (s.rfind(section + ".", 0) == 0 && s != last_inner) {
      last_inner = s;
      item = "[" + s + "]";
    }
    if (!item.empty()) known += (known.empty() ? "" : ", ") + item;
  }
  return known;
}

// Reads the keys of the table of `section` ("engine", or "engine.cuda" for a
// table inside it); `name` is the file, for messages.
void read_section(const toml::table& table, const std::string& section, const std::string& name, Config& config) {
  for (const auto& [key, node] : table) {
    std::string k(key.str());
    if (const std::string inner = section + "." + k; is_section(inner)) {
      const auto* inner_table = node.as_table();
      if (!inner_table) {
        throw ConfigError(name + ": [" + inner + "]: expected a table, got " + describe(node));
      }
      read_section(*inner_table, inner, name, config);
      continue;
    }
    const KeySpec* found = nullptr;
    for (const auto& spec : schema()) {
      if (section == spec.section && k == spec.key) found = &spec;
    }
    if (!found) {
      throw ConfigError(name + ": [" + section + "] " + k + ": unknown key (known keys: " + known_keys(section) + ")");
    }
    found->set(node, Where{name, section, k}, config);
  }
}

// One [[workers]] table (the index-th, from 1, for messages).
WorkerConfig read_worker(const toml::node& node, size_t index, const std::string& name) {
  const std::string where = "[[workers]] #" + std::to_string(index);
  const auto* table = node.as_table();
  if (!table) throw ConfigError(name + ": " + where + ": expected a table, got " + describe(node));
  WorkerConfig wc;
  for (const auto& [key, value] : *table) {
    const std::string k(key.str());
    if (k == "backend") {
      wc.backend =
          get_choice(value, Where{name, "[workers]", "#" + std::to_string(index) + " backend"}, {"cpu", "cuda"});
    } else if (k == "device") {
      wc.device =
          static_cast<int>(get_int(value, Where{name, "[workers]", "#" + std::to_string(index) + " device"}, 0, 1023));
    } else if (k == "role") {
      wc.role = get_choice(value, Where{name, "[workers]", "#" + std::to_string(index) + " role"},
                           {"aggregated", "prefill", "decode"});
    } else {
      throw ConfigError(name + ": " + where + " " + k + ": unknown key (known keys: backend, device, role)");
    }
  }
  return wc;
}

void validate_workers(const Config& c, const std::string& file) {
  if (c.workers.empty()) return;
  auto fail = [&](size_t i, const std::string& key, const std::string& msg) {
    throw ConfigError(file + ": [[workers]] #" + std::to_string(i + 1) + " " + key + ": " + msg);
  };
  if (!c.engine.devices.empty()) {
    fail(0, "device", "expected either [[workers]] tables or [engine] devices, not both");
  }
  if (c.engine.workers != 1) {
    fail(0, "backend", "expected either [[workers]] tables or [engine] workers, not both");
  }
  bool prefill = false, decode = false;
  std::string backend;
  for (size_t i = 0; i < c.workers.size(); ++i) {
    const WorkerConfig& w = c.workers[i];
    const std::string b = w.backend.empty() ? c.engine.backend : w.backend;
    if (!w.backend.empty() && c.engine.backend != "auto" && w.backend != c.engine.backend) {
      fail(i, "backend", "expected \"" + c.engine.backend + "\" like [engine] backend, got \"" + w.backend + "\"");
    }
    if (i > 0 && b != backend) {
      fail(i, "backend", "expected every worker on one backend (\"" + backend + "\" before), got \"" + b + "\"");
    }
    backend = b;
    if (w.device && b == "cpu") fail(i, "device", "expected no device on the CPU backend");
    prefill |= w.role == "prefill";
    decode |= w.role == "decode";
  }
  if (prefill && !decode) {
    for (size_t i = 0; i < c.workers.size(); ++i) {
      if (c.workers[i].role == "prefill") {
        fail(i, "role", "a \"prefill\" worker needs at least one \"decode\" worker to hand sequences to");
      }
    }
  }
}

void validate(const Config& c, const std::string& file) {
  if (c.engine.max_batch_tokens < c.engine.kv_block_tokens) {
    throw ConfigError(file + ": [engine] max_batch_tokens: expected at least kv_block_tokens (" +
                      std::to_string(c.engine.kv_block_tokens) + "), got " + std::to_string(c.engine.max_batch_tokens));
  }
  validate_workers(c, file);
  if (c.planner.enabled && c.planner.profile.empty()) {
    throw ConfigError(file +
                      ": [planner] profile: expected the path of a planner profile (JSON) when [planner] "
                      "enabled = true, got none");
  }
  if (!c.discovery.dir.empty() && c.discovery.peer_key.empty()) {
    throw ConfigError(file +
                      ": [discovery] peer_key: expected a non-empty key shared by the appliances of the "
                      "group when [discovery] dir is set (peers refuse forwarded requests without it)");
  }
  if (c.kv.disk_cache_gib > 0 && c.kv.host_cache_gib <= 0) {
    throw ConfigError(file +
                      ": [kv] disk_cache_gib: the disk tier fills from the host tier; set [kv] host_cache_gib > 0 "
                      "too (or disk_cache_gib = 0)");
  }
  if (c.kv.host_cache_gib > 0 && !c.engine.enable_prefix_caching) {
    throw ConfigError(file +
                      ": [kv] host_cache_gib: the KV tiers hold prefix-cache blocks; they need [engine] "
                      "enable_prefix_caching = true (or host_cache_gib = 0)");
  }
}

// One command-line setting: its value parsed as TOML and set through the
// schema, so it is checked like the same key in the file.
void apply_setting(Config& config, const ConfigOverrides::Setting& s) {
  toml::table root;
  try {
    root = toml::parse("v = " + s.toml_value, s.flag);
  } catch (const toml::parse_error&) {
    throw ConfigError(s.flag + ": [" + s.section + "] " + s.key + ": cannot read the value " + s.toml_value);
  }
  for (const auto& spec : schema()) {
    if (s.section == spec.section && s.key == spec.key) {
      spec.set(*root.get("v"), Where{s.flag, s.section, s.key}, config);
      return;
    }
  }
  throw ConfigError(s.flag + ": [" + s.section + "] " + s.key + ": unknown key");
}

}  // namespace

Config parse_config(const std::string& toml_text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, name);
  } catch (const toml::parse_error& e) {
    const auto& pos = e.source().begin;
    throw ConfigError(name + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) +
                      ": TOML syntax error: " + std::string(e.description()));
  }
  Config config;
  config.source = name;
  for (const auto& [section_key, section_node] : root) {
    std::string section(section_key.str());
    if (section == "workers") {
      const auto* tables = section_node.as_array();
      if (!tables) throw ConfigError(name + ": [[workers]]: expected tables, got " + describe(section_node));
      for (size_t i = 0; i < tables->size(); ++i) config.workers.push_back(read_worker((*tables)[i], i + 1, name));
      continue;
    }
    const auto* table = section_node.as_table();
    if (section.find('.') != std::string::npos || !is_section(section)) {
      throw ConfigError(name + ": unknown key \"" + section +
                        "\" (expected one of the sections [server] [model] [engine] [scheduler] "
                        "[log] [metrics] [dashboard] [planner] [discovery] [[workers]])");
    }
    if (!table) {
      throw ConfigError(name + ": [" + section + "]: expected a table, got " + describe(section_node));
    }
    read_section(*table, section, name, config);
  }
  validate(config, name);
  return config;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read the config file");
  return parse_config(text.str(), path);
}

void apply_overrides(Config& config, const ConfigOverrides& o) {
  for (const auto& s : o.settings) apply_setting(config, s);
  if (o.model_path) config.model.path = *o.model_path;
  if (o.host) {
    if (o.host->empty()) throw ConfigError("--host: expected a non-empty host name or address");
    config.server.host = *o.host;
  }
  if (o.port) {
    if (*o.port < 0 || *o.port > 65535) {
      throw ConfigError("--port: expected an integer in 0..65535, got " + std::to_string(*o.port));
    }
    config.server.port = *o.port;
  }
  if (o.backend) {
    if (*o.backend != "auto" && *o.backend != "cpu" && *o.backend != "cuda") {
      throw ConfigError("--backend: expected one of auto, cpu, cuda, got \"" + *o.backend + "\"");
    }
    config.engine.backend = *o.backend;
  }
  if (o.log_level) {
    static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
    bool ok = false;
    for (const char* l : kLevels) ok |= *o.log_level == l;
    if (!ok) throw ConfigError("--log-level: expected trace|debug|info|warn|error|off");
    config.log.level = *o.log_level;
  }
  validate(config, config.source.empty() ? "(defaults)" : config.source);
}

}  // namespace tandem
