#include "main/serve.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/engine_tuning.h"
#include "common/metrics.h"
#include "discovery/discovery.h"
#include "engine/cpu/cpu_runner.h"
#include "engine/cpu/kernels.h"
#include "engine/hf_config.h"
#include "engine/model_loader.h"
#include "frontend/grammar_constraints.h"
#include "frontend/http_server.h"
#include "frontend/served_model.h"
#include "main/cuda_worker_plan.h"
#include "main/dashboard_sampler.h"
#include "main/kv_tiers.h"
#include "main/planner_tick.h"
#include "main/stats_line.h"
#include "main/systemd_notify.h"
#include "scheduler/planner_profile.h"
#include "scheduler/router.h"
#include "scheduler/worker.h"
#include "scheduler/worker_role.h"
#include "text/chat_template.h"
#include "text/reasoning_parser.h"
#include "text/tokenizer_loader.h"
#include "text/tool_call_parser.h"

#ifdef TANDEM_HAVE_CUDA
#include "engine/cuda/cuda_devices.h"
#include "engine/cuda/cuda_runner.h"
#endif

namespace tandem {
namespace {

using Clock = std::chrono::steady_clock;

std::string model_name(const Config& config) {
  if (!config.model.name.empty()) return config.model.name;
  std::filesystem::path p(config.model.path);
  if (p.filename().empty()) p = p.parent_path();  // "dir/"
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

// [model] chat_template: a file holding the template, or (when no such file
// exists and the text has Jinja delimiters) the template itself, as vLLM's
// --chat-template; "" keeps the model's.
std::string chat_template_source(const Config& config, const std::string& model_template) {
  const std::string& t = config.model.chat_template;
  if (t.empty()) return model_template;
  std::error_code ec;
  if (std::filesystem::is_regular_file(t, ec)) {
    std::ifstream in(t, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.bad()) return text.str();
  }
  if (t.find("{{") != std::string::npos || t.find("{%") != std::string::npos) return t;
  throw ConfigError("[model] chat_template: expected a readable Jinja file or a template, got \"" + t + "\"");
}

// The model's generation config per [model] generation_config, with the
// [model.defaults] values over it.
engine::GenerationDefaults generation_defaults(const Config& config, const engine::GenerationDefaults& model) {
  engine::GenerationDefaults d = model;
  const std::string& source = config.model.generation_config;
  if (source == "none" || source == "vllm") {
    d.temperature = d.top_p = d.min_p = d.repetition_penalty = -1.0f;
    d.top_k = -1;
  } else if (source != "auto") {
    const std::filesystem::path file = std::filesystem::path(source) / "generation_config.json";
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      throw ConfigError(
          "[model] generation_config: expected \"auto\", \"none\" or a folder holding "
          "generation_config.json, got \"" +
          source + "\"");
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (Status st = engine::apply_generation_config(text.str(), file.string(), d); !st.ok()) {
      throw ConfigError("[model] generation_config: " + st.message());
    }
  }
  const SamplingDefaults& o = config.model.defaults;
  if (o.temperature) d.temperature = static_cast<float>(*o.temperature);
  if (o.top_p) d.top_p = static_cast<float>(*o.top_p);
  if (o.top_k) d.top_k = *o.top_k;
  if (o.min_p) d.min_p = static_cast<float>(*o.min_p);
  if (o.repetition_penalty) d.repetition_penalty = static_cast<float>(*o.repetition_penalty);
  return d;
}

// The chat template as the frontend's renderer; models without one refuse
// chat requests with a clear message (completions still work).
std::function<Result<std::string>(const boost::json::object&)> make_renderer(const std::string& source) {
  if (source.empty()) {
    return [](const boost::json::object&) -> Result<std::string> {
      return Status(ErrorKind::kTemplateError, "this model has no chat template; use /v1/completions", "messages");
    };
  }
  auto compiled = text::ChatTemplate::compile(source);
  if (!compiled.ok()) {
    spdlog::error("[main] the model's chat template does not compile: {}", compiled.status().message());
    Status error = compiled.status();
    return [error](const boost::json::object&) -> Result<std::string> { return error; };
  }
  auto tmpl = std::make_shared<text::ChatTemplate>(std::move(compiled).value());
  return [tmpl](const boost::json::object& ctx) { return tmpl->render(ctx); };
}

uint64_t model_salt(const Config& config, const engine::ModelSpec& spec) {
  std::error_code ec;
  auto size = std::filesystem::file_size(config.model.path, ec);
  std::string key = std::filesystem::absolute(config.model.path, ec).string() + "|" + std::to_string(ec ? 0 : size) +
                    "|" + std::to_string(spec.vocab) + "|" + std::to_string(spec.n_layers);
  return std::hash<std::string>{}(key);
}

size_t kv_block_bytes_f32(const engine::ModelSpec& spec, int block_tokens) {
  return static_cast<size_t>(spec.n_layers) * 2 * block_tokens * spec.n_kv_heads * spec.head_dim * sizeof(float);
}

// The backend [engine] backend and the [[workers]] tables ask for (validated:
// the tables agree with each other and with [engine] backend unless "auto").
std::string requested_backend(const Config& config) {
  if (config.engine.backend == "auto" && !config.workers.empty() && !config.workers[0].backend.empty()) {
    return config.workers[0].backend;
  }
  return config.engine.backend;
}

// Each worker's role: the [[workers]] tables' in order, else `n` aggregated.
std::vector<scheduler::WorkerRole> worker_roles(const Config& config, size_t n) {
  std::vector<scheduler::WorkerRole> roles(n, scheduler::WorkerRole::kAggregated);
  for (size_t i = 0; i < config.workers.size() && i < n; ++i) {
    roles[i] = *scheduler::worker_role_from_name(config.workers[i].role);
  }
  return roles;
}

std::unique_ptr<engine::Runner> wrap(const ServeHooks& hooks, std::unique_ptr<engine::Runner> runner) {
  return hooks.wrap_runner ? hooks.wrap_runner(std::move(runner)) : std::move(runner);
}

// CPU workers, each with its own runner (weights converted per worker) and pool.
std::vector<std::unique_ptr<scheduler::Worker>> start_cpu_workers(const Config& config, engine::LoadedModel& loaded,
                                                                  int max_context, uint64_t salt,
                                                                  metrics::Registry& registry,
                                                                  const ServeHooks& hooks) {
  const int n = config.workers.empty() ? config.engine.workers : static_cast<int>(config.workers.size());
  const std::vector<scheduler::WorkerRole> roles = worker_roles(config, static_cast<size_t>(n));
  int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads = config.engine.cpu_threads > 0 ? config.engine.cpu_threads : std::max(1, hw / n);
  size_t block_bytes = kv_block_bytes_f32(loaded.spec, config.engine.kv_block_tokens);
  int64_t num_blocks = config.engine.cpu_kv_cache_mib * (int64_t{1} << 20) / static_cast<int64_t>(block_bytes);
  if (num_blocks < 1) {
    throw ConfigError("[engine] cpu_kv_cache_mib: expected room for at least one KV block (" +
                      std::to_string(block_bytes >> 10) + " KiB), got " +
                      std::to_string(config.engine.cpu_kv_cache_mib) + " MiB");
  }
  spdlog::info(
      "[main] CPU backend: {} worker(s) x {} threads, {} KV blocks of {} tokens each "
      "({} tokens of context per worker)",
      n, threads, num_blocks, config.engine.kv_block_tokens, num_blocks * config.engine.kv_block_tokens);
  std::vector<std::unique_ptr<scheduler::Worker>> workers;
  bool tier_warned = false;
  for (int i = 0; i < n; ++i) {
    engine::ModelWeights weights = i + 1 < n ? loaded.weights : std::move(loaded.weights);
    engine::cpu::CpuRunnerOptions ro;
    ro.threads = threads;
    ro.block_tokens = config.engine.kv_block_tokens;
    ro.num_blocks = static_cast<int>(num_blocks);
    ro.tuning = config.engine.tuning.cpu;
    auto runner = engine::cpu::make_cpu_runner(loaded.spec, std::move(weights), ro);
    if (!runner.ok()) {
      throw std::runtime_error("cannot start CPU worker " + std::to_string(i) + ": " + runner.status().message());
    }
    scheduler::WorkerOptions wo;
    wo.name = "cpu" + std::to_string(i);
    wo.role = roles[static_cast<size_t>(i)];
    wo.max_batch_tokens = config.engine.max_batch_tokens;
    wo.max_running = config.engine.max_running;
    wo.max_queue = config.scheduler.max_queue;
    wo.enable_prefix_caching = config.engine.enable_prefix_caching;
    wo.model_salt = salt;
    wo.max_context = max_context;
    std::unique_ptr<engine::Runner> r = wrap(hooks, std::move(runner).value());
    wo.tiers = main::open_worker_tiers(config, wo.name, n, *r, "f32", &registry, &tier_warned);
    workers.push_back(scheduler::Worker::start(std::move(wo), std::move(r), &registry));
  }
  return workers;
}

#ifdef TANDEM_HAVE_CUDA
// One worker per entry of `devices` (a device listed k times gets k workers),
// each with its own runner (bf16 weights, KV pool, graphs) and stream; names
// and KV memory shares from main::plan_cuda_workers.
std::vector<std::unique_ptr<scheduler::Worker>> start_cuda_workers(const Config& config, engine::LoadedModel& loaded,
                                                                   const std::vector<int>& devices, int max_context,
                                                                   uint64_t salt, metrics::Registry& registry,
                                                                   const ServeHooks& hooks) {
  const std::vector<main::CudaWorkerPlan> plan = main::plan_cuda_workers(devices, config.engine.gpu_memory_fraction);
  const std::vector<scheduler::WorkerRole> roles = worker_roles(config, plan.size());
  std::vector<std::unique_ptr<scheduler::Worker>> workers;
  bool tier_warned = false;
  for (size_t i = 0; i < plan.size(); ++i) {
    const main::CudaWorkerPlan& p = plan[i];
    // Copy the host weights for all but the last worker; each runner uploads
    // and drops its copy before the next one is made.
    engine::ModelWeights weights = i + 1 < plan.size() ? loaded.weights : std::move(loaded.weights);
    engine::cuda::CudaRunnerOptions ro;
    ro.device = p.device;
    ro.block_tokens = config.engine.kv_block_tokens;
    ro.gpu_memory_fraction = p.kv_memory_fraction;
    ro.later_workers_on_device = p.workers_on_device - 1 - p.index_on_device;
    ro.max_batch_tokens = config.engine.max_batch_tokens;
    ro.max_running = config.engine.max_running;
    ro.tuning = config.engine.tuning.cuda;
    if (p.workers_on_device > 1) {
      spdlog::info("[main] worker {}: {} of {} on CUDA device {}, KV pool from {:.3f} of the free memory", p.name,
                   p.index_on_device + 1, p.workers_on_device, p.device, p.kv_memory_fraction);
    }
    auto runner = engine::cuda::make_cuda_runner(loaded.spec, std::move(weights), ro);
    if (!runner.ok()) {
      std::string why = "cannot start worker " + p.name + " on CUDA device " + std::to_string(p.device) + ": " +
                        runner.status().message();
      if (p.workers_on_device > 1) {
        why += " (" + std::to_string(p.workers_on_device) + " workers share device " + std::to_string(p.device) +
               ", each with its own weights and KV pool; this is number " + std::to_string(p.index_on_device + 1) +
               ": lower [engine] max_batch_tokens / max_running, raise gpu_memory_fraction, or start fewer workers "
               "on that device)";
      }
      throw std::runtime_error(why);
    }
    scheduler::WorkerOptions wo;
    wo.name = p.name;
    wo.role = roles[i];
    wo.max_batch_tokens = config.engine.max_batch_tokens;
    wo.max_running = config.engine.max_running;
    wo.max_queue = config.scheduler.max_queue;
    wo.enable_prefix_caching = config.engine.enable_prefix_caching;
    wo.model_salt = salt;
    wo.max_context = max_context;
    std::unique_ptr<engine::Runner> r = wrap(hooks, std::move(runner).value());
    if (config.kv.host_cache_gib > 0) {
      // CUDA export_blocks works, but the tiers' pinned host pool and copy
      // stream are not built and the tiers have not run on a GPU.
      throw ConfigError(
          "[kv] host_cache_gib: the KV tiers are not available on CUDA workers yet; set host_cache_gib = 0, or "
          "serve on the CPU backend");
    }
    wo.tiers =
        main::open_worker_tiers(config, wo.name, static_cast<int>(plan.size()), *r, "bf16", &registry, &tier_warned);
    workers.push_back(scheduler::Worker::start(std::move(wo), std::move(r), &registry));
  }
  return workers;
}
#endif

// The CUDA devices to serve on: [] for the CPU backend. "cuda" without a
// usable device, or an [engine] devices entry that does not exist, is a
// start-up error.
std::vector<int> choose_cuda_devices(const Config& config) {
  const std::string backend = requested_backend(config);
  if (backend == "cpu") return {};
#ifdef TANDEM_HAVE_CUDA
  auto found = engine::cuda::list_devices();
  int count = found.ok() ? static_cast<int>(found->size()) : 0;
  if (count == 0) {
    if (backend == "cuda") {
      throw std::runtime_error("[engine] backend = \"cuda\" but no CUDA device is usable: " +
                               (found.ok() ? std::string("none found") : found.status().message()));
    }
    spdlog::info("[main] no CUDA device found ({}); serving on the CPU",
                 found.ok() ? "none" : found.status().message());
    return {};
  }
  std::vector<int> devices = config.engine.devices;
  for (const WorkerConfig& w : config.workers) devices.push_back(w.device.value_or(0));
  if (devices.empty()) {
    for (int i = 0; i < count; ++i) devices.push_back(i);
  }
  for (int d : devices) {
    if (d >= count) {
      throw ConfigError("[engine] devices: expected CUDA device ordinals below " + std::to_string(count) + ", got " +
                        std::to_string(d));
    }
  }
  return devices;
#else
  if (backend == "cuda") {
    throw ConfigError(
        "[engine] backend: \"cuda\" is not available in this build (built without CUDA); "
        "use \"cpu\" or \"auto\"");
  }
  return {};
#endif
}

// The kernel choices of the backend that serves, once at start-up, with the
// environment's overrides named (they win over the config file).
void log_tuning(const EngineTuning& tuning, bool cuda) {
  std::string line =
      cuda ? "engine.cuda: " + describe(tuning.cuda)
           : "engine.cpu: " + describe(tuning.cpu) + " (" + engine::cpu::select_kernels(tuning.cpu.kernels).name + ")";
  if (!tuning.from_environment.empty()) {
    line += "; from the environment:";
    for (const std::string& v : tuning.from_environment) line += " " + v;
  }
  spdlog::info("[main] {}", line);
}

// What the dashboard shows of each worker besides its metrics: backend and
// device, by the names the workers were started with.
std::vector<main::DashboardWorker> dashboard_workers(const Config& config, const std::vector<int>& cuda_devices,
                                                     const scheduler::ServiceStats& stats) {
  std::vector<main::DashboardWorker> out;
  if (!cuda_devices.empty()) {
    for (const main::CudaWorkerPlan& p : main::plan_cuda_workers(cuda_devices, config.engine.gpu_memory_fraction)) {
      out.push_back({p.name, "cuda", "cuda:" + std::to_string(p.device)});
    }
    return out;
  }
  for (const scheduler::WorkerStatus& w : stats.workers) out.push_back({w.name, "cpu", "cpu"});
  return out;
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// [discovery] advertise_url's host when unset: [server] host, or this
// machine's host name when that listens on every address.
std::string advertised_host(const std::string& listen_host) {
  if (listen_host != "0.0.0.0" && listen_host != "::" && !listen_host.empty()) return listen_host;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "127.0.0.1";
  return name;
}

// [discovery] id when unset: <host>-<port>, with characters ids may not hold
// replaced by '-'.
std::string default_id(const std::string& host, uint16_t port) {
  std::string id = host + "-" + std::to_string(port);
  for (char& c : id) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!ok) c = '-';
  }
  if (id.front() == '.') id.front() = '-';
  return id;
}

// Waits for SIGTERM/SIGINT (blocked in every thread) for up to `timeout`.
// Returns the signal number, or 0 on timeout.
int wait_signal(const sigset_t& set, std::chrono::milliseconds timeout) {
  timespec ts{};
  ts.tv_sec = timeout.count() / 1000;
  ts.tv_nsec = (timeout.count() % 1000) * 1000000;
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

}  // namespace

int run_serve(const Config& config, const ServeHooks& hooks) {
  // Every thread started from here on inherits the blocked signals; only the
  // main loop below receives them (sigtimedwait).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto notifier = main::SystemdNotifier::from_environment();
  if (config.model.path.empty()) {
    throw ConfigError("[model] path: no model configured; set it in the config or pass --model PATH");
  }
  const std::vector<int> cuda_devices = choose_cuda_devices(config);
  if (config.planner.enabled && !cuda_devices.empty()) {
    throw ConfigError(
        "[planner] enabled: expected false on the CUDA backend (the planner changes worker roles, and it has not been "
        "run on CUDA workers yet); set [engine] backend = \"cpu\" to serve with the planner");
  }
  std::optional<scheduler::PlannerShape> planner_shape;
  if (config.planner.enabled) {
    auto profile = scheduler::load_planner_profile(config.planner.profile);
    if (!profile.ok()) throw ConfigError("[planner] profile: " + profile.status().message());
    planner_shape = profile->shapes.front();
    spdlog::info("[main] planner: profile {} (shape {}), TTFT p95 {} ms, ITL p95 {} ms, every {} s",
                 config.planner.profile, planner_shape->name, config.planner.ttft_p95_ms, config.planner.itl_p95_ms,
                 config.planner.interval_s);
  }
  log_tuning(config.engine.tuning, !cuda_devices.empty());
  const engine::DType weight_dtype = cuda_devices.empty() ? engine::DType::kF32 : engine::DType::kBF16;

  const auto started = Clock::now();
  notifier.status("loading model " + config.model.path);
  spdlog::info("[main] loading {}", config.model.path);
  int last_decile = -1;
  auto loaded = engine::load_model(config.model.path, weight_dtype, [&](float f) {
    int percent = static_cast<int>(std::floor(f * 100));
    if (percent / 10 != last_decile) {
      last_decile = percent / 10;
      notifier.status("loading weights " + std::to_string(percent) + "%");
      spdlog::info("[main] loading weights {}%", percent);
      notifier.extend_timeout(std::chrono::seconds(60));
    }
  });
  if (!loaded.ok()) {
    spdlog::critical("[main] cannot load the model: {}", loaded.status().message());
    return 1;
  }
  const engine::ModelSpec spec = loaded->spec;
  auto tokenizer = text::load_tokenizer(config.model.path);
  if (!tokenizer.ok()) {
    spdlog::critical("[main] cannot load the tokenizer: {}", tokenizer.status().message());
    return 1;
  }

  int max_context = spec.max_position;
  if (config.model.max_context > 0) {
    if (config.model.max_context > spec.max_position) {
      throw ConfigError("[model] max_context: expected at most the model's trained context (" +
                        std::to_string(spec.max_position) + "), got " + std::to_string(config.model.max_context));
    }
    max_context = config.model.max_context;
  }

  frontend::ServedModel model;
  model.name = model_name(config);
  model.aliases = config.model.aliases;
  model.max_context = max_context;
  model.tokenizer = tokenizer.value();
  const std::string chat_template = chat_template_source(config, loaded->chat_template);
  model.render_chat = make_renderer(chat_template);
  model.tool_call_format = config.model.tool_call_parser == "auto"
                               ? text::detect_tool_call_format(chat_template)
                               : *text::tool_call_format_from_name(config.model.tool_call_parser);
  model.reasoning_format = config.model.reasoning_parser == "auto"
                               ? text::detect_reasoning_format(chat_template)
                               : *text::reasoning_format_from_name(config.model.reasoning_parser);
  model.defaults = generation_defaults(config, loaded->defaults);
  model.default_max_tokens = config.model.defaults.max_tokens.value_or(0);
  if (model.defaults.eos_token_ids.empty() && model.tokenizer->eos_id() >= 0) {
    model.defaults.eos_token_ids.push_back(model.tokenizer->eos_id());
  }
  // Structured output: one grammar compiler per served model, over its tokenizer; EOS ids end a format.
  model.constraints = std::make_shared<frontend::GrammarConstraints>(*model.tokenizer, model.defaults.eos_token_ids);
  model.created = static_cast<int64_t>(time(nullptr));
  {
    const auto& d = model.defaults;
    std::string sampling;
    const auto add = [&](const char* key, float v) {
      sampling += (sampling.empty() ? "" : ", ") + fmt::format("{} {:g}", key, v);
    };
    if (d.temperature >= 0) add("temperature", d.temperature);
    if (d.top_p > 0) add("top_p", d.top_p);
    if (d.top_k >= 0) add("top_k", d.top_k);
    if (d.min_p >= 0) add("min_p", d.min_p);
    if (d.repetition_penalty > 0) add("repetition_penalty", d.repetition_penalty);
    if (model.default_max_tokens > 0) add("max_tokens", model.default_max_tokens);
    spdlog::info(
        "[main] default sampling: {} ([model] generation_config \"{}\", then [model.defaults]; unset "
        "values are OpenAI's)",
        sampling.empty() ? "OpenAI's" : sampling, config.model.generation_config);
  }
  spdlog::info("[main] model {}: {} ({}), {} layers, hidden {}, vocab {}, context {}, tool calls {}{}, reasoning {}{}",
               model.name, engine::architecture_name(spec.arch), loaded->format, spec.n_layers, spec.hidden, spec.vocab,
               max_context, text::tool_call_format_name(model.tool_call_format),
               config.model.tool_call_parser == "auto" ? " (from the chat template)" : "",
               text::reasoning_format_name(model.reasoning_format),
               config.model.reasoning_parser == "auto" ? " (from the chat template)" : "");

  metrics::Registry registry(metrics::Registry::Options{config.metrics.vllm_names, model.name});
  notifier.status("starting workers");
  std::vector<std::unique_ptr<scheduler::Worker>> workers;
#ifdef TANDEM_HAVE_CUDA
  if (!cuda_devices.empty()) {
    workers = start_cuda_workers(config, loaded.value(), cuda_devices, max_context, model_salt(config, spec), registry,
                                 hooks);
  }
#endif
  if (cuda_devices.empty()) {
    workers = start_cpu_workers(config, loaded.value(), max_context, model_salt(config, spec), registry, hooks);
  }
  scheduler::RouterOptions router_options;
  router_options.policy = config.scheduler.router;
  router_options.max_queue = config.scheduler.max_queue;
  router_options.admission_ttft_ms = config.scheduler.admission_ttft_ms;
  router_options.kv_overlap_weight = config.scheduler.kv_overlap_weight;
  router_options.router_temperature = config.scheduler.router_temperature;
  router_options.tier_credit[0] = config.kv.device_credit;
  router_options.tier_credit[1] = config.kv.host_credit;
  router_options.tier_credit[2] = config.kv.disk_credit;
  router_options.max_local_prefill_tokens = config.scheduler.max_local_prefill_tokens;
  router_options.max_prefill_queue = config.scheduler.max_prefill_queue;
  scheduler::Router router(router_options, std::move(workers));

  std::optional<main::DashboardSampler> dashboard;
  if (config.dashboard.enabled) {
    main::DashboardSampler::Options o;
    o.model = model.name;
    o.workers = dashboard_workers(config, cuda_devices, router.stats());
    o.planner_enabled = config.planner.enabled;
    dashboard.emplace(registry, std::move(o));
  }

  std::optional<main::PlannerTick> planner;
  if (planner_shape) {
    scheduler::PlannerOptions po;
    po.ttft_p95_s = config.planner.ttft_p95_ms / 1000.0;
    po.itl_p95_s = config.planner.itl_p95_ms / 1000.0;
    po.interval_s = config.planner.interval_s;
    main::PlannerTick::Hooks h;
    h.workers = [&router] {
      std::vector<scheduler::PlannerWorker> w;
      for (size_t i = 0; i < router.num_workers(); ++i) {
        const scheduler::WorkerLoad load = router.worker(i).load();
        w.push_back({router.worker(i).role(), load.running + load.waiting});
      }
      return w;
    };
    h.set_role = [&router](size_t i, scheduler::WorkerRole role) { router.set_role(i, role); };
    h.worker_name = [&router](size_t i) { return router.worker(i).name(); };
    if (dashboard) h.record = [&dashboard](main::PlannerDecision d) { dashboard->record_decision(std::move(d)); };
    planner.emplace(registry, po, *planner_shape, std::move(h), Clock::now());
  }

  frontend::ServerOptions so;
  so.host = config.server.host;
  so.port = static_cast<uint16_t>(config.server.port);
  int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  so.threads = config.server.threads > 0 ? config.server.threads : std::min(4, hw);
  so.api_keys = config.server.api_keys;
  so.max_body_bytes = static_cast<size_t>(config.server.max_body_bytes);
  so.header_timeout = std::chrono::seconds(config.server.header_timeout_s);
  so.idle_timeout = std::chrono::seconds(config.server.idle_timeout_s);
  so.request_timeout = std::chrono::seconds(config.server.request_timeout_s);
  so.max_connections = config.server.max_connections;
  so.max_connections_per_client = config.server.max_connections_per_client;
  so.cors_origins = config.server.cors_origins;
  so.prepare_threads = config.server.prepare_threads;
  so.max_request_choices = config.scheduler.max_queue;
  so.dashboard = dashboard ? &*dashboard : nullptr;
  // [discovery]: the record and the peer table; its id and URL are known once the port is.
  std::unique_ptr<discovery::Discovery> peers;
  if (!config.discovery.dir.empty()) {
    discovery::DiscoveryOptions dopt;
    dopt.dir = config.discovery.dir;
    dopt.peer_key = config.discovery.peer_key;
    dopt.ttl_s = config.discovery.ttl_s;
    for (const auto& w : router.stats().workers) {
      if (std::find(dopt.roles.begin(), dopt.roles.end(), w.role) == dopt.roles.end() && !w.role.empty()) {
        dopt.roles.push_back(w.role);
      }
    }
    if (dopt.roles.empty()) dopt.roles.push_back("aggregated");
    const int n_workers = std::max<int>(1, static_cast<int>(router.stats().workers.size()));
    discovery::ModelLoad base;
    base.name = model.name;
    base.aliases = model.aliases;
    base.max_context = model.max_context;
    base.capacity = static_cast<int64_t>(config.engine.max_running) * n_workers;
    base.max_queue = config.scheduler.max_queue;
    peers = std::make_unique<discovery::Discovery>(
        std::move(dopt),
        [&router, &registry, base] {
          discovery::ModelLoad m = base;
          const scheduler::ServiceStats stats = router.stats();
          m.waiting = stats.waiting;
          m.running = stats.running;
          m.kv_usage = std::clamp(registry.total("tandem_kv_cache_usage_perc"), 0.0, 1.0);
          return std::vector<discovery::ModelLoad>{m};
        },
        &registry);
    so.discovery = peers.get();
    so.forward_queue_threshold = config.discovery.forward_queue_threshold;
    so.max_hops = config.discovery.max_hops;
  }
  frontend::HttpServer server(so, model, router, registry);
  if (Status st = server.start(); !st.ok()) {
    spdlog::critical("[main] cannot start the HTTP server: {}", st.message());
    router.shutdown(std::chrono::milliseconds(0));
    return 1;
  }
  if (peers) {
    const std::string host = advertised_host(config.server.host);
    peers->set_identity(config.discovery.id.empty() ? default_id(host, server.port()) : config.discovery.id,
                        config.discovery.advertise_url.empty()
                            ? "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                                  std::to_string(server.port())
                            : config.discovery.advertise_url);
    if (Status st = peers->start(); !st.ok()) {
      spdlog::critical("[main] cannot start discovery: {}", st.message());
      server.stop();
      router.shutdown(std::chrono::milliseconds(0));
      return 1;
    }
  }
  double load_s = std::chrono::duration<double>(Clock::now() - started).count();
  spdlog::info("[main] serving {} on http://{}:{} (router {}, ready in {:.1f} s)", model.name, so.host, server.port(),
               router.policy_name(), load_s);
  if (dashboard) spdlog::info("[main] dashboard on http://{}:{}/dashboard", so.host, server.port());
  notifier.ready("serving " + model.name + " on port " + std::to_string(server.port()));

  // Main loop: systemd watchdog pings until the first signal.
  auto ping = notifier.watchdog_ping_interval();
  auto tick = ping ? std::chrono::duration_cast<std::chrono::milliseconds>(*ping) : std::chrono::milliseconds(1000);
  if (dashboard) tick = std::min(tick, std::chrono::milliseconds(1000));  // the dashboard samples once a second
  const auto sample_dashboard = [&](bool draining) {
    if (dashboard) dashboard->sample(Clock::now(), unix_ms_now(), router.stats(), draining);
  };
  sample_dashboard(false);  // the baseline
  int sig = 0;
  // Once no worker is healthy (every GPU hit a device fault: its context is
  // lost for this process) the pings stop, so systemd's WatchdogSec restarts
  // the service; /ready answers 503 meanwhile and /health stays 200.
  bool reported_dead = false;
  std::optional<main::StatsLine> stats;
  if (config.log.stats_interval_s > 0) {
    stats.emplace(registry, std::chrono::seconds(config.log.stats_interval_s), Clock::now());
  }
  while ((sig = wait_signal(signals, tick)) == 0) {
    if (stats) {
      if (auto line = stats->tick(Clock::now())) spdlog::info("[stats] {}", *line);
    }
    sample_dashboard(false);
    if (planner) planner->tick(Clock::now(), unix_ms_now());
    if (router.ready()) {
      notifier.watchdog();
      reported_dead = false;
    } else if (!reported_dead) {
      reported_dead = true;
      spdlog::critical(
          "[main] no healthy worker left; stopping systemd watchdog pings so that systemd restarts "
          "the service (when WatchdogSec is set)");
      notifier.status("no healthy worker");
    }
  }

  spdlog::info("[main] {} received: draining ({} request(s) in flight, up to {} s)",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", server.in_flight(), config.server.drain_timeout_s);
  notifier.stopping("draining");
  // Peers stop sending requests here at once (they see the record go).
  if (peers) peers->stop();
  server.begin_drain();
  const auto deadline = Clock::now() + std::chrono::seconds(config.server.drain_timeout_s);
  int exit_status = 0;
  while (server.in_flight() > 0 && Clock::now() < deadline) {
    if (wait_signal(signals, std::chrono::milliseconds(50)) != 0) {
      spdlog::warn("[main] second signal: exiting now");
      exit_status = 1;
      break;
    }
    notifier.watchdog();
    sample_dashboard(true);
  }
  if (exit_status == 0 && server.in_flight() > 0) {
    spdlog::warn("[main] drain timeout: cancelling {} request(s)", server.in_flight());
  }
  server.stop();
  router.shutdown(std::chrono::milliseconds(0));
  spdlog::info("[main] stopped");
  return exit_status;
}

}  // namespace tandem
