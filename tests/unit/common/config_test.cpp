#include "common/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

namespace tandem {
namespace {

std::string error_of(const std::string& toml) {
  try {
    parse_config(toml, "t.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ShippedFileParsesToTheDefaults) {
  Config c = load_config_file(std::string(TANDEM_SOURCE_DIR) + "/etc/tandem.toml");
  Config d;
  EXPECT_EQ(c.server.host, d.server.host);
  EXPECT_EQ(c.server.port, d.server.port);
  EXPECT_EQ(c.server.max_body_bytes, d.server.max_body_bytes);
  EXPECT_EQ(c.server.drain_timeout_s, d.server.drain_timeout_s);
  EXPECT_EQ(c.engine.kv_block_tokens, 16);
  EXPECT_EQ(c.engine.max_batch_tokens, d.engine.max_batch_tokens);
  EXPECT_DOUBLE_EQ(c.engine.gpu_memory_fraction, d.engine.gpu_memory_fraction);
  EXPECT_EQ(c.scheduler.router, "kv");
  EXPECT_EQ(c.log.format, "text");
  EXPECT_EQ(c.log.stats_interval_s, d.log.stats_interval_s);
  EXPECT_FALSE(c.metrics.vllm_names);
  EXPECT_TRUE(c.dashboard.enabled);
  EXPECT_EQ(c.dashboard.enabled, d.dashboard.enabled);
  EXPECT_EQ(c.planner.enabled, d.planner.enabled);
  EXPECT_EQ(c.planner.ttft_p95_ms, d.planner.ttft_p95_ms);
  EXPECT_EQ(c.planner.itl_p95_ms, d.planner.itl_p95_ms);
  EXPECT_EQ(c.planner.interval_s, d.planner.interval_s);
  EXPECT_EQ(c.planner.profile, d.planner.profile);
  EXPECT_EQ(c.model.tool_call_parser, "auto");
  EXPECT_EQ(c.model.tool_call_parser, d.model.tool_call_parser);
  EXPECT_EQ(c.model.reasoning_parser, "auto");
  EXPECT_EQ(c.model.reasoning_parser, d.model.reasoning_parser);
  EXPECT_EQ(c.engine.tuning.cuda, d.engine.tuning.cuda);
  EXPECT_EQ(c.engine.tuning.cpu, d.engine.tuning.cpu);
}

TEST(Config, KvTierKeys) {
  const Config d = load_config_file(std::string(TANDEM_SOURCE_DIR) + "/etc/tandem.toml");
  EXPECT_EQ(d.kv.host_cache_gib, 0.0);
  EXPECT_EQ(d.kv.disk_cache_gib, 0.0);
  EXPECT_EQ(d.kv.disk_cache_dir, "/var/lib/tandem/kv-cache");
  EXPECT_FALSE(d.kv.disk_cache_dir_set);  // the shipped default is still "the default"
  EXPECT_EQ(d.kv.disk_admit_uses, 2);
  EXPECT_EQ(d.kv.device_credit, 1.0);
  EXPECT_EQ(d.kv.host_credit, 0.75);
  EXPECT_EQ(d.kv.disk_credit, 0.25);
  const Config c = parse_config(
      "[kv]\nhost_cache_gib = 1.5\ndisk_cache_gib = 8\ndisk_cache_dir = \"/srv/kv\"\ndisk_admit_uses = 1\n"
      "host_credit = 0.5\n",
      "t.toml");
  EXPECT_EQ(c.kv.host_cache_gib, 1.5);
  EXPECT_EQ(c.kv.disk_cache_gib, 8.0);
  EXPECT_EQ(c.kv.disk_cache_dir, "/srv/kv");
  EXPECT_TRUE(c.kv.disk_cache_dir_set);
  EXPECT_EQ(c.kv.disk_admit_uses, 1);
  EXPECT_EQ(c.kv.host_credit, 0.5);
  EXPECT_NE(error_of("[kv]\nhost_cache_gib = -1\n").find("[kv] host_cache_gib"), std::string::npos);
  EXPECT_NE(error_of("[kv]\ndisk_credit = 1.5\n").find("[kv] disk_credit"), std::string::npos);
  EXPECT_NE(error_of("[kv]\ndisk_admit_uses = 0\n").find("[kv] disk_admit_uses"), std::string::npos);
  EXPECT_NE(error_of("[kv]\ndisk_cache_dir = \"\"\n").find("[kv] disk_cache_dir"), std::string::npos);
  EXPECT_NE(error_of("[kv]\nhost_gib = 1\n").find("unknown key"), std::string::npos);
}

TEST(Config, KvTierCombinationsAreChecked) {
  EXPECT_NE(error_of("[kv]\ndisk_cache_gib = 4\n").find("[kv] disk_cache_gib: the disk tier fills from the host tier"),
            std::string::npos);
  EXPECT_NE(error_of("[engine]\nenable_prefix_caching = false\n[kv]\nhost_cache_gib = 1\n")
                .find("[kv] host_cache_gib: the KV tiers hold prefix-cache blocks"),
            std::string::npos);
  EXPECT_EQ(error_of("[kv]\nhost_cache_gib = 1\ndisk_cache_gib = 4\n"), "");
}

TEST(Config, StatsIntervalIsSecondsOrOff) {
  EXPECT_EQ(parse_config("", "t.toml").log.stats_interval_s, 10);
  EXPECT_EQ(parse_config("[log]\nstats_interval_s = 0\n", "t.toml").log.stats_interval_s, 0);
  EXPECT_NE(error_of("[log]\nstats_interval_s = -1\n").find("[log] stats_interval_s"), std::string::npos);
  EXPECT_NE(error_of("[log]\nstats_interval_s = \"10s\"\n").find("[log] stats_interval_s"), std::string::npos);
}

TEST(Config, DashboardIsOnUnlessTurnedOff) {
  EXPECT_TRUE(parse_config("", "t.toml").dashboard.enabled);
  EXPECT_FALSE(parse_config("[dashboard]\nenabled = false\n", "t.toml").dashboard.enabled);
  EXPECT_EQ(error_of("[dashboard]\nenabled = \"no\"\n"),
            "t.toml: [dashboard] enabled: expected true or false, got \"no\"");
  EXPECT_NE(error_of("[dashboard]\nport = 1\n").find("[dashboard] port: unknown key"), std::string::npos)
      << error_of("[dashboard]\nport = 1\n");
}

TEST(Config, PlannerIsOffAndNeedsAProfileWhenOn) {
  const Config d = parse_config("", "t.toml");
  EXPECT_FALSE(d.planner.enabled);
  EXPECT_EQ(d.planner.ttft_p95_ms, 1000);
  EXPECT_EQ(d.planner.itl_p95_ms, 50);
  EXPECT_EQ(d.planner.interval_s, 5);
  const Config c = parse_config(
      "[planner]\nenabled = true\nttft_p95_ms = 800\nitl_p95_ms = 40\ninterval_s = 2\nprofile = \"p.json\"\n",
      "t.toml");
  EXPECT_TRUE(c.planner.enabled);
  EXPECT_EQ(c.planner.ttft_p95_ms, 800);
  EXPECT_EQ(c.planner.itl_p95_ms, 40);
  EXPECT_EQ(c.planner.interval_s, 2);
  EXPECT_EQ(c.planner.profile, "p.json");
  EXPECT_NE(error_of("[planner]\nenabled = true\n").find("[planner] profile"), std::string::npos);
  EXPECT_NE(error_of("[planner]\nttft_p95_ms = 0\n").find("[planner] ttft_p95_ms"), std::string::npos);
  EXPECT_NE(error_of("[planner]\nitl_p95_ms = 1.5\n").find("[planner] itl_p95_ms"), std::string::npos);
  EXPECT_NE(error_of("[planner]\ninterval_s = 0\n").find("[planner] interval_s"), std::string::npos);
  EXPECT_NE(error_of("[planner]\nprofile = 3\n").find("[planner] profile"), std::string::npos);
  EXPECT_NE(error_of("[planner]\ntarget = 3\n").find("[planner] target: unknown key"), std::string::npos);
}

TEST(Config, EngineTuningDefaultsAreTheMeasuredChoices) {
  const EngineTuning t = parse_config("", "t.toml").engine.tuning;
  EXPECT_TRUE(t.cuda.pdl);
  EXPECT_EQ(t.cuda.attention_pdl, Toggle::kAuto);
  EXPECT_EQ(t.cuda.prefill_sm90, KernelPath::kAuto);
  EXPECT_EQ(t.cuda.prefill_sm90_tma, KernelPath::kAuto);
  EXPECT_FALSE(t.cuda.gemm_autotune);
  EXPECT_EQ(t.cpu.kernels, CpuKernels::kAuto);
  EXPECT_TRUE(t.from_environment.empty());
}

TEST(Config, EngineTuningKeysAreRead) {
  const Config c = parse_config(R"(
[engine]
workers = 2
[engine.cuda]
pdl = false
attention_pdl = "on"
prefill_sm90 = "off"
prefill_sm90_tma = "off"
gemm_autotune = true
[engine.cpu]
kernels = "portable"
)",
                                "t.toml");
  EXPECT_EQ(c.engine.workers, 2);
  const CudaTuning& cuda = c.engine.tuning.cuda;
  EXPECT_FALSE(cuda.pdl);
  EXPECT_EQ(cuda.attention_pdl, Toggle::kOn);
  EXPECT_EQ(cuda.prefill_sm90, KernelPath::kOff);
  EXPECT_EQ(cuda.prefill_sm90_tma, KernelPath::kOff);
  EXPECT_TRUE(cuda.gemm_autotune);
  EXPECT_EQ(c.engine.tuning.cpu.kernels, CpuKernels::kPortable);
  EXPECT_EQ(parse_config("[engine.cuda]\nattention_pdl = \"off\"\n", "t.toml").engine.tuning.cuda.attention_pdl,
            Toggle::kOff);
  // Dotted keys and inline tables are the same tables.
  EXPECT_FALSE(parse_config("[engine]\ncuda.pdl = false\n", "t.toml").engine.tuning.cuda.pdl);
  EXPECT_EQ(parse_config("[engine]\ncpu = { kernels = \"portable\" }\n", "t.toml").engine.tuning.cpu.kernels,
            CpuKernels::kPortable);
}

TEST(Config, EngineTuningErrorsNameTheKey) {
  EXPECT_EQ(error_of("[engine.cuda]\npdl = \"off\"\n"),
            "t.toml: [engine.cuda] pdl: expected true or false, got \"off\"");
  EXPECT_EQ(error_of("[engine.cuda]\nattention_pdl = \"early\"\n"),
            "t.toml: [engine.cuda] attention_pdl: expected one of \"auto\" \"on\" \"off\", got \"early\"");
  EXPECT_EQ(error_of("[engine.cuda]\nprefill_sm90 = \"on\"\n"),
            "t.toml: [engine.cuda] prefill_sm90: expected one of \"auto\" \"off\", got \"on\"");
  EXPECT_EQ(error_of("[engine.cuda]\nprefill_sm90_tma = false\n"),
            "t.toml: [engine.cuda] prefill_sm90_tma: expected one of \"auto\" \"off\", got false");
  EXPECT_EQ(error_of("[engine.cuda]\ngemm_autotune = 1\n"),
            "t.toml: [engine.cuda] gemm_autotune: expected true or false, got 1");
  EXPECT_EQ(error_of("[engine.cpu]\nkernels = \"avx512\"\n"),
            "t.toml: [engine.cpu] kernels: expected one of \"auto\" \"portable\", got \"avx512\"");
  std::string e = error_of("[engine.cuda]\nqkv_f32 = true\n");
  EXPECT_NE(e.find("t.toml: [engine.cuda] qkv_f32: unknown key (known keys: pdl, attention_pdl, prefill_sm90, "
                   "prefill_sm90_tma, gemm_autotune)"),
            std::string::npos)
      << e;
  e = error_of("[engine]\nbackedn = \"cpu\"\n");
  EXPECT_NE(e.find("enable_prefix_caching, [engine.cuda], [engine.cpu])"), std::string::npos) << e;
  EXPECT_EQ(error_of("[engine]\ncuda = 1\n"), "t.toml: [engine.cuda]: expected a table, got 1");
  e = error_of("[engine.cuda.x]\n");
  EXPECT_NE(e.find("[engine.cuda] x: unknown key"), std::string::npos) << e;
  e = error_of("[\"engine.cuda\"]\npdl = true\n");
  EXPECT_NE(e.find("unknown key \"engine.cuda\""), std::string::npos) << e;
}

TEST(Config, OutputParsersTakeTheKnownFormats) {
  struct Key {
    const char* name;
    std::vector<const char*> values;
    const char* bad;
    const char* named_in_error;
    std::string ModelConfig::*field;
  };
  const Key keys[] = {
      {"tool_call_parser",
       {"auto", "none", "hermes", "mistral", "llama3_json"},
       "qwen",
       "hermes",
       &ModelConfig::tool_call_parser},
      {"reasoning_parser",
       {"auto", "none", "qwen3", "deepseek_r1"},
       "think",
       "deepseek_r1",
       &ModelConfig::reasoning_parser},
  };
  for (const auto& k : keys) {
    for (const char* v : k.values) {
      const std::string toml = std::string("[model]\n") + k.name + " = \"" + v + "\"\n";
      EXPECT_EQ(parse_config(toml, "t.toml").model.*k.field, v);
    }
    const std::string e = error_of(std::string("[model]\n") + k.name + " = \"" + k.bad + "\"\n");
    EXPECT_NE(e.find(k.name), std::string::npos) << e;
    EXPECT_NE(e.find(k.named_in_error), std::string::npos) << e;
  }
}

TEST(Config, EveryKeyInTheShippedFileIsCommented) {
  std::ifstream in(std::string(TANDEM_SOURCE_DIR) + "/etc/tandem.toml");
  std::string line, previous;
  std::regex key_line(R"(^([a-z0-9_]+) = )");
  int keys = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, key_line)) {
      ++keys;
      EXPECT_EQ(previous.rfind("#", 0), 0u) << "key without a comment above it: " << m[1];
    }
    previous = line;
  }
  EXPECT_EQ(keys, 68);
}

TEST(Config, WorkerTablesAreRead) {
  Config c = parse_config(R"(
[engine]
backend = "cpu"
[scheduler]
max_local_prefill_tokens = 64
max_prefill_queue = 4
[[workers]]
role = "prefill"
[[workers]]
backend = "cpu"
role = "decode"
[[workers]]
)",
                          "t.toml");
  ASSERT_EQ(c.workers.size(), 3u);
  EXPECT_EQ(c.workers[0].role, "prefill");
  EXPECT_EQ(c.workers[0].backend, "");
  EXPECT_EQ(c.workers[1].role, "decode");
  EXPECT_EQ(c.workers[1].backend, "cpu");
  EXPECT_EQ(c.workers[2].role, "aggregated");
  EXPECT_FALSE(c.workers[2].device.has_value());
  EXPECT_EQ(c.scheduler.max_local_prefill_tokens, 64);
  EXPECT_EQ(c.scheduler.max_prefill_queue, 4);
  // Prefill and decode workers on the CUDA backend, two on one device.
  Config g = parse_config(
      "[engine]\nbackend = \"cuda\"\n[[workers]]\ndevice = 0\nrole = \"prefill\"\n[[workers]]\ndevice = 0\n"
      "role = \"decode\"\n",
      "t.toml");
  ASSERT_EQ(g.workers.size(), 2u);
  EXPECT_EQ(g.workers[0].role, "prefill");
  EXPECT_EQ(g.workers[1].role, "decode");
  EXPECT_EQ(g.workers[1].device, 0);
  Config d;
  EXPECT_TRUE(d.workers.empty());
  EXPECT_EQ(d.scheduler.max_local_prefill_tokens, 1000);
  EXPECT_EQ(d.scheduler.max_prefill_queue, 2);
}

TEST(Config, WorkerTableErrorsNameTheKey) {
  EXPECT_EQ(error_of("[[workers]]\nrole = \"both\"\n"),
            "t.toml: [[workers]] #1 role: expected one of \"aggregated\" \"prefill\" \"decode\", got \"both\"");
  EXPECT_EQ(error_of("[[workers]]\n[[workers]]\ncolor = 1\n"),
            "t.toml: [[workers]] #2 color: unknown key (known keys: backend, device, role)");
  EXPECT_EQ(error_of("[[workers]]\ndevice = -1\n"),
            "t.toml: [[workers]] #1 device: expected an integer in 0..1023, got -1");
  EXPECT_EQ(error_of("workers = 3\n"), "t.toml: [[workers]]: expected tables, got 3");
  EXPECT_NE(error_of("[engine]\ndevices = [0]\n[[workers]]\n").find("[[workers]] #1 device: expected either"),
            std::string::npos);
  EXPECT_NE(error_of("[engine]\nworkers = 2\n[[workers]]\n").find("[[workers]] #1 backend: expected either"),
            std::string::npos);
  EXPECT_NE(error_of("[[workers]]\nbackend = \"cpu\"\n[[workers]]\nbackend = \"cuda\"\n")
                .find("[[workers]] #2 backend: expected every worker on one backend"),
            std::string::npos);
  EXPECT_NE(error_of("[[workers]]\nbackend = \"cpu\"\ndevice = 1\n").find("[[workers]] #1 device: expected no device"),
            std::string::npos);
  EXPECT_NE(error_of("[[workers]]\nbackend = \"cpu\"\nrole = \"prefill\"\n[[workers]]\nbackend = \"cpu\"\n")
                .find("[[workers]] #1 role: a \"prefill\" worker needs at least one \"decode\" worker"),
            std::string::npos);
}

TEST(Config, ValuesAreRead) {
  Config c = parse_config(R"(
[server]
port = 9000
api_keys = ["a", "b"]
[engine]
backend = "cpu"
workers = 4
devices = [0, 2]
gpu_memory_fraction = 0.5
[scheduler]
router = "round_robin"
)",
                          "t.toml");
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_EQ(c.server.api_keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.engine.backend, "cpu");
  EXPECT_EQ(c.engine.workers, 4);
  EXPECT_EQ(c.engine.devices, (std::vector<int>{0, 2}));
  EXPECT_DOUBLE_EQ(c.engine.gpu_memory_fraction, 0.5);
  EXPECT_EQ(c.scheduler.router, "round_robin");
}

TEST(Config, ModelNamesTemplateAndSamplingDefaults) {
  Config c = parse_config(R"(
[model]
name = "a"
aliases = ["b", "c"]
chat_template = "t.jinja"
generation_config = "none"
[model.defaults]
temperature = 0.2
top_p = 0.9
top_k = 0
max_tokens = 256
)",
                          "t.toml");
  EXPECT_EQ(c.model.aliases, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(c.model.chat_template, "t.jinja");
  EXPECT_EQ(c.model.generation_config, "none");
  EXPECT_DOUBLE_EQ(*c.model.defaults.temperature, 0.2);
  EXPECT_DOUBLE_EQ(*c.model.defaults.top_p, 0.9);
  EXPECT_EQ(*c.model.defaults.top_k, 0);
  EXPECT_EQ(*c.model.defaults.max_tokens, 256);
  EXPECT_FALSE(c.model.defaults.min_p);
  EXPECT_FALSE(c.model.defaults.repetition_penalty);
  EXPECT_EQ(error_of("[model.defaults]\ntop_p = 0\n"),
            "t.toml: [model.defaults] top_p: expected a number in (0, 1], got 0");
  EXPECT_NE(error_of("[model.defaults]\ntemp = 1\n").find("[model.defaults] temp: unknown key"), std::string::npos);
  EXPECT_NE(error_of("[model]\naliases = [\"\"]\n").find("expected non-empty names"), std::string::npos);
}

TEST(Config, CommandLineSettingsAreCheckedLikeTheFile) {
  Config c = parse_config("[engine]\nmax_running = 8\n", "t.toml");
  ConfigOverrides o;
  o.settings.push_back({"--max-num-seqs", "engine", "max_running", "32"});
  o.settings.push_back({"--override-generation-config", "model", "defaults", "{ temperature = 0.5 }"});
  apply_overrides(c, o);
  EXPECT_EQ(c.engine.max_running, 32);
  EXPECT_DOUBLE_EQ(*c.model.defaults.temperature, 0.5);
  o.settings = {{"--gpu-memory-utilization", "engine", "gpu_memory_fraction", "1.5"}};
  try {
    apply_overrides(c, o);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "--gpu-memory-utilization: [engine] gpu_memory_fraction: expected a number in (0, 1], got 1.5");
  }
}

TEST(Config, UnknownKeyNamesFileSectionAndKey) {
  std::string e = error_of("[server]\nprot = 1\n");
  EXPECT_NE(e.find("t.toml: [server] prot: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("port"), std::string::npos) << e;  // lists the known keys
  e = error_of("[serve]\nport = 1\n");
  EXPECT_NE(e.find("unknown key \"serve\""), std::string::npos) << e;
  e = error_of("port = 1\n");
  EXPECT_NE(e.find("unknown key \"port\""), std::string::npos) << e;
}

TEST(Config, WrongTypeNamesExpectation) {
  EXPECT_EQ(error_of("[server]\nport = \"80\"\n"),
            "t.toml: [server] port: expected an integer in 0..65535, got \"80\"");
  EXPECT_EQ(error_of("[metrics]\nvllm_names = 1\n"), "t.toml: [metrics] vllm_names: expected true or false, got 1");
  EXPECT_NE(error_of("[server]\napi_keys = \"k\"\n").find("expected an array of strings"), std::string::npos);
  EXPECT_NE(error_of("[server]\napi_keys = [1]\n").find("expected an array of strings"), std::string::npos);
  EXPECT_NE(error_of("[engine]\n[engine.x]\n").find("[engine] x: unknown key"), std::string::npos);
  EXPECT_NE(error_of("engine = 3\n").find("expected a table"), std::string::npos);
}

TEST(Config, OutOfRangeNamesExpectation) {
  EXPECT_EQ(error_of("[server]\nport = 70000\n"), "t.toml: [server] port: expected an integer in 0..65535, got 70000");
  EXPECT_NE(error_of("[engine]\nkv_block_tokens = 12\n").find("power of two"), std::string::npos);
  EXPECT_NE(error_of("[engine]\ngpu_memory_fraction = 0\n").find("(0, 1]"), std::string::npos);
  EXPECT_NE(error_of("[engine]\ngpu_memory_fraction = 1.5\n").find("got 1.5"), std::string::npos);
  EXPECT_NE(error_of("[scheduler]\nrouter = \"random\"\n").find("one of \"kv\""), std::string::npos);
  EXPECT_NE(error_of("[scheduler]\nrouter_temperature = -1\n")
                .find("[scheduler] router_temperature: expected a number in [0, 1000]"),
            std::string::npos);
  EXPECT_NE(error_of("[engine]\nmax_batch_tokens = 16\nkv_block_tokens = 32\n")
                .find("max_batch_tokens: expected at least kv_block_tokens"),
            std::string::npos);
}

TEST(Config, ConnectionCorsAndPrepareKeys) {
  Config d;
  EXPECT_EQ(d.server.max_connections, 4096);
  EXPECT_EQ(d.server.max_connections_per_client, 0);
  EXPECT_TRUE(d.server.cors_origins.empty());
  EXPECT_EQ(d.server.prepare_threads, 2);
  Config c = parse_config(R"(
[server]
max_connections = 100
max_connections_per_client = 8
cors_origins = ["https://app.example", "*"]
prepare_threads = 3
)",
                          "t.toml");
  EXPECT_EQ(c.server.max_connections, 100);
  EXPECT_EQ(c.server.max_connections_per_client, 8);
  EXPECT_EQ(c.server.cors_origins, (std::vector<std::string>{"https://app.example", "*"}));
  EXPECT_EQ(c.server.prepare_threads, 3);
  EXPECT_NE(error_of("[server]\nmax_connections = 0\n").find("[server] max_connections: expected"), std::string::npos);
  EXPECT_NE(error_of("[server]\nmax_connections_per_client = -1\n").find("expected"), std::string::npos);
  EXPECT_NE(error_of("[server]\ncors_origins = [\"\"]\n").find("non-empty origins"), std::string::npos);
  EXPECT_NE(error_of("[server]\nprepare_threads = 0\n").find("prepare_threads: expected"), std::string::npos);
}

TEST(Config, SyntaxErrorNamesLine) {
  std::string e = error_of("[server]\nport = \n");
  EXPECT_EQ(e.rfind("t.toml:2:", 0), 0u) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos);
}

TEST(Config, OverridesWinAndAreValidated) {
  Config c = parse_config("[server]\nport = 9000\n", "t.toml");
  ConfigOverrides o;
  o.port = 0;
  o.model_path = "/m.gguf";
  o.backend = "cpu";
  apply_overrides(c, o);
  EXPECT_EQ(c.server.port, 0);
  EXPECT_EQ(c.model.path, "/m.gguf");
  EXPECT_EQ(c.engine.backend, "cpu");
  ConfigOverrides bad;
  bad.backend = "tpu";
  EXPECT_THROW(apply_overrides(c, bad), ConfigError);
  ConfigOverrides bad_port;
  bad_port.port = 65536;
  EXPECT_THROW(apply_overrides(c, bad_port), ConfigError);
}

TEST(Config, MissingFile) {
  try {
    load_config_file("/nonexistent/tandem.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/tandem.toml: cannot open the config file");
  }
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(Config, DiscoveryKeysAreReadAndChecked) {
  Config c = parse_config(R"(
[discovery]
dir = "/run/tandem/peers"
id = "box-1.a_b"
advertise_url = "http://10.0.0.5:8000"
ttl_s = 6
peer_key = "s3cret"
forward_queue_threshold = 0
max_hops = 2
)",
                          "t.toml");
  EXPECT_EQ(c.discovery.dir, "/run/tandem/peers");
  EXPECT_EQ(c.discovery.id, "box-1.a_b");
  EXPECT_EQ(c.discovery.advertise_url, "http://10.0.0.5:8000");
  EXPECT_EQ(c.discovery.ttl_s, 6);
  EXPECT_EQ(c.discovery.peer_key, "s3cret");
  EXPECT_EQ(c.discovery.forward_queue_threshold, 0);
  EXPECT_EQ(c.discovery.max_hops, 2);
  EXPECT_TRUE(Config().discovery.dir.empty());

  EXPECT_NE(error_of("[discovery]\ndir = \"/tmp/x\"\n").find("[discovery] peer_key: expected a non-empty key"),
            std::string::npos);
  EXPECT_NE(error_of("[discovery]\nid = \"a/b\"\n").find("[discovery] id: expected 1..128 characters"),
            std::string::npos);
  EXPECT_NE(error_of("[discovery]\nid = \".x\"\n").find("[discovery] id"), std::string::npos);
  EXPECT_NE(error_of("[discovery]\nadvertise_url = \"https://x:1\"\n").find("[discovery] advertise_url"),
            std::string::npos);
  EXPECT_NE(error_of("[discovery]\nttl_s = 0\n").find("[discovery] ttl_s"), std::string::npos);
  EXPECT_NE(error_of("[discovery]\nmax_hops = 9\n").find("[discovery] max_hops"), std::string::npos);
  EXPECT_NE(error_of("[discovery]\nttl = 3\n").find("[discovery] ttl: unknown key"), std::string::npos);
}

}  // namespace
}  // namespace tandem
