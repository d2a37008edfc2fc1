// Scheduler overhead per step: the CPU time of one StepScheduler iteration
// (reap, schedule, build_batch, apply with sampling, publish) around a Runner
// that does no work, for decode batches of B sequences with C tokens of
// context. On a GPU a decode step takes milliseconds; this is the host time
// the scheduler adds to each of them.
//
// Usage: scheduler_bench [--vocab V] [--context C] [--steps N] [--real-sampler]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/runner.h"
#include "engine/sampling.h"
#include "kv/block_pool.h"
#include "scheduler/step_scheduler.h"

namespace {

using namespace tandem;
using Clock = std::chrono::steady_clock;

class NullRunner final : public engine::Runner {
 public:
  NullRunner(int vocab, int block_tokens, int num_blocks) : block_tokens_(block_tokens), num_blocks_(num_blocks) {
    spec_.vocab = vocab;
    spec_.max_position = 1 << 20;
  }
  const engine::ModelSpec& spec() const override { return spec_; }
  int block_tokens() const override { return block_tokens_; }
  int num_blocks() const override { return num_blocks_; }
  size_t block_bytes() const override { return 0; }
  Status step(const engine::StepBatch& batch, std::vector<float>& logits) override {
    size_t rows = 0;
    for (const auto& s : batch.seqs) rows += s.want_logits ? 1 : 0;
    logits.resize(rows * static_cast<size_t>(spec_.vocab));  // content irrelevant
    return {};
  }
  Status copy_blocks(std::span<const int32_t>, std::span<const int32_t>) override { return {}; }

 private:
  engine::ModelSpec spec_;
  int block_tokens_;
  int num_blocks_;
};

engine::SampledToken cheap_sample(const engine::SampleInput& in) {
  engine::SampledToken t;
  t.token = static_cast<int32_t>((in.output.size() * 7 + in.seed) % in.logits.size());
  return t;
}

struct Row {
  int batch;
  double us_per_step;
  double us_per_seq;
};

Row run(int batch, int vocab, int context, int steps, bool real_sampler) {
  const int bt = 16;
  const int blocks = batch * ((context + steps + bt) / bt + 1);
  NullRunner runner(vocab, bt, blocks);
  kv::BlockPool pool({"bench", blocks, bt, true}, nullptr);
  scheduler::Sampler sampler = real_sampler ? scheduler::Sampler(&engine::sample) : cheap_sample;
  scheduler::StepScheduler sched({"bench", 1 << 20, batch, 1 << 20, vocab}, pool, sampler, nullptr);
  for (int i = 0; i < batch; ++i) {
    scheduler::GenerationRequest r;
    r.id = "r" + std::to_string(i);
    for (int t = 0; t < context; ++t) r.prompt.push_back((t * 31 + i) % vocab);
    r.stop.max_tokens = 1 << 20;
    r.sampling.temperature = 0.0f;
    r.sink = [](scheduler::TokenEvent&&) {};
    sched.enqueue(std::make_unique<scheduler::Sequence>(std::move(r), i, kv::root_hash(0, ""), Clock::now()));
  }
  // Prefill everything first (one big step), then time decode steps.
  while (sched.num_waiting() > 0 || sched.running().front()->state != scheduler::SequenceState::kDecoding) {
    (void)sched.iterate(runner, Clock::now());
  }
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) (void)sched.iterate(runner, Clock::now());
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / steps;
  return {batch, us, us / batch};
}

}  // namespace

int main(int argc, char** argv) {
  int vocab = 49152, context = 1024, steps = 200;
  bool real = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--vocab") && i + 1 < argc)
      vocab = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--context") && i + 1 < argc)
      context = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc)
      steps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--real-sampler"))
      real = true;
    else {
      std::fprintf(stderr, "usage: %s [--vocab V] [--context C] [--steps N] [--real-sampler]\n", argv[0]);
      return 2;
    }
  }
  std::printf("scheduler overhead per decode step (vocab %d, context %d, %d steps, sampler: %s)\n", vocab, context,
              steps, real ? "engine::sample greedy" : "trivial");
  std::printf("%8s %14s %14s\n", "batch", "us/step", "us/seq");
  for (int b : {1, 8, 32, 64, 128, 256}) {
    Row r = run(b, vocab, context, steps, real);
    std::printf("%8d %14.1f %14.2f\n", r.batch, r.us_per_step, r.us_per_seq);
  }
  return 0;
}
