// cpu_logits: runs the CPU runner on a model file for the reference tests
// (tests/reference/llamacpp/). Loads the model with engine::load_model, then
// feeds every prompt one token per step, all prompts in the same batch (so
// the decode path and mixed batching are what is tested), recording the
// logits at every prompt position; then continues each prompt greedily for
// --generate tokens. Finally, re-runs each prompt as one prefill chunk and
// reports the largest difference from the token-by-token logits at the last
// prompt position (expected 0: batch invariance).
//
// Usage: cpu_logits --model PATH --prompts FILE --out FILE [--threads N]
//                   [--generate N] [--block-tokens N] [--weights f16|bf16|f32]
// FILE (prompts): one prompt per line, token ids separated by spaces.
// --out: float32 rows [rows, vocab]: per prompt, its n prompt positions, then
// the generate - 1 positions of the continuation (the rows that chose
// generated tokens 1..generate-1).
// stdout: one JSON object {vocab, kernels, threads, load_seconds, run_seconds,
// prefill_max_abs_diff, prompts: [{n_prompt, row_offset, generated: [...]}]}.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
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
  std::fprintf(stderr, "cpu_logits: %s\n", msg.c_str());
  return 1;
}

int32_t argmax(const float* v, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, prompts_path, out_path, weights = "f16";
  int threads = 0, generate = 0, block_tokens = 16;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return fail("missing value after " + a);
    const std::string v = argv[++i];
    try {
      if (a == "--model")
        model = v;
      else if (a == "--prompts")
        prompts_path = v;
      else if (a == "--out")
        out_path = v;
      else if (a == "--threads")
        threads = std::stoi(v);
      else if (a == "--generate")
        generate = std::stoi(v);
      else if (a == "--block-tokens")
        block_tokens = std::stoi(v);
      else if (a == "--weights")
        weights = v;
      else
        return fail("unknown option " + a);
    } catch (const std::exception&) {
      return fail("bad value for " + a + ": " + v);
    }
  }
  if (model.empty() || prompts_path.empty() || out_path.empty()) {
    return fail("usage: cpu_logits --model PATH --prompts FILE --out FILE [--threads N] [--generate N]");
  }
  if (generate < 0 || block_tokens < 1) return fail("--generate must be >= 0 and --block-tokens >= 1");
  DType storage;
  if (weights == "f16")
    storage = DType::kF16;
  else if (weights == "bf16")
    storage = DType::kBF16;
  else if (weights == "f32")
    storage = DType::kF32;
  else
    return fail("--weights must be f16, bf16 or f32");

  std::vector<std::vector<int32_t>> prompts;
  {
    std::ifstream in(prompts_path);
    if (!in) return fail("cannot read " + prompts_path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::vector<int32_t> ids;
      long long id;
      while (ls >> id) ids.push_back(static_cast<int32_t>(id));
      if (!ls.eof()) return fail("bad token id in " + prompts_path);
      if (!ids.empty()) prompts.push_back(std::move(ids));
    }
  }
  if (prompts.empty()) return fail("no prompts in " + prompts_path);

  const auto t_load = std::chrono::steady_clock::now();
  auto loaded = load_model(model, DType::kF32);
  if (!loaded.ok()) return fail(loaded.status().to_string());
  const ModelSpec spec = loaded->spec;
  const int vocab = spec.vocab;
  // Blocks: each prompt's full length twice (token-by-token run, then the prefill check).
  std::vector<std::vector<int32_t>> tables(prompts.size()), check_tables(prompts.size());
  int next_block = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int len = static_cast<int>(prompts[i].size()) + generate;
    const int blocks = (len + block_tokens - 1) / block_tokens;
    for (int b = 0; b < blocks; ++b) tables[i].push_back(next_block++);
    for (int b = 0; b < blocks; ++b) check_tables[i].push_back(next_block++);
  }
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
  opts.num_blocks = next_block;
  opts.weight_storage = storage;
  auto made = cpu::make_cpu_runner(spec, std::move(loaded->weights), opts);
  if (!made.ok()) return fail(made.status().to_string());
  Runner& runner = *made.value();
  const auto& cpu_runner = dynamic_cast<cpu::CpuRunner&>(runner);
  const double load_seconds = seconds_since(t_load);

  // Rows: prompt positions, then generate - 1 continuation positions.
  std::vector<size_t> row_offset(prompts.size());
  size_t total_rows = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    row_offset[i] = total_rows;
    total_rows += prompts[i].size() + static_cast<size_t>(std::max(0, generate - 1));
  }
  std::vector<float> rows(total_rows * vocab);
  std::vector<std::vector<int32_t>> seqs(prompts);  // prompt + generated so far
  std::vector<std::vector<int32_t>> generated(prompts.size());

  const auto t_run = std::chrono::steady_clock::now();
  std::vector<float> logits;
  for (int pos = 0;; ++pos) {
    StepBatch batch;
    std::vector<size_t> who;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int n = static_cast<int>(prompts[i].size());
      if (pos >= n + generate - 1) continue;
      batch.seqs.push_back({std::span(seqs[i]).subspan(pos, 1), pos, tables[i], true});
      who.push_back(i);
    }
    if (batch.seqs.empty()) break;
    if (Status s = runner.step(batch, logits); !s.ok()) return fail(s.to_string());
    for (size_t j = 0; j < who.size(); ++j) {
      const size_t i = who[j];
      const float* row = logits.data() + j * vocab;
      std::memcpy(rows.data() + (row_offset[i] + pos) * vocab, row, sizeof(float) * vocab);
      if (pos + 1 >= static_cast<int>(prompts[i].size()) && generate > 0) {
        const int32_t next = argmax(row, vocab);
        generated[i].push_back(next);
        seqs[i].push_back(next);
      }
    }
  }
  const double run_seconds = seconds_since(t_run);

  double prefill_diff = 0.0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    StepBatch batch;
    batch.seqs.push_back({prompts[i], 0, check_tables[i], true});
    if (Status s = runner.step(batch, logits); !s.ok()) return fail(s.to_string());
    const float* ref = rows.data() + (row_offset[i] + prompts[i].size() - 1) * vocab;
    for (int v = 0; v < vocab; ++v) prefill_diff = std::max(prefill_diff, std::fabs(double{logits[v]} - ref[v]));
  }

  std::FILE* f = std::fopen(out_path.c_str(), "wb");
  if (f == nullptr) return fail("cannot write " + out_path);
  const size_t wrote = std::fwrite(rows.data(), sizeof(float), rows.size(), f);
  if (std::fclose(f) != 0 || wrote != rows.size()) return fail("short write to " + out_path);

  std::printf(
      "{\"vocab\": %d, \"kernels\": \"%s\", \"threads\": %d, \"load_seconds\": %.3f, "
      "\"run_seconds\": %.3f, \"prefill_max_abs_diff\": %.9g, \"prompts\": [",
      vocab, cpu_runner.kernels_name(), cpu_runner.threads(), load_seconds, run_seconds, prefill_diff);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::printf("%s{\"n_prompt\": %zu, \"row_offset\": %zu, \"generated\": [", i ? ", " : "", prompts[i].size(),
                row_offset[i]);
    for (size_t j = 0; j < generated[i].size(); ++j) std::printf("%s%d", j ? ", " : "", generated[i][j]);
    std::printf("]}");
  }
  std::printf("]}\n");
  return 0;
}
