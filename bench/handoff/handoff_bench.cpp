// KV hand-off between two CUDA runners on one GPU (issue 21; README.md here).
//
//   handoff_bench [--reps R] [--blocks N1,N2,...]
//
// Two CUDA runners on device 0 with Llama-3.1-8B's KV layout (32 layers, 8 KV
// heads, head_dim 128, 16-token blocks: 2 MiB a block; the rest of the model
// is tiny, its weights never matter here). For each N it times, median of R:
//   d2d      one cudaMemcpyAsync of N blocks' bytes between two cudaMalloc
//            buffers (the device copy ceiling the move is compared with)
//   move     Runner::export_blob on A (a device blob) + Runner::import_blob on B,
//            the blocks scattered in both pools (shuffled ids) and contiguous
//   host     Runner::export_blocks on A + import_blocks on B through a pageable
//            std::vector (the pinned double-buffered staging path)
//   reg      the alternative for the host path: cudaHostRegister the pageable
//            vector, one copy each way, cudaHostUnregister (plain buffers)
// and prints one line per N, the headline (move / d2d at the largest N) last.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cuda/cuda_runner.h"

using namespace tandem;
using namespace tandem::engine;
using Clock = std::chrono::steady_clock;

namespace {

#define CK(x)                                                       \
  do {                                                              \
    cudaError_t e_ = (x);                                           \
    if (e_ != cudaSuccess) {                                        \
      std::fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                 \
    }                                                               \
  } while (0)

ModelSpec kv_8b_spec() {
  ModelSpec s;
  s.n_layers = 32;
  s.n_heads = 8;
  s.n_kv_heads = 8;
  s.head_dim = 128;
  s.hidden = 1024;
  s.intermediate = 1024;
  s.vocab = 1024;
  s.max_position = 131072;
  s.rms_eps = 1e-5f;
  s.rope.theta = 500000.0f;
  return s;
}

Tensor filled(std::vector<int64_t> shape, float v) {
  Tensor t;
  t.dtype = DType::kF32;
  t.shape = std::move(shape);
  t.data.resize(static_cast<size_t>(t.numel()) * 4);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = v;
  return t;
}

ModelWeights weights(const ModelSpec& s) {
  ModelWeights w;
  const int64_t q = s.n_heads * s.head_dim, kv = s.n_kv_heads * s.head_dim;
  w.embed = filled({s.vocab, s.hidden}, 0.01f);
  for (int l = 0; l < s.n_layers; ++l) {
    LayerWeights L;
    L.attn_norm = filled({s.hidden}, 1.0f);
    L.wq = filled({q, s.hidden}, 0.01f);
    L.wk = filled({kv, s.hidden}, 0.01f);
    L.wv = filled({kv, s.hidden}, 0.01f);
    L.wo = filled({s.hidden, q}, 0.01f);
    L.ffn_norm = filled({s.hidden}, 1.0f);
    L.w_gate = filled({s.intermediate, s.hidden}, 0.01f);
    L.w_up = filled({s.intermediate, s.hidden}, 0.01f);
    L.w_down = filled({s.hidden, s.intermediate}, 0.01f);
    w.layers.push_back(std::move(L));
  }
  w.final_norm = filled({s.hidden}, 1.0f);
  w.lm_head = filled({s.vocab, s.hidden}, 0.01f);
  return w;
}

std::unique_ptr<Runner> make(int blocks) {
  cuda::CudaRunnerOptions o;
  o.max_blocks = blocks;
  o.max_batch_tokens = 256;
  o.max_running = 8;
  o.gpu_memory_fraction = 0.4;
  o.kv_staging_bytes = int64_t{4} << 30;
  auto r = cuda::make_cuda_runner(kv_8b_spec(), weights(kv_8b_spec()), o);
  if (!r.ok()) {
    std::fprintf(stderr, "runner: %s\n", r.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

template <class Fn>
double median_ms(int reps, Fn&& fn) {
  fn();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 10;
  std::vector<int> sizes = {16, 64, 256, 512};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    if (f == "--reps") {
      reps = std::atoi(argv[i + 1]);
    } else if (f == "--blocks") {
      sizes.clear();
      std::stringstream ss(argv[i + 1]);
      std::string item;
      while (std::getline(ss, item, ',')) sizes.push_back(std::atoi(item.c_str()));
    } else {
      std::fprintf(stderr, "usage: handoff_bench [--reps R] [--blocks N1,N2,...]\n");
      return 2;
    }
  }
  const int max_n = *std::max_element(sizes.begin(), sizes.end());
  const int pool = 2 * max_n + 8;
  auto a = make(pool);
  auto b = make(pool);
  const size_t bb = a->block_bytes();
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device 0: %s; block %zu KiB; %d reps, median\n", prop.name, bb >> 10, reps);
  void *x = nullptr, *y = nullptr;
  CK(cudaMalloc(&x, static_cast<size_t>(max_n) * bb));
  CK(cudaMalloc(&y, static_cast<size_t>(max_n) * bb));
  CK(cudaMemset(x, 1, static_cast<size_t>(max_n) * bb));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::mt19937 rng(1);
  std::printf("%6s %8s | %8s %7s | %8s %5s | %8s %5s | %8s %5s | %8s %5s | %8s %8s\n", "blocks", "MiB", "d2d ms",
              "GB/s", "copy ms", "%", "c-cont", "%", "borrow", "%", "b-cont", "%", "host ms", "reg ms");
  double headline = 0.0, headline_contig = 0.0, headline_borrow = 0.0, headline_borrow_contig = 0.0;
  for (int n : sizes) {
    const size_t bytes = static_cast<size_t>(n) * bb;
    const double d2d = median_ms(reps, [&] {
      CK(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice, s));
      CK(cudaStreamSynchronize(s));
    });
    std::vector<int32_t> all(static_cast<size_t>(pool));
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    const std::vector<int32_t> src(all.begin(), all.begin() + n), dst(all.begin() + n, all.begin() + 2 * n);
    std::vector<int32_t> csrc(static_cast<size_t>(n)), cdst(static_cast<size_t>(n));
    std::iota(csrc.begin(), csrc.end(), 0);
    std::iota(cdst.begin(), cdst.end(), n);
    auto move = [&](const std::vector<int32_t>& from, const std::vector<int32_t>& to, BlobMode mode) {
      auto blob = a->export_blob(from, mode);
      check(blob.status(), "export_blob");
      if ((*blob)->device() != 0) {
        std::fprintf(stderr, "export_blob gave a host blob\n");
        std::exit(1);
      }
      check(b->import_blob(to, **blob, 0), "import_blob");
    };
    const double mv = median_ms(reps, [&] { move(src, dst, BlobMode::kCopy); });
    const double mvc = median_ms(reps, [&] { move(csrc, cdst, BlobMode::kCopy); });
    const double bw = median_ms(reps, [&] { move(src, dst, BlobMode::kBorrow); });
    const double bwc = median_ms(reps, [&] { move(csrc, cdst, BlobMode::kBorrow); });
    std::vector<std::byte> host(bytes);
    const double hm = median_ms(std::max(3, reps / 3), [&] {
      check(a->export_blocks(src, host), "export_blocks");
      check(b->import_blocks(dst, host), "import_blocks");
    });
    const double reg = median_ms(std::max(3, reps / 3), [&] {
      CK(cudaHostRegister(host.data(), bytes, cudaHostRegisterDefault));
      CK(cudaMemcpyAsync(host.data(), x, bytes, cudaMemcpyDeviceToHost, s));
      CK(cudaMemcpyAsync(y, host.data(), bytes, cudaMemcpyHostToDevice, s));
      CK(cudaStreamSynchronize(s));
      CK(cudaHostUnregister(host.data()));
    });
    std::printf(
        "%6d %8.1f | %8.3f %7.1f | %8.3f %4.0f%% | %8.3f %4.0f%% | %8.3f %4.0f%% | %8.3f %4.0f%% | %8.3f %8.3f\n", n,
        bytes / 1048576.0, d2d, 2.0 * bytes / d2d / 1e6, mv, 100.0 * d2d / mv, mvc, 100.0 * d2d / mvc, bw,
        100.0 * d2d / bw, bwc, 100.0 * d2d / bwc, hm, reg);
    headline = d2d / mv;
    headline_contig = d2d / mvc;
    headline_borrow = d2d / bw;
    headline_borrow_contig = d2d / bwc;
  }
  std::printf(
      "(GB/s counts bytes read + written; copy = pool -> staging blob -> pool, two device copies; borrow = the\n"
      " importer copies straight from the exporter's pool, one device copy; c-/b-cont: contiguous block ids)\n");
  std::printf(
      "KV move of %d blocks vs one device copy of the same bytes: copy %.0f%% (%.0f%% contiguous), borrow %.0f%% "
      "(%.0f%% contiguous)\n",
      max_n, 100.0 * headline, 100.0 * headline_contig, 100.0 * headline_borrow, 100.0 * headline_borrow_contig);
  cudaFree(x);
  cudaFree(y);
  cudaStreamDestroy(s);
  return 0;
}
