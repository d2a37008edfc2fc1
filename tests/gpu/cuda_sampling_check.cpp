// GPU sampling check (needs an NVIDIA GPU): CudaSampler against the host
// oracle engine::sample on the same logits, plus an empirical distribution
// check, batch independence, and a timing table.
//
//   cuda_sampling_check [check|bench [CLUSTER]|all]   (default all; CLUSTER: CTAs per row, 0 = automatic)
//   cuda_sampling_check runner MODEL_DIR     (CudaRunner::step_and_sample vs step() + engine::sample)
//
// check: random logits (vocab 151936, 128256, 49152, 1000, 7; batches 1, 3, 8,
//   64, 256; each batch sampled with the automatic cluster size, one CTA per
//   row and 16 CTAs per row; Gaussian rows of several
//   scales, quantized rows with many ties, NaN entries, all -inf rows, rows
//   whose every finite id is suppressed) with random parameter mixes (greedy,
//   temperature, top_k, top_p, min_p, repetition/frequency/presence penalties
//   with prompt/output histories incl. out-of-range ids, logit_bias,
//   suppressed, logprobs 0..20, allowed-token masks of constrained decoding:
//   one id, a few, 1% or half of the vocabulary, none). Every device token of
//   a masked row must be allowed. Fails on any greedy-row mismatch, on more
//   than 0.5% mismatched sampled tokens (rounding of cumulative sums may
//   decide a draw differently), on a logprob error above 1e-4 or differing
//   top-logprob ids. Distribution: 20000 seeds on a small-support row vs
//   sampling_distribution (chi-square). Batch independence: one row's result
//   is bitwise the same alone and among 255 other rows at several positions.
// bench: sampling time per step (upload + kernel + download, median of 20)
//   at batch 1, 8, 64, 256 over vocab 151936 (greedy, top_p, top_k, penalties
//   and Qwen3's defaults t 0.6 / top_k 20 / top_p 0.95), against engine::sample on the
//   host over the same rows (median of 3; TANDEM_BENCH_NO_HOST=1 skips the host column).
// runner: 8 sequences (greedy, top_p, top_k with penalties, logprobs) through a
//   real CudaRunner: prefill, then 24 decode steps (graph buckets); each step
//   runs step() (logits to the host, engine::sample) and then step_and_sample()
//   on the same batch; tokens and logprobs must agree (on odd steps half the
//   rows carry allowed-token masks written in the before_sampling hook).
// Prints "ALL PASS" when every check holds; exit status 1 otherwise.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/engine_tuning.h"
#include "engine/cuda/cuda_runner.h"
#include "engine/cuda/cuda_sampler.h"
#include "engine/model_loader.h"
#include "engine/sampler_distribution.h"
#include "engine/sampling.h"

namespace {

using tandem::engine::SampledToken;
using tandem::engine::SampleInput;
using tandem::engine::SampleRow;
using tandem::engine::SamplingParams;
using tandem::engine::cuda::CudaSampler;

constexpr float kInf = std::numeric_limits<float>::infinity();
bool g_fail = false;

#define CHECK_CUDA(x)                                                                               \
  do {                                                                                              \
    cudaError_t e_ = (x);                                                                           \
    if (e_ != cudaSuccess) {                                                                        \
      std::fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(2);                                                                                 \
    }                                                                                               \
  } while (0)

void fail(const std::string& what) {
  std::printf("FAIL: %s\n", what.c_str());
  g_fail = true;
}

// One row: its logits, parameters and histories (owned here).
struct Case {
  std::vector<float> logits;
  SamplingParams params;
  std::vector<int32_t> prompt, output, suppressed;
  std::vector<uint32_t> mask;  // empty: unconstrained
  bool masked = false;         // `mask` applies (it may allow nothing)
  uint64_t seed = 0;
  std::string kind;
};

SampleRow row_of(const Case& c) {
  SampleRow r{&c.params, c.prompt, c.output, c.seed, c.suppressed};
  r.allowed = c.mask;
  return r;
}

SampledToken host_sample(const Case& c) {
  SampleInput in;
  in.logits = c.logits;
  in.params = &c.params;
  in.prompt = c.prompt;
  in.output = c.output;
  in.seed = c.seed;
  in.suppressed = c.suppressed;
  in.allowed = c.mask;
  return tandem::engine::sample(in);
}

Case random_case(int vocab, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> U(0.0, 1.0);
  auto pick = [&](std::initializer_list<double> v) { return *(v.begin() + rng() % v.size()); };
  Case c;
  c.seed = rng();
  c.logits.resize(static_cast<size_t>(vocab));
  const double shape = U(rng);
  const double scale = pick({0.5, 2.0, 5.0, 12.0});
  std::normal_distribution<float> N(0.0f, static_cast<float>(scale));
  for (float& x : c.logits) x = N(rng);
  if (shape < 0.15) {  // ties: coarse quantization
    for (float& x : c.logits) x = std::round(x * 2.0f) / 2.0f;
    c.kind = "ties";
  } else if (shape < 0.22) {  // NaN entries
    for (int i = 0; i < 1 + vocab / 500; ++i) c.logits[rng() % vocab] = std::nanf("");
    if (U(rng) < 0.3) c.logits[0] = std::nanf("");
    c.kind = "nan";
  } else if (shape < 0.26) {  // all -inf (and NaN)
    for (float& x : c.logits) x = U(rng) < 0.1 ? std::nanf("") : -kInf;
    c.kind = "all-inf";
  } else if (shape < 0.32) {  // few finite ids, all suppressed: fallback to raw argmax
    for (float& x : c.logits) x = -kInf;
    for (int i = 0; i < 3; ++i) {
      const int32_t id = static_cast<int32_t>(rng() % vocab);
      c.logits[id] = N(rng);
      c.suppressed.push_back(id);
    }
    c.kind = "all-filtered";
  } else {
    c.kind = "normal";
  }
  SamplingParams& p = c.params;
  if (U(rng) < 0.25) {
    p.temperature = 0.0f;
    c.kind += "/greedy";
  } else {
    p.temperature = static_cast<float>(pick({0.3, 0.7, 1.0, 1.5}));
    p.top_k = static_cast<int>(pick({0, 0, 1, 5, 20, 50, 256, 1000}));
    p.top_p = static_cast<float>(pick({1.0, 1.0, 0.9, 0.5, 0.1, 0.99}));
    p.min_p = static_cast<float>(pick({0.0, 0.0, 0.05, 0.2}));
  }
  if (U(rng) < 0.4) {
    p.repetition_penalty = static_cast<float>(pick({1.0, 1.2, 0.8}));
    p.frequency_penalty = static_cast<float>(pick({0.0, 0.5, -0.5}));
    p.presence_penalty = static_cast<float>(pick({0.0, 0.3}));
    // Low ids repeat (counts > 1); ids over the whole vocabulary land in every CTA's slice.
    const int range = U(rng) < 0.5 ? std::max(2, std::min(vocab, 40)) : vocab;
    const int np = static_cast<int>(rng() % 300), no = static_cast<int>(rng() % 200);
    for (int i = 0; i < np; ++i) c.prompt.push_back(static_cast<int32_t>(rng() % range));
    for (int i = 0; i < no; ++i) c.output.push_back(static_cast<int32_t>(rng() % range));
    c.prompt.push_back(-1);
    c.output.push_back(vocab + 5);
  } else if (U(rng) < 0.3) {
    for (int i = 0; i < 10; ++i) c.output.push_back(static_cast<int32_t>(rng() % vocab));  // draw step only
  }
  if (U(rng) < 0.3) {
    for (int i = 0; i < 4; ++i) {
      p.logit_bias.push_back({static_cast<int32_t>(rng() % vocab), static_cast<float>(pick({-100.0, 5.0, 1.5, -2.0}))});
    }
    p.logit_bias.push_back({vocab + 1, 3.0f});
  }
  if (U(rng) < 0.2) {
    for (int i = 0; i < 3; ++i) c.suppressed.push_back(static_cast<int32_t>(rng() % vocab));
  }
  if (U(rng) < 0.5) p.logprobs = static_cast<int>(rng() % 21);
  // Constrained decoding: an allowed-token mask on rows whose logits are
  // mostly finite (the all -inf fallbacks differ by design, sampling.h).
  if ((c.kind.rfind("normal", 0) == 0 || c.kind.rfind("ties", 0) == 0) && U(rng) < 0.35) {
    c.masked = true;
    c.mask.assign(static_cast<size_t>((vocab + 31) / 32), 0u);
    const double share = pick({0.0, 0.0, 0.01, 0.5, -1.0});
    const int n = share < 0 ? 0 : share == 0.0 ? static_cast<int>(1 + rng() % 5) : std::max(1, int(vocab * share));
    for (int i = 0; i < n; ++i) {
      const uint32_t id = static_cast<uint32_t>(rng() % vocab);
      c.mask[id / 32] |= 1u << (id % 32);
    }
    if (n == 0) {
      c.mask.assign(1, 0u);  // allows nothing: kNoAllowedToken
    }
    c.kind += n == 0 ? "/mask-none" : "/mask";
  }
  return c;
}

// Runs `cases` through the device sampler in one call.
std::vector<SampledToken> device_sample(CudaSampler& s, float* d_logits, const std::vector<const Case*>& cases,
                                        int vocab) {
  std::vector<float> host(cases.size() * static_cast<size_t>(vocab));
  std::vector<SampleRow> rows;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::memcpy(host.data() + i * vocab, cases[i]->logits.data(), vocab * sizeof(float));
    rows.push_back(row_of(*cases[i]));
  }
  CHECK_CUDA(cudaMemcpy(d_logits, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
  std::vector<SampledToken> out;
  const tandem::Status st = s.sample(d_logits, rows, nullptr, out);
  if (!st.ok()) {
    fail("sample: " + st.to_string());
    out.assign(cases.size(), SampledToken{});
  }
  return out;
}

bool lp_close(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= 1e-4f;
}

// Device cluster settings compared with the host: 0 = automatic (by batch
// size), 1 = one CTA per row, 16 = 16 CTAs per row (also over tiny vocabularies,
// so most slices are empty there).
const int kClusterModes[] = {0, 1, 16};

void check_against_host() {
  std::mt19937_64 rng(12345);
  std::printf("== tokens vs engine::sample (cluster 0 = automatic) ==\n");
  std::printf("%8s %7s %6s %8s %10s %10s %10s %12s %10s\n", "vocab", "cluster", "rows", "greedy", "sampled", "mismatch",
              "lp_bad", "max_lp_err", "vs_c1");
  const std::vector<int> big_batches = {1, 3, 8, 64, 256, 64, 64, 8, 3, 1};
  for (int vocab : {151936, 128256, 49152, 1000, 7}) {
    constexpr int kMaxRows = 256;
    std::vector<int> batches = big_batches;
    if (vocab < 49152) {
      for (int rep = 0; rep < 3; ++rep) batches.insert(batches.end(), big_batches.begin(), big_batches.end());
    }
    CudaSampler s;
    if (!s.init(kMaxRows, vocab).ok()) {
      fail("init");
      return;
    }
    float* d = nullptr;
    CHECK_CUDA(cudaMalloc(&d, static_cast<size_t>(kMaxRows) * vocab * sizeof(float)));
    struct Tally {
      int n = 0, greedy = 0, sampled = 0, mismatch = 0, greedy_mismatch = 0, lp_bad = 0, top_bad = 0, vs_c1 = 0;
      double max_err = 0.0;
      std::map<std::string, int> mismatch_kinds;
    };
    std::map<int, Tally> tally;
    for (int batch : batches) {
      std::vector<Case> cases;
      for (int i = 0; i < batch; ++i) cases.push_back(random_case(vocab, rng));
      std::vector<const Case*> ptrs;
      for (const Case& c : cases) ptrs.push_back(&c);
      std::vector<SampledToken> host;
      for (const Case& c : cases) host.push_back(host_sample(c));
      std::map<int, std::vector<SampledToken>> by_mode;
      for (int mode : kClusterModes) {
        s.set_cluster(mode);
        by_mode[mode] = device_sample(s, d, ptrs, vocab);
      }
      s.set_cluster(0);
      for (int mode : kClusterModes) {
        const std::vector<SampledToken>& dev = by_mode[mode];
        Tally& t = tally[mode];
        for (int i = 0; i < batch; ++i) {
          const Case& c = cases[i];
          const SampledToken& h = host[i];
          const bool is_greedy = !(c.params.temperature >= 1e-5f);
          ++t.n;
          (is_greedy ? t.greedy : t.sampled)++;
          if (dev[i].token != by_mode[1][i].token ||
              std::memcmp(&dev[i].logprob, &by_mode[1][i].logprob, sizeof(float)) != 0) {
            ++t.vs_c1;
          }
          if (c.masked && dev[i].token != tandem::engine::kNoAllowedToken &&
              !tandem::engine::token_allowed(c.mask, dev[i].token)) {
            fail("device sampled disallowed token " + std::to_string(dev[i].token) + " (" + c.kind + ")");
          }
          if (c.masked &&
              (dev[i].token == tandem::engine::kNoAllowedToken) != (h.token == tandem::engine::kNoAllowedToken)) {
            fail("kNoAllowedToken differs between host and device (" + c.kind + ")");
          }
          if (h.token != dev[i].token) {
            if (is_greedy) {
              ++t.greedy_mismatch;
              std::printf("  greedy mismatch vocab %d cluster %d kind %s: host %d device %d\n", vocab, mode,
                          c.kind.c_str(), h.token, dev[i].token);
            } else {
              ++t.mismatch;
              ++t.mismatch_kinds[c.kind];
            }
            continue;
          }
          if (c.params.logprobs >= 0) {
            if (!lp_close(h.logprob, dev[i].logprob)) {
              ++t.lp_bad;
              if (t.lp_bad <= 5) {
                std::printf("  logprob host %g device %g (%s, cluster %d)\n", h.logprob, dev[i].logprob, c.kind.c_str(),
                            mode);
              }
            } else if (std::isfinite(h.logprob)) {
              t.max_err = std::max(t.max_err, static_cast<double>(std::fabs(h.logprob - dev[i].logprob)));
            }
            if (h.top.size() != dev[i].top.size()) {
              ++t.top_bad;
            } else {
              for (size_t k = 0; k < h.top.size(); ++k) {
                if (h.top[k].token != dev[i].top[k].token || !lp_close(h.top[k].logprob, dev[i].top[k].logprob)) {
                  ++t.top_bad;
                  if (t.top_bad <= 5) {
                    std::printf("  top[%zu] host (%d, %g) device (%d, %g) (%s, cluster %d)\n", k, h.top[k].token,
                                h.top[k].logprob, dev[i].top[k].token, dev[i].top[k].logprob, c.kind.c_str(), mode);
                  }
                  break;
                }
              }
            }
          }
        }
      }
    }
    CHECK_CUDA(cudaFree(d));
    for (int mode : kClusterModes) {
      const Tally& t = tally[mode];
      std::printf("%8d %7d %6d %8d %10d %10d %10d %12.3g %10d\n", vocab, mode, t.n, t.greedy, t.sampled,
                  t.mismatch + t.greedy_mismatch, t.lp_bad + t.top_bad, t.max_err, t.vs_c1);
      for (const auto& [k, v] : t.mismatch_kinds) std::printf("  sampled mismatches of kind %s: %d\n", k.c_str(), v);
      const std::string where = " at vocab " + std::to_string(vocab) + ", cluster " + std::to_string(mode);
      if (t.greedy_mismatch > 0) fail("greedy mismatches" + where);
      if (t.mismatch > t.sampled * 0.005) fail("sampled mismatches above 0.5%" + where);
      if (t.lp_bad > 0 || t.top_bad > 0) fail("logprob or top-logprob differences" + where);
    }
  }
}

void check_distribution(int cluster) {
  std::printf("== distribution (20000 seeds, cluster setting %d) ==\n", cluster);
  const int vocab = 151936;
  constexpr int kRows = 256;
  Case base;
  base.logits.assign(vocab, -kInf);
  const int32_t ids[] = {5, 77, 1000, 40000, 151935, 12, 90000, 3};
  const float vals[] = {1.0f, 0.5f, 0.9f, -0.3f, 0.2f, 1.0f, -1.5f, 0.7f};
  for (int i = 0; i < 8; ++i) base.logits[ids[i]] = vals[i];
  base.params.temperature = 0.8f;
  base.params.top_k = 7;
  base.params.top_p = 0.95f;
  base.params.repetition_penalty = 1.3f;
  base.output = {1000, 77};
  SampleInput in;
  in.logits = base.logits;
  in.params = &base.params;
  in.output = base.output;
  const std::vector<tandem::engine::TokenProb> dist = tandem::engine::sampling_distribution(in);
  CudaSampler s;
  if (!s.init(kRows, vocab).ok()) return fail("init");
  s.set_cluster(cluster);
  float* d = nullptr;
  CHECK_CUDA(cudaMalloc(&d, static_cast<size_t>(kRows) * vocab * sizeof(float)));
  std::map<int32_t, int> counts;
  const int total = 20000;
  std::vector<Case> cases(kRows, base);
  for (int done = 0; done < total;) {
    const int n = std::min(kRows, total - done);
    std::vector<const Case*> ptrs;
    for (int i = 0; i < n; ++i) {
      cases[i].seed = 0x5eed0000ull + static_cast<uint64_t>(done + i);
      ptrs.push_back(&cases[i]);
    }
    for (const SampledToken& t : device_sample(s, d, ptrs, vocab)) ++counts[t.token];
    done += n;
  }
  CHECK_CUDA(cudaFree(d));
  double chi2 = 0.0;
  int outside = 0;
  std::map<int32_t, double> expect;
  for (const auto& tp : dist) expect[tp.token] = tp.prob * total;
  for (const auto& [tok, c] : counts) {
    if (expect.count(tok) == 0) outside += c;
  }
  for (const auto& [tok, e] : expect) {
    const double o = counts.count(tok) ? counts[tok] : 0;
    chi2 += (o - e) * (o - e) / e;
    std::printf("  token %6d p %.4f expected %8.1f observed %6.0f\n", tok, e / total, e, o);
  }
  const int df = static_cast<int>(expect.size()) - 1;
  // 99.9% quantiles of chi-square for df 1..7.
  const double crit[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32};
  std::printf("  support %zu, chi2 %.2f (df %d, 99.9%% bound %.2f), draws outside the support %d\n", expect.size(),
              chi2, df, df >= 1 && df <= 7 ? crit[df] : 0.0, outside);
  if (outside > 0) fail("draws outside the support");
  if (df < 1 || df > 7 || chi2 > crit[df]) fail("chi-square above its 99.9% bound");
}

void check_batch_independence() {
  std::printf("== batch independence ==\n");
  std::mt19937_64 rng(777);
  const int vocab = 151936;
  constexpr int kRows = 256;
  CudaSampler s;
  if (!s.init(kRows, vocab).ok()) return fail("init");
  float* d = nullptr;
  CHECK_CUDA(cudaMalloc(&d, static_cast<size_t>(kRows) * vocab * sizeof(float)));
  std::vector<Case> others;
  for (int i = 0; i < kRows; ++i) others.push_back(random_case(vocab, rng));
  int checked = 0, differ = 0;
  for (int t = 0; t < 8; ++t) {
    Case probe = random_case(vocab, rng);
    probe.params.temperature = 0.9f;
    probe.params.top_p = 0.9f;
    probe.params.logprobs = 5;
    probe.params.frequency_penalty = 0.4f;
    probe.output = {1, 2, 3, 3};
    const SampledToken alone = device_sample(s, d, {&probe}, vocab)[0];
    for (int pos : {0, 100, 255}) {
      std::vector<const Case*> ptrs;
      for (int i = 0; i < kRows; ++i) ptrs.push_back(i == pos ? &probe : &others[i]);
      const SampledToken in_batch = device_sample(s, d, ptrs, vocab)[pos];
      ++checked;
      if (in_batch.token != alone.token || std::memcmp(&in_batch.logprob, &alone.logprob, sizeof(float)) != 0) ++differ;
    }
  }
  CHECK_CUDA(cudaFree(d));
  std::printf("  %d placements, %d differ\n", checked, differ);
  if (differ > 0) fail("a row's result depends on its batch");
}

void bench(int cluster) {
  std::printf("== timing: microseconds per step, vocab 151936, cluster setting %d (0 = automatic) ==\n", cluster);
  const int vocab = 151936;
  constexpr int kMax = 256;
  std::mt19937_64 rng(99);
  std::normal_distribution<float> N(0.0f, 2.0f);
  std::vector<float> logits(static_cast<size_t>(kMax) * vocab);
  for (float& x : logits) x = N(rng);
  CudaSampler s;
  if (!s.init(kMax, vocab).ok()) return fail("init");
  s.set_cluster(cluster);
  float *d = nullptr, *pristine = nullptr;
  CHECK_CUDA(cudaMalloc(&d, logits.size() * sizeof(float)));
  CHECK_CUDA(cudaMalloc(&pristine, logits.size() * sizeof(float)));
  CHECK_CUDA(cudaMemcpy(pristine, logits.data(), logits.size() * sizeof(float), cudaMemcpyHostToDevice));
  std::vector<int32_t> prompt(500), output(200);
  for (int32_t& t : prompt) t = static_cast<int32_t>(rng() % vocab);
  for (int32_t& t : output) t = static_cast<int32_t>(rng() % vocab);
  struct Mode {
    const char* name;
    SamplingParams p;
  };
  std::vector<Mode> modes(5);
  modes[0].name = "greedy";
  modes[0].p.temperature = 0.0f;
  modes[1].name = "top_p0.9_t0.8";
  modes[1].p.temperature = 0.8f;
  modes[1].p.top_p = 0.9f;
  modes[2].name = "top_k50";
  modes[2].p.top_k = 50;
  modes[3].name = "penalties";
  modes[3].p.repetition_penalty = 1.1f;
  modes[3].p.frequency_penalty = 0.2f;
  modes[3].p.presence_penalty = 0.1f;
  modes[4].name = "qwen3_t.6k20p.95";  // Qwen3's generation_config defaults
  modes[4].p.temperature = 0.6f;
  modes[4].p.top_k = 20;
  modes[4].p.top_p = 0.95f;
  std::printf("%-16s %6s %7s %12s %12s %9s\n", "mode", "batch", "cluster", "gpu_us", "host_us", "speedup");
  for (const Mode& m : modes) {
    for (int batch : {1, 8, 64, 256}) {
      std::vector<SampleRow> rows;
      for (int i = 0; i < batch; ++i) rows.push_back({&m.p, prompt, output, 1000u + i, {}});
      std::vector<double> gpu;
      std::vector<SampledToken> out;
      for (int it = 0; it < 23; ++it) {
        CHECK_CUDA(
            cudaMemcpy(d, pristine, static_cast<size_t>(batch) * vocab * sizeof(float), cudaMemcpyDeviceToDevice));
        CHECK_CUDA(cudaDeviceSynchronize());
        const auto t0 = std::chrono::steady_clock::now();
        if (!s.sample(d, rows, nullptr, out).ok()) return fail("sample");
        const auto t1 = std::chrono::steady_clock::now();
        if (it >= 3) gpu.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      std::vector<double> host;
      const bool skip_host = std::getenv("TANDEM_BENCH_NO_HOST") != nullptr;  // GPU column only
      for (int it = 0; it < (skip_host ? 0 : 3); ++it) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < batch; ++i) {
          SampleInput in;
          in.logits = std::span<const float>(logits).subspan(static_cast<size_t>(i) * vocab, vocab);
          in.params = &m.p;
          in.prompt = prompt;
          in.output = output;
          in.seed = 1000u + i;
          (void)tandem::engine::sample(in);
        }
        host.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(gpu.begin(), gpu.end());
      std::sort(host.begin(), host.end());
      const double g = gpu[gpu.size() / 2], h = skip_host ? 0.0 : host[1];
      tandem::engine::cuda::SampleKernelParams kp;
      kp.n_rows = batch;
      kp.vocab = vocab;
      kp.cluster = cluster;
      auto used = tandem::engine::cuda::sample_cluster_size(kp);
      std::printf("%-16s %6d %7d %12.1f %12.1f %8.1fx\n", m.name, batch, used.ok() ? *used : -1, g, h, h / g);
    }
  }
  CHECK_CUDA(cudaFree(d));
  CHECK_CUDA(cudaFree(pristine));
}

void check_runner(const std::string& path, const tandem::CudaTuning& tuning) {
  using namespace tandem::engine;
  std::printf("== CudaRunner::step_and_sample vs step() + engine::sample (%s) ==\n", path.c_str());
  auto loaded = load_model(path, DType::kBF16);
  if (!loaded.ok()) return fail("load_model: " + loaded.status().to_string());
  const int vocab = loaded->spec.vocab;
  cuda::CudaRunnerOptions o;
  o.max_running = 16;
  o.max_batch_tokens = 1024;
  o.max_blocks = 8 * 32;
  o.tuning = tuning;
  auto made = cuda::make_cuda_runner(loaded->spec, std::move(loaded->weights), o);
  if (!made.ok()) return fail("make_cuda_runner: " + made.status().to_string());
  Runner& runner = *made.value();
  const int bt = runner.block_tokens();
  constexpr int kSeqs = 8;
  std::mt19937_64 rng(4242);
  std::vector<SamplingParams> params(kSeqs);
  std::vector<std::vector<int32_t>> prompt(kSeqs), output(kSeqs), tables(kSeqs);
  for (int i = 0; i < kSeqs; ++i) {
    SamplingParams& p = params[i];
    switch (i % 4) {
      case 0:
        p.temperature = 0.0f;
        p.logprobs = 3;
        break;
      case 1:
        p.temperature = 0.8f;
        p.top_p = 0.9f;
        break;
      case 2:
        p.top_k = 20;
        p.repetition_penalty = 1.2f;
        p.frequency_penalty = 0.3f;
        p.logprobs = 5;
        break;
      case 3:
        p.temperature = 1.2f;
        p.min_p = 0.05f;
        p.logit_bias = {{7, 4.0f}};
        break;
    }
    const int n = 5 + static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) prompt[i].push_back(static_cast<int32_t>(rng() % vocab));
    for (int b = 0; b < 32; ++b) tables[i].push_back(i * 32 + b);
  }
  std::vector<std::vector<int32_t>> step_tokens(kSeqs);
  int rows = 0, greedy_bad = 0, sampled_bad = 0, lp_bad = 0;
  for (int step = 0; step < 25; ++step) {
    StepBatch batch;
    const int active = step < 12 ? kSeqs : (step < 20 ? 5 : 2);  // graph buckets 8, then 8 (padded), then 2
    for (int i = 0; i < active; ++i) {
      step_tokens[i] = step == 0 ? prompt[i] : std::vector<int32_t>{output[i].back()};
      const int start = step == 0 ? 0 : static_cast<int>(prompt[i].size() + output[i].size()) - 1;
      if (start + static_cast<int>(step_tokens[i].size()) > 32 * bt) return fail("table too short");
      batch.seqs.push_back({step_tokens[i], start, tables[i], true});
    }
    std::vector<float> logits;
    const tandem::Status st = runner.step(batch, logits);
    if (!st.ok()) return fail("step: " + st.to_string());
    std::vector<SampleRow> srows;
    std::vector<SampledToken> host;
    // Constrained decoding: on odd steps the odd sequences get an allowed-token
    // mask (30% of the vocabulary); the device rows' masks are written only in
    // the before_sampling hook, as the scheduler does while the forward pass runs.
    const size_t words = static_cast<size_t>((vocab + 31) / 32);
    std::vector<std::vector<uint32_t>> want_masks(static_cast<size_t>(active));
    std::vector<uint32_t> hook_masks(static_cast<size_t>(active) * words, 0u);
    for (int i = 0; i < active; ++i) {
      if (step % 2 == 1 && i % 2 == 1) {
        want_masks[i].assign(words, 0u);
        for (int t = 0; t < vocab; ++t) {
          if (rng() % 10 < 3) want_masks[i][static_cast<size_t>(t) / 32] |= 1u << (t % 32);
        }
      }
    }
    for (int i = 0; i < active; ++i) {
      srows.push_back({&params[i], prompt[i], output[i], 1000u + i, {}});
      if (!want_masks[i].empty()) {
        srows.back().allowed = std::span<const uint32_t>(hook_masks).subspan(static_cast<size_t>(i) * words, words);
      }
      SampleInput in;
      in.logits = std::span<const float>(logits).subspan(static_cast<size_t>(i) * vocab, vocab);
      in.params = &params[i];
      in.prompt = prompt[i];
      in.output = output[i];
      in.seed = 1000u + i;
      in.allowed = want_masks[i];
      host.push_back(sample(in));
    }
    std::vector<SampledToken> dev;
    int hook_calls = 0;
    const tandem::Status st2 = runner.step_and_sample(batch, srows, dev, [&] {  // same batch: same K/V written again
      ++hook_calls;
      for (int i = 0; i < active; ++i) {
        if (!want_masks[i].empty()) std::copy(want_masks[i].begin(), want_masks[i].end(), &hook_masks[i * words]);
      }
    });
    if (!st2.ok()) return fail("step_and_sample: " + st2.to_string());
    if (hook_calls != 1)
      return fail("step_and_sample called its before_sampling hook " + std::to_string(hook_calls) + " times");
    if (dev.size() != host.size()) return fail("step_and_sample returned a wrong count");
    for (int i = 0; i < active; ++i) {
      if (!want_masks[i].empty() && !token_allowed(want_masks[i], dev[i].token)) {
        fail("runner step_and_sample returned a disallowed token " + std::to_string(dev[i].token));
      }
    }
    for (int i = 0; i < active; ++i) {
      ++rows;
      if (dev[i].token != host[i].token) {
        (params[i].temperature == 0.0f ? greedy_bad : sampled_bad)++;
        std::printf("  step %d seq %d: host %d device %d\n", step, i, host[i].token, dev[i].token);
      } else if (params[i].logprobs >= 0 &&
                 (!lp_close(dev[i].logprob, host[i].logprob) || dev[i].top.size() != host[i].top.size())) {
        ++lp_bad;
      }
      output[i].push_back(host[i].token);
    }
  }
  std::printf("  %d rows: greedy mismatches %d, sampled mismatches %d, logprob differences %d\n", rows, greedy_bad,
              sampled_bad, lp_bad);
  if (greedy_bad > 0 || lp_bad > 0 || sampled_bad > 1) fail("runner step_and_sample disagrees with the host sampler");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no CUDA device\n");
    return 2;
  }
  if (mode == "runner") {
    if (argc < 3) {
      std::printf("usage: cuda_sampling_check runner MODEL_DIR\n");
      return 2;
    }
    tandem::EngineTuning tuning;  // the defaults, with the environment's overrides as `tandem serve` takes them
    try {
      tandem::apply_tuning_environment(tuning);
    } catch (const tandem::ConfigError& e) {
      std::printf("%s\n", e.what());
      return 2;
    }
    check_runner(argv[2], tuning.cuda);
  }
  if (mode == "check" || mode == "all") {
    check_against_host();
    check_distribution(0);
    check_distribution(16);
    check_batch_independence();
  }
  if (mode == "bench" || mode == "all") bench(argc > 2 && mode == "bench" ? std::atoi(argv[2]) : 0);
  std::printf(g_fail ? "SOME CHECKS FAILED\n" : "ALL PASS\n");
  return g_fail ? 1 : 0;
}
