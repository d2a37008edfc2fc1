// cuda_logits_driver: runs a scripted multi-step scenario through a Runner
// (CUDA or CPU) and writes every logits row it returns, for
// run_gpu_checks.py to compare with Hugging Face transformers; and the CUDA
// engine benchmark (bench/gpu/run_cuda_bench.sh).
//
//   cuda_logits_driver check --model DIR --scenario FILE --out FILE [--backend cuda|cpu]
//                            [--graphs 0|1] [--threads N] [--max-blocks N]
//   cuda_logits_driver bench --model DIR [--json FILE] [--graphs 0|1] [--skip-ceilings]
//   cuda_logits_driver ceilings
//
// Scenario file (text): "block_tokens N", then "seq ID N t0 t1 ... tN-1" (every
// token the sequence will ever hold: prompt then decode tokens), then one
// "step ID:COUNT:WANT ..." line per step (COUNT new tokens of sequence ID,
// WANT 1 to return logits for the last one). Block tables are drawn from a
// shuffled pool, so sequences are scattered over non-contiguous blocks.
// Output: for each returned row, int32 seq id, int32 position, then vocab
// float32 logits.
#include <cuda_bf16.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/engine_tuning.h"
#include "engine/cpu/cpu_runner.h"
#include "engine/cuda/cuda_runner.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/gemm_lt.h"
#include "engine/model_loader.h"

namespace {

using namespace tandem;
using namespace tandem::engine;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "cuda_logits_driver: %s\n", msg.c_str());
  std::exit(1);
}

void ok_or_die(const Status& s, const std::string& what) {
  if (!s.ok()) die(what + ": " + s.to_string());
}

std::map<std::string, std::string> parse_flags(int argc, char** argv, int from) {
  std::map<std::string, std::string> f;
  for (int i = from; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) die("unexpected argument " + k);
    if (i + 1 >= argc) die("flag " + k + " needs a value");
    f[k.substr(2)] = argv[++i];
  }
  return f;
}

std::string flag(const std::map<std::string, std::string>& f, const std::string& k, const std::string& def = "") {
  auto it = f.find(k);
  if (it != f.end()) return it->second;
  if (def.empty()) die("missing --" + k);
  return def;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Hands out block ids from a shuffled pool.
class BlockAllocator {
 public:
  BlockAllocator(int n, uint64_t seed) : free_(n) {
    std::iota(free_.begin(), free_.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(free_.begin(), free_.end(), rng);
  }
  std::vector<int32_t> take(int64_t count) {
    if (count > static_cast<int64_t>(free_.size())) die("KV pool too small for the scenario");
    std::vector<int32_t> out(free_.end() - count, free_.end());
    free_.resize(free_.size() - count);
    return out;
  }
  void give(const std::vector<int32_t>& blocks) { free_.insert(free_.end(), blocks.begin(), blocks.end()); }

 private:
  std::vector<int32_t> free_;
};

struct Model {
  LoadedModel loaded;
};

std::unique_ptr<Runner> make_runner(const std::string& path, const std::string& backend,
                                    const std::map<std::string, std::string>& f, int max_batch_tokens, int max_running,
                                    const EngineTuning& tuning) {
  const double t0 = now_ms();
  auto loaded = load_model(path, DType::kBF16);
  if (!loaded.ok()) die("load_model(" + path + "): " + loaded.status().to_string());
  std::fprintf(stderr, "loaded %s (%s, %d layers) in %.1f s\n", path.c_str(), architecture_name(loaded->spec.arch),
               loaded->spec.n_layers, (now_ms() - t0) / 1000);
  const int max_blocks = std::stoi(flag(f, "max-blocks", "0"));
  if (backend == "cuda") {
    cuda::CudaRunnerOptions o;
    o.max_batch_tokens = max_batch_tokens;
    o.max_running = max_running;
    o.cuda_graphs = flag(f, "graphs", "1") == "1";
    o.gpu_memory_fraction = std::stod(flag(f, "memory-fraction", "0.9"));
    o.max_blocks = max_blocks;
    o.tuning = tuning.cuda;
    auto r = cuda::make_cuda_runner(loaded->spec, std::move(loaded->weights), o);
    if (!r.ok()) die("make_cuda_runner: " + r.status().to_string());
    return std::move(r.value());
  }
  if (backend == "cpu") {
    cpu::CpuRunnerOptions o;
    o.threads = std::stoi(flag(f, "threads", "0"));
    o.num_blocks = max_blocks > 0 ? max_blocks : 4096;
    o.weight_storage = DType::kBF16;
    o.tuning = tuning.cpu;
    auto r = cpu::make_cpu_runner(loaded->spec, std::move(loaded->weights), o);
    if (!r.ok()) die("make_cpu_runner: " + r.status().to_string());
    return std::move(r.value());
  }
  die("unknown backend " + backend);
}

int run_check(const std::map<std::string, std::string>& f, const EngineTuning& tuning) {
  std::ifstream in(flag(f, "scenario"));
  if (!in) die("cannot read the scenario file");
  std::map<int, std::vector<int32_t>> seq_tokens;
  std::vector<std::vector<std::tuple<int, int, bool>>> steps;
  std::string line;
  int block_tokens = 16;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind;
    if (!(ls >> kind)) continue;
    if (kind == "block_tokens") {
      ls >> block_tokens;
    } else if (kind == "seq") {
      int id = 0, n = 0;
      ls >> id >> n;
      std::vector<int32_t> t(n);
      for (int i = 0; i < n; ++i) ls >> t[i];
      if (!ls) die("bad seq line");
      seq_tokens[id] = std::move(t);
    } else if (kind == "step") {
      std::vector<std::tuple<int, int, bool>> st;
      std::string item;
      while (ls >> item) {
        int id = 0, count = 0, want = 0;
        if (std::sscanf(item.c_str(), "%d:%d:%d", &id, &count, &want) != 3) die("bad step item " + item);
        st.emplace_back(id, count, want != 0);
      }
      steps.push_back(std::move(st));
    } else {
      die("unknown scenario line: " + kind);
    }
  }
  int max_step_tokens = 1, max_seqs = 1;
  for (const auto& st : steps) {
    int n = 0;
    for (const auto& [id, count, want] : st) n += count;
    max_step_tokens = std::max(max_step_tokens, n);
    max_seqs = std::max(max_seqs, static_cast<int>(st.size()));
  }
  auto runner = make_runner(flag(f, "model"), flag(f, "backend", "cuda"), f, std::max(max_step_tokens, 8192),
                            std::max(max_seqs, 64), tuning);
  if (runner->block_tokens() != block_tokens) die("runner block_tokens differs from the scenario's");
  BlockAllocator alloc(runner->num_blocks(), 1234);
  std::map<int, std::vector<int32_t>> tables;
  std::map<int, int> cursor;
  for (const auto& [id, toks] : seq_tokens) {
    tables[id] = alloc.take((static_cast<int64_t>(toks.size()) + block_tokens - 1) / block_tokens);
    cursor[id] = 0;
  }
  std::ofstream out(flag(f, "out"), std::ios::binary);
  std::vector<float> logits;
  const int vocab = runner->spec().vocab;
  double total_ms = 0;
  for (size_t si = 0; si < steps.size(); ++si) {
    StepBatch batch;
    for (const auto& [id, count, want] : steps[si]) {
      const auto& toks = seq_tokens.at(id);
      const int c = cursor.at(id);
      if (c + count > static_cast<int>(toks.size())) die("step runs past the end of seq " + std::to_string(id));
      SequenceStep s;
      s.tokens = std::span<const int32_t>(toks.data() + c, count);
      s.start_pos = c;
      s.block_table = tables.at(id);
      s.want_logits = want;
      batch.seqs.push_back(s);
    }
    const double t0 = now_ms();
    ok_or_die(runner->step(batch, logits), "step " + std::to_string(si));
    total_ms += now_ms() - t0;
    size_t row = 0;
    for (const auto& [id, count, want] : steps[si]) {
      cursor[id] += count;
      if (!want) continue;
      const int32_t hdr[2] = {id, cursor[id] - 1};
      out.write(reinterpret_cast<const char*>(hdr), sizeof(hdr));
      out.write(reinterpret_cast<const char*>(logits.data() + row * vocab), sizeof(float) * vocab);
      ++row;
    }
    if (row * vocab != logits.size()) die("runner returned an unexpected number of logits rows");
  }
  std::fprintf(stderr, "check: %zu steps in %.1f ms\n", steps.size(), total_ms);
  return 0;
}

// ---- bench ----

struct Ceilings {
  double copy_tbs = 0;     // device copy, bytes read + written
  double gemm_tflops = 0;  // bf16 8192^3 through GemmLt
};

Ceilings measure_ceilings(const CudaTuning& tuning) {
  using cuda::DeviceBuffer;
  Ceilings c;
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  {
    const size_t bytes = size_t{2} << 30;
    DeviceBuffer a, b;
    ok_or_die(a.allocate(bytes, "copy src"), "alloc");
    ok_or_die(b.allocate(bytes, "copy dst"), "alloc");
    cudaMemset(a.get(), 1, bytes);
    std::vector<double> ms;
    for (int i = 0; i < 12; ++i) {
      cudaEventRecord(e0, stream);
      cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, stream);
      cudaEventRecord(e1, stream);
      cudaEventSynchronize(e1);
      float t = 0;
      cudaEventElapsedTime(&t, e0, e1);
      if (i >= 2) ms.push_back(t);
    }
    c.copy_tbs = 2.0 * bytes / (median(ms) * 1e-3) / 1e12;
  }
  {
    const int n = 8192;
    const size_t elems = static_cast<size_t>(n) * n;
    std::vector<__nv_bfloat16> host(elems);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& v : host) v = __float2bfloat16(dist(rng));
    DeviceBuffer w, x, y;
    ok_or_die(w.allocate(elems * 2, "gemm w"), "alloc");
    ok_or_die(x.allocate(elems * 2, "gemm x"), "alloc");
    ok_or_die(y.allocate(elems * 2, "gemm y"), "alloc");
    cudaMemcpy(w.get(), host.data(), elems * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(x.get(), host.data(), elems * 2, cudaMemcpyHostToDevice);
    cuda::GemmLt gemm;
    ok_or_die(gemm.init(size_t{32} << 20), "gemm init");
    gemm.set_tuning(tuning.gemm_autotune);
    std::vector<double> ms;
    for (int i = 0; i < 13; ++i) {
      cudaEventRecord(e0, stream);
      ok_or_die(gemm.run({w.get<__nv_bfloat16>(), x.get<__nv_bfloat16>(), y.get(), cuda::GemmOut::kBF16, n, n, n, 0.0f},
                         stream),
                "gemm");
      cudaEventRecord(e1, stream);
      cudaEventSynchronize(e1);
      float t = 0;
      cudaEventElapsedTime(&t, e0, e1);
      if (i >= 3) ms.push_back(t);
    }
    c.gemm_tflops = 2.0 * n * static_cast<double>(n) * n / (median(ms) * 1e-3) / 1e12;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaStreamDestroy(stream);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) die(std::string("ceilings: ") + cudaGetErrorString(e));
  std::printf("ceiling  hbm_copy_TBps %.3f  bf16_gemm_8192_TFLOPs %.1f\n", c.copy_tbs, c.gemm_tflops);
  return c;
}

int run_bench(const std::map<std::string, std::string>& f, const EngineTuning& tuning) {
  Ceilings c;
  if (flag(f, "skip-ceilings", "0") != "1") c = measure_ceilings(tuning.cuda);
  const std::string path = flag(f, "model");
  auto runner = make_runner(path, "cuda", f, 8192, 256, tuning);
  const ModelSpec& spec = runner->spec();
  const int bt = runner->block_tokens();
  const int64_t hidden = spec.hidden, hd = spec.head_dim, inter = spec.intermediate;
  const int64_t layer_params =
      hidden * (spec.n_heads + 2 * spec.n_kv_heads) * hd + spec.n_heads * hd * hidden + 3 * hidden * inter;
  const double matmul_params = static_cast<double>(layer_params) * spec.n_layers;  // per token, excluding the head
  const double head_params = static_cast<double>(spec.vocab) * hidden;
  const double decode_bytes = 2.0 * (matmul_params + head_params);
  std::FILE* json = nullptr;
  if (f.count("json")) json = std::fopen(f.at("json").c_str(), "a");
  auto emit = [&](const std::string& s) {
    std::printf("%s\n", s.c_str());
    if (json) std::fprintf(json, "%s\n", s.c_str());
  };
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "{\"model\":\"%s\",\"ceiling_copy_TBps\":%.3f,\"ceiling_gemm_TFLOPs\":%.1f,\"decode_bytes_GB\":%.3f}",
                path.c_str(), c.copy_tbs, c.gemm_tflops, decode_bytes / 1e9);
  emit(buf);

  // Decode-shaped matrix products alone (GEMV-like at small n): bandwidth
  // achieved streaming the weight, rotating over copies so L2 cannot hold them.
  {
    const int64_t q_dim = spec.n_heads * hd, qkv_dim = (spec.n_heads + 2 * spec.n_kv_heads) * hd;
    const std::vector<std::pair<const char*, std::pair<int64_t, int64_t>>> shapes = {{"qkv", {qkv_dim, hidden}},
                                                                                     {"o", {hidden, q_dim}},
                                                                                     {"gate_up", {2 * inter, hidden}},
                                                                                     {"down", {hidden, inter}},
                                                                                     {"lm_head", {spec.vocab, hidden}}};
    cuda::GemmLt gemm;
    ok_or_die(gemm.init(size_t{32} << 20), "gemm init");
    gemm.set_tuning(tuning.cuda.gemm_autotune);
    cudaStream_t stream;
    cudaStreamCreate(&stream);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    for (const auto& [name, mk] : shapes) {
      const auto [m, k] = mk;
      const size_t wbytes = static_cast<size_t>(m) * k * 2;
      const int copies = static_cast<int>(std::max<size_t>(2, (size_t{512} << 20) / wbytes + 1));
      cuda::DeviceBuffer w, x, y;
      ok_or_die(w.allocate(wbytes * copies, "gemv w"), "alloc");
      ok_or_die(x.allocate(static_cast<size_t>(64) * k * 2, "gemv x"), "alloc");
      ok_or_die(y.allocate(static_cast<size_t>(64) * m * 4, "gemv y"), "alloc");
      cudaMemset(w.get(), 0x3c, wbytes * copies);  // bf16 ~0.011: finite, non-zero
      cudaMemset(x.get(), 0x3c, static_cast<size_t>(64) * k * 2);
      for (auto [n, own_gemv] : {std::pair{1, true}, std::pair{1, false}, std::pair{2, true}, std::pair{2, false},
                                 std::pair{4, false}, std::pair{8, false}, std::pair{64, false}}) {
        gemm.set_small_n_gemv(own_gemv);
        auto run = [&](int i) {
          const auto* wp = w.get<__nv_bfloat16>() + (i % copies) * static_cast<size_t>(m) * k;
          ok_or_die(gemm.run({wp, x.get<__nv_bfloat16>(), y.get(), cuda::GemmOut::kF32, static_cast<int>(m), n,
                              static_cast<int>(k), 0.0f},
                             stream),
                    "gemv");
        };
        for (int i = 0; i < 3; ++i) run(i);
        const int reps = 60;
        cudaEventRecord(e0, stream);
        for (int i = 0; i < reps; ++i) run(i);
        cudaEventRecord(e1, stream);
        cudaEventSynchronize(e1);
        float t = 0;
        cudaEventElapsedTime(&t, e0, e1);
        const double us = t * 1e3 / reps;
        std::snprintf(buf, sizeof(buf),
                      "{\"bench\":\"gemm_alone\",\"matrix\":\"%s\",\"m\":%lld,\"k\":%lld,\"n\":%d,\"path\":\"%s\","
                      "\"us\":%.2f,\"weight_GBps\":%.0f}",
                      name, static_cast<long long>(m), static_cast<long long>(k), n, own_gemv ? "gemv" : "cublaslt", us,
                      wbytes / (us * 1e-6) / 1e9);
        emit(buf);
      }
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaStreamDestroy(stream);
  }

  BlockAllocator alloc(runner->num_blocks(), 99);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> tok(0, spec.vocab - 1);
  std::vector<float> logits;

  struct Seq {
    std::vector<int32_t> tokens;
    std::vector<int32_t> table;
    int pos = 0;
  };
  auto make_seqs = [&](int n, int ctx, int extra) {
    std::vector<Seq> seqs(n);
    for (auto& s : seqs) {
      s.tokens.resize(ctx + extra);
      for (auto& t : s.tokens) t = tok(rng);
      s.table = alloc.take((ctx + extra + bt - 1) / bt);
    }
    return seqs;
  };
  auto prefill = [&](std::vector<Seq>& seqs, int ctx) {
    // Chunked: up to 8192 tokens per step.
    size_t i = 0;
    while (i < seqs.size()) {
      StepBatch b;
      int budget = 8192;
      while (i < seqs.size() && budget > 0) {
        Seq& s = seqs[i];
        const int n = std::min(budget, ctx - s.pos);
        b.seqs.push_back({std::span<const int32_t>(s.tokens.data() + s.pos, n), s.pos, s.table, s.pos + n == ctx});
        s.pos += n;
        budget -= n;
        if (s.pos == ctx) ++i;
      }
      ok_or_die(runner->step(b, logits), "prefill");
    }
  };
  auto decode = [&](std::vector<Seq>& seqs, int steps) {
    std::vector<double> ms;
    for (int k = 0; k < steps; ++k) {
      StepBatch b;
      for (Seq& s : seqs)
        b.seqs.push_back({std::span<const int32_t>(s.tokens.data() + s.pos, 1), s.pos, s.table, true});
      const double t0 = now_ms();
      ok_or_die(runner->step(b, logits), "decode");
      ms.push_back(now_ms() - t0);
      for (Seq& s : seqs) ++s.pos;
    }
    ms.erase(ms.begin(), ms.begin() + std::min<size_t>(ms.size() / 4, 4));  // warm-up (graph capture)
    return median(ms);
  };
  auto release = [&](std::vector<Seq>& seqs) {
    for (auto& s : seqs) alloc.give(s.table);
  };

  // Batch-1 decode latency at a short context.
  {
    auto seqs = make_seqs(1, 128, 130);
    prefill(seqs, 128);
    const double ms = decode(seqs, 128);
    const double floor_ms = c.copy_tbs > 0 ? decode_bytes / (c.copy_tbs * 1e12) * 1e3 : 0;
    std::snprintf(
        buf, sizeof(buf),
        "{\"bench\":\"decode_b1\",\"ctx\":128,\"ms_per_token\":%.4f,\"hbm_floor_ms\":%.4f,\"fraction_of_floor\":%.3f}",
        ms, floor_ms, floor_ms > 0 ? floor_ms / ms : 0.0);
    emit(buf);
    // The serving path: step_and_sample (GPU sampling, no logits copy to the host),
    // greedy and with Qwen3's recommended defaults (temperature 0.6, top_k 20, top_p 0.95).
    const std::vector<int32_t> no_tokens;
    SamplingParams greedy, qwen3;
    greedy.temperature = 0.0f;
    qwen3.temperature = 0.6f;
    qwen3.top_k = 20;
    qwen3.top_p = 0.95f;
    for (const auto& [mode, params] : {std::pair<const char*, const SamplingParams&>{"greedy", greedy},
                                       std::pair<const char*, const SamplingParams&>{"qwen3_defaults", qwen3}}) {
      std::vector<double> ms;
      std::vector<SampledToken> out;
      const bool profile = std::getenv("TANDEM_PROFILE_DECODE") != nullptr && std::string(mode) == "greedy";
      for (int k = 0; k < 64; ++k) {
        Seq& s = seqs[0];
        if (s.pos + 1 > static_cast<int>(s.tokens.size())) break;
        StepBatch b;
        b.seqs.push_back({std::span<const int32_t>(s.tokens.data() + s.pos, 1), s.pos, s.table, true});
        SampleRow row;
        row.params = &params;
        row.prompt = std::span<const int32_t>(s.tokens.data(), 1);
        row.output = std::span<const int32_t>(no_tokens);
        row.seed = 7;
        // Profiler window (ncu --profile-from-start off): three graph replays after the warm-up.
        if (profile && k == 8) cudaProfilerStart();
        const double t0 = now_ms();
        ok_or_die(runner->step_and_sample(b, std::span<const SampleRow>(&row, 1), out, {}), "decode sampled");
        ms.push_back(now_ms() - t0);
        if (profile && k == 10) cudaProfilerStop();
        // Re-decode the same position: the KV slot is rewritten with the same token.
      }
      ms.erase(ms.begin(), ms.begin() + 4);
      std::snprintf(buf, sizeof(buf),
                    "{\"bench\":\"decode_b1_sampled\",\"ctx\":%d,\"sampling\":\"%s\",\"ms_per_token\":%.4f}",
                    seqs[0].pos, mode, median(ms));
      emit(buf);
    }
    release(seqs);
    if (std::getenv("TANDEM_PROFILE_DECODE") != nullptr) return 0;  // the profiling run wants batch 1 only
  }
  // Decode throughput with 1K context.
  for (int b : {1, 8, 32, 64, 128, 256}) {
    auto seqs = make_seqs(b, 1024, 40);
    prefill(seqs, 1024);
    const double ms = decode(seqs, 32);
    // The host copy of the logits rows is part of the step (Runner interface); time it alone.
    double copy_ms = 0;
    {
      cuda::DeviceBuffer d;
      ok_or_die(d.allocate(static_cast<size_t>(b) * spec.vocab * 4, "logits copy"), "alloc");
      float* h = nullptr;
      cudaMallocHost(reinterpret_cast<void**>(&h), static_cast<size_t>(b) * spec.vocab * 4);
      std::vector<double> t;
      for (int i = 0; i < 5; ++i) {
        const double t0 = now_ms();
        cudaMemcpy(h, d.get(), static_cast<size_t>(b) * spec.vocab * 4, cudaMemcpyDeviceToHost);
        t.push_back(now_ms() - t0);
      }
      copy_ms = median(t);
      cudaFreeHost(h);
    }
    std::snprintf(
        buf, sizeof(buf),
        "{\"bench\":\"decode_throughput\",\"batch\":%d,\"ctx\":1024,\"ms_per_step\":%.4f,\"tokens_per_s\":%.1f,"
        "\"logits_d2h_ms\":%.4f}",
        b, ms, b / ms * 1e3, copy_ms);
    emit(buf);
    release(seqs);
  }
  // Prefill throughput.
  for (int n : {512, 2048, 8192}) {
    std::vector<double> ms;
    for (int rep = 0; rep < 5; ++rep) {
      auto seqs = make_seqs(1, n, 0);
      StepBatch b;
      b.seqs.push_back({seqs[0].tokens, 0, seqs[0].table, true});
      const double t0 = now_ms();
      ok_or_die(runner->step(b, logits), "prefill bench");
      ms.push_back(now_ms() - t0);
      release(seqs);
    }
    ms.erase(ms.begin());
    const double t = median(ms);
    const double flops = 2.0 * matmul_params * n + 2.0 * head_params +
                         2.0 * spec.n_layers * static_cast<double>(n) * n * spec.n_heads * hd;  // causal QK + PV
    std::snprintf(buf, sizeof(buf),
                  "{\"bench\":\"prefill\",\"tokens\":%d,\"ms\":%.3f,\"tokens_per_s\":%.0f,\"TFLOPs\":%.1f,"
                  "\"fraction_of_gemm_peak\":%.3f}",
                  n, t, n / t * 1e3, flops / (t * 1e-3) / 1e12,
                  c.gemm_tflops > 0 ? flops / (t * 1e-3) / 1e12 / c.gemm_tflops : 0.0);
    emit(buf);
  }
  if (json) std::fclose(json);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: cuda_logits_driver check|bench|ceilings --flag value ...");
  const std::string mode = argv[1];
  const auto f = parse_flags(argc, argv, 2);
  EngineTuning tuning;  // the defaults, with the environment's overrides as `tandem serve` takes them
  try {
    apply_tuning_environment(tuning);
  } catch (const ConfigError& e) {
    die(e.what());
  }
  if (mode == "check") return run_check(f, tuning);
  if (mode == "bench") return run_bench(f, tuning);
  if (mode == "ceilings") {
    measure_ceilings(tuning.cuda);
    return 0;
  }
  die("unknown mode " + mode);
}
