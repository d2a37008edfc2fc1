// cpu_bench: decode throughput of the CPU runner on a model file, driving
// CpuRunner directly (no scheduler, no HTTP). For each batch size B: B
// sequences are prefilled with --prompt-tokens tokens each (one step per
// sequence), then --decode-tokens steps each decode one greedy token for all
// B sequences in one batched step. Reports decode tokens/s (aggregate over
// the batch), median over --repeats runs. bench/cpu/bench_cpu.py runs this
// next to llama.cpp and records the comparison (docs/benchmarks.md).
//
// Usage: cpu_bench --model PATH [--threads N] [--batches 1,8]
//                  [--prompt-tokens 64] [--decode-tokens 64] [--repeats 3]
// stdout: a table; the last line per batch size is machine-readable:
//   RESULT batch=B tokens_per_s=X ms_per_step=Y
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/engine_tuning.h"
#include "engine/cpu/cpu_runner.h"
#include "engine/model_loader.h"

namespace {

using namespace tandem;
using namespace tandem::engine;

int fail(const std::string& msg) {
  std::fprintf(stderr, "cpu_bench: %s\n", msg.c_str());
  return 1;
}

int32_t argmax(const float* v, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

// Deterministic prompt ids (the same formula as bench_cpu.py uses for llama.cpp).
int32_t prompt_id(int seq, int k, int vocab) {
  return static_cast<int32_t>((static_cast<int64_t>(k) * 7919 + static_cast<int64_t>(seq) * 104729 + 17) % vocab);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, batches_arg = "1,8";
  int threads = 0, prompt_tokens = 64, decode_tokens = 64, repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    try {
      if (a == "--model")
        model = v;
      else if (a == "--threads")
        threads = std::stoi(v);
      else if (a == "--batches")
        batches_arg = v;
      else if (a == "--prompt-tokens")
        prompt_tokens = std::stoi(v);
      else if (a == "--decode-tokens")
        decode_tokens = std::stoi(v);
      else if (a == "--repeats")
        repeats = std::stoi(v);
      else
        return fail("unknown option " + a);
    } catch (const std::exception&) {
      return fail("bad value for " + a);
    }
  }
  if (model.empty()) return fail("usage: cpu_bench --model PATH [--threads N] [--batches 1,8]");
  if (prompt_tokens < 1 || decode_tokens < 1 || repeats < 1) return fail("counts must be >= 1");
  std::vector<int> batches;
  {
    std::stringstream ss(batches_arg);
    std::string item;
    while (std::getline(ss, item, ',')) batches.push_back(std::stoi(item));
  }
  const int max_batch = *std::max_element(batches.begin(), batches.end());

  auto loaded = load_model(model, DType::kF32);
  if (!loaded.ok()) return fail(loaded.status().to_string());
  const int vocab = loaded->spec.vocab;
  const int block_tokens = 16;
  const int blocks_per_seq = (prompt_tokens + decode_tokens + block_tokens - 1) / block_tokens;
  cpu::CpuRunnerOptions opts;
  EngineTuning tuning;  // the defaults, with the environment's overrides as `tandem serve` takes them
  try {
    apply_tuning_environment(tuning);
  } catch (const ConfigError& e) {
    return fail(e.what());
  }
  opts.tuning = tuning.cpu;
  opts.threads = threads;
  opts.block_tokens = block_tokens;
  opts.num_blocks = blocks_per_seq * max_batch;
  auto made = cpu::make_cpu_runner(loaded->spec, std::move(loaded->weights), opts);
  if (!made.ok()) return fail(made.status().to_string());
  Runner& runner = *made.value();
  const auto& cpu_runner = dynamic_cast<cpu::CpuRunner&>(runner);
  std::printf("cpu_bench: %s, kernels %s, %d threads, prompt %d, decode %d, repeats %d\n", model.c_str(),
              cpu_runner.kernels_name(), cpu_runner.threads(), prompt_tokens, decode_tokens, repeats);
  std::printf("%8s %14s %14s\n", "batch", "decode tok/s", "ms/step");

  std::vector<float> logits;
  for (int B : batches) {
    std::vector<double> rates;
    for (int rep = 0; rep < repeats; ++rep) {
      std::vector<std::vector<int32_t>> seqs(B), tables(B);
      for (int s = 0; s < B; ++s) {
        for (int k = 0; k < prompt_tokens; ++k) seqs[s].push_back(prompt_id(s, k, vocab));
        for (int b = 0; b < blocks_per_seq; ++b) tables[s].push_back(s * blocks_per_seq + b);
        StepBatch prefill;
        prefill.seqs.push_back({seqs[s], 0, tables[s], true});
        if (Status st = runner.step(prefill, logits); !st.ok()) return fail(st.to_string());
        seqs[s].push_back(argmax(logits.data(), vocab));
      }
      const auto t0 = std::chrono::steady_clock::now();
      for (int d = 0; d < decode_tokens; ++d) {
        StepBatch step;
        for (int s = 0; s < B; ++s) {
          const int pos = prompt_tokens + d;
          step.seqs.push_back({std::span(seqs[s]).subspan(pos, 1), pos, tables[s], true});
        }
        if (Status st = runner.step(step, logits); !st.ok()) return fail(st.to_string());
        for (int s = 0; s < B; ++s) seqs[s].push_back(argmax(logits.data() + static_cast<size_t>(s) * vocab, vocab));
      }
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rates.push_back(B * decode_tokens / sec);
    }
    std::sort(rates.begin(), rates.end());
    const double median = rates[rates.size() / 2];
    std::printf("%8d %14.1f %14.2f\n", B, median, 1000.0 * B / median);
    std::printf("RESULT batch=%d tokens_per_s=%.2f ms_per_step=%.3f\n", B, median, 1000.0 * B / median);
  }
  return 0;
}
