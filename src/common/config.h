// Tandem's configuration: one typed struct built once from TOML (etc/tandem.toml
// documents every key) plus command-line overrides, validated as a whole.
//
// Errors: load_config() throws ConfigError whose what() is ONE line naming the
// file, the key and what was expected ("tandem.toml: [server] port: expected
// an integer in 1..65535, got 70000"). `tandem` prints it and exits with 2.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/engine_tuning.h"

namespace tandem {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  std::string host = "0.0.0.0";
  int port = 8000;
  int threads = 0;                    // HTTP I/O threads; 0 = min(4, cores)
  std::vector<std::string> api_keys;  // empty = no authentication
  int64_t max_body_bytes = 8 << 20;
  int header_timeout_s = 10;              // time to receive the request head
  int idle_timeout_s = 60;                // keep-alive idle time
  int request_timeout_s = 600;            // a request's deadline in the engine
  int drain_timeout_s = 30;               // SIGTERM: time allowed for in-flight requests
  int max_connections = 4096;             // open connections; kept under the descriptor limit
  int max_connections_per_client = 0;     // open connections per client address; 0 = no limit
  std::vector<std::string> cors_origins;  // origins allowed by CORS ("*" = any); empty = CORS off
  int prepare_threads = 2;                // threads for template rendering and tokenization
};

// Default sampling values that replace the model's generation config
// ([model.defaults], vLLM's --override-generation-config); unset keys keep it.
struct SamplingDefaults {
  std::optional<double> temperature;         // >= 0
  std::optional<double> top_p;               // (0, 1]
  std::optional<int> top_k;                  // 0 = off
  std::optional<double> min_p;               // [0, 1]
  std::optional<double> repetition_penalty;  // > 0
  std::optional<int> max_tokens;             // cap when a request sets none (else the rest of the context)
};

struct ModelConfig {
  std::string path;                  // .gguf file or Hugging Face directory
  std::string name;                  // id in /v1/models; default: file or directory name
  std::vector<std::string> aliases;  // further names requests may use (also listed in /v1/models)
  int max_context = 0;               // 0 = the model's trained context
  std::string chat_template;         // Jinja file (or template text) instead of the model's; "" = the model's
  // Default sampling from: auto (the model's) | none (OpenAI's) | a folder with generation_config.json
  std::string generation_config = "auto";
  SamplingDefaults defaults;
  std::string tool_call_parser = "auto";  // auto (from the chat template) | none | hermes | mistral | llama3_json
  std::string reasoning_parser = "auto";  // auto (from the chat template) | none | qwen3 | deepseek_r1
};

struct EngineConfig {
  std::string backend = "auto";       // auto | cpu | cuda
  std::vector<int> devices;           // CUDA device ordinals; empty = all visible
  int workers = 1;                    // CPU backend: number of workers (each its own KV pool)
  int cpu_threads = 0;                // threads per CPU worker; 0 = cores / workers
  int kv_block_tokens = 16;           // tokens per KV block
  double gpu_memory_fraction = 0.90;  // of the GPU's memory Tandem may use
  int64_t cpu_kv_cache_mib = 1024;    // CPU backend: KV pool size per worker
  int max_batch_tokens = 2048;        // tokens per step (prefill chunks + decodes)
  int max_running = 64;               // sequences per worker step
  bool enable_prefix_caching = true;
  EngineTuning tuning;  // [engine.cuda], [engine.cpu] (engine_tuning.h)
};

struct SchedulerConfig {
  std::string router = "kv";  // kv | round_robin | least_loaded
  int max_queue = 256;        // waiting requests before 429
  // Admission by expected wait: 429 + Retry-After when every worker's expected time to the request's first
  // token (its queue, its running sequences' remaining max_tokens, measured step speed) exceeds this; 0 = off.
  int admission_ttft_ms = 0;
  double kv_overlap_weight = 1.0;   // kv router: weight of prefill blocks still to compute vs load
  double router_temperature = 0.0;  // kv router: 0 = lowest cost; > 0 samples a softmax over costs
  // Conditional disaggregation (with prefill and decode workers): a prompt goes to a prefill worker only
  // when more than this many of its tokens are not cached on the chosen decode worker ...
  int max_local_prefill_tokens = 1000;
  // ... and fewer than this many requests wait at the chosen prefill worker; else the decode worker prefills.
  int max_prefill_queue = 2;
};

// [kv]: the KV cache tiers under each worker's device pool (kv/tier_cache.h).
// Sizes are totals over all workers, split evenly.
struct KvConfig {
  double host_cache_gib = 0.0;  // host-memory tier; 0 = no tiers
  double disk_cache_gib = 0.0;  // disk tier (needs the host tier); 0 = none
  std::string disk_cache_dir = "/var/lib/tandem/kv-cache";
  // Another directory than the default was given (an unusable default turns the disk tier off with a
  // warning instead of stopping the start).
  bool disk_cache_dir_set = false;
  int disk_admit_uses = 2;     // a host block goes to disk only once this many requests used it
  double device_credit = 1.0;  // kv router: credit of a cached leading block, by tier
  double host_credit = 0.75;
  double disk_credit = 0.25;
};

// One [[workers]] table: one worker, in the order of the tables. Without any,
// [engine] devices / workers describe aggregated workers.
struct WorkerConfig {
  std::string backend;              // "" = [engine] backend; cpu | cuda
  std::optional<int> device;        // CUDA device ordinal (CUDA only; default 0)
  std::string role = "aggregated";  // aggregated | prefill | decode
};

struct LogConfig {
  std::string level = "info";   // trace | debug | info | warn | error | off
  std::string format = "text";  // text | json
  int stats_interval_s = 10;    // seconds between [stats] lines while busy; 0: none
};

struct MetricsConfig {
  bool vllm_names = false;  // also export vllm:* names
};

struct DashboardConfig {
  bool enabled = true;  // GET /dashboard (and /dashboard/data) on the API port, behind the API keys
};

// [planner]: the SLA planner (scheduler/planner.h), off by default.
struct PlannerConfig {
  bool enabled = false;
  int ttft_p95_ms = 1000;  // target p95 time to first token, >= 1
  int itl_p95_ms = 50;     // target p95 inter-token latency, >= 1
  int interval_s = 5;      // seconds between decisions, 1..3600
  std::string profile;     // planner profile JSON (scheduler/planner_profile.h); required when enabled
};

// [discovery]: the shared directory of appliance records, and forwarding to
// the appliances found there (src/discovery/README.md). Off while dir is "".
struct DiscoveryConfig {
  std::string dir;                  // shared directory; "" = discovery and forwarding off
  std::string id;                   // this appliance's id; "" = <host name>-<port>
  std::string advertise_url;        // how peers reach this appliance; "" = http://<[server] host or host name>:<port>
  int ttl_s = 10;                   // a record not rewritten for this long expires (rewritten every ttl_s / 3)
  std::string peer_key;             // shared secret of the group; required with dir
  int forward_queue_threshold = 8;  // requests waiting here above which one goes to a peer with room; 0 = never
  int max_hops = 1;                 // times a request may be forwarded; a request at the limit is not forwarded again
};

struct Config {
  ServerConfig server;
  ModelConfig model;
  EngineConfig engine;
  std::vector<WorkerConfig> workers;  // [[workers]] tables; empty = the flat [engine] forms
  SchedulerConfig scheduler;
  KvConfig kv;
  LogConfig log;
  MetricsConfig metrics;
  DashboardConfig dashboard;
  PlannerConfig planner;
  DiscoveryConfig discovery;
  std::string source;  // file the config came from ("" = defaults)
};

// Command-line values that override the file.
struct ConfigOverrides {
  std::optional<std::string> model_path;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> backend;
  std::optional<std::string> log_level;
  // Flags that set one TOML key each (vLLM's names, main/cli.cpp): the value
  // as TOML text, checked like the file's; `flag` names it in errors.
  struct Setting {
    std::string flag, section, key, toml_value;
  };
  std::vector<Setting> settings;
};

// Parses TOML text; `name` is used in error messages.
Config parse_config(const std::string& toml_text, const std::string& name);
// Reads and parses a file (ConfigError when unreadable).
Config load_config_file(const std::string& path);
// Applies overrides and validates cross-key constraints. The environment's
// engine-tuning overrides are apply_tuning_environment's (engine_tuning.h).
void apply_overrides(Config& config, const ConfigOverrides& overrides);

}  // namespace tandem
