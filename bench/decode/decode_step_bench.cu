// Microbenchmark of the persistent batch-1 decode kernel (decode_step_kernel.cu)
// on random weights of a model shape: time per launch (CUDA graph of 20
// launches, median of 10 replays) and, with TANDEM_DECODE_STEP_PROFILE, a
// per-phase breakdown from %globaltimer stamps of every CTA:
//   work   = slowest CTA's (arrival at the barrier - release of the previous one)
//   mbar   = mean time CTAs waited for their weight slice (cp.async.bulk)
//   barrier= last arrival -> first CTA leaving
// Build: bench/decode/build_step_bench.sh OUT. Run: OUT [qwen3-0.6b|smollm2-135m] [ctx]
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/cuda/decode_step_kernel.h"

using tandem::engine::cuda::AttnSeq;
using tandem::engine::cuda::DecodeStepParams;
using tandem::engine::cuda::DeviceLayer;

#define CK(x)                                                                       \
  do {                                                                              \
    cudaError_t e_ = (x);                                                           \
    if (e_ != cudaSuccess) {                                                        \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

__global__ void fill_kernel(__nv_bfloat16* p, size_t n, uint32_t seed, float scale) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    p[i] = __float2bfloat16((static_cast<float>(h & 0xffff) / 65535.0f - 0.5f) * scale);
  }
}

int main(int argc, char** argv) {
  const std::string shape = argc > 1 ? argv[1] : "qwen3-0.6b";
  const int ctx = argc > 2 ? std::atoi(argv[2]) : 128;
  int n_layers = 28, hidden = 1024, inter = 3072, nh = 16, nkv = 8, hd = 128;
  if (shape == "smollm2-135m") n_layers = 30, hidden = 576, inter = 1536, nh = 9, nkv = 3, hd = 64;
  const int bt = 16, vocab = 4096;
  const int q_dim = nh * hd, qkv_dim = (nh + 2 * nkv) * hd;
  // Weights: one allocation, 128-byte aligned pieces.
  std::vector<size_t> sizes;
  auto align = [](size_t n) { return (n + 63) / 64 * 64; };
  const size_t per_layer = align(hidden) * 2 + align(static_cast<size_t>(qkv_dim) * hidden) + align(hd) * 2 +
                           align(static_cast<size_t>(hidden) * q_dim) + align(static_cast<size_t>(2) * inter * hidden) +
                           align(static_cast<size_t>(hidden) * inter);
  const size_t total = per_layer * n_layers + align(static_cast<size_t>(vocab) * hidden);
  __nv_bfloat16* w = nullptr;
  CK(cudaMalloc(&w, total * 2));
  fill_kernel<<<1024, 256>>>(w, total, 1234u, 0.1f);
  CK(cudaGetLastError());
  std::vector<DeviceLayer> layers(n_layers);
  size_t at = 0;
  auto take = [&](size_t n) {
    const __nv_bfloat16* q = w + at;
    at += align(n);
    return q;
  };
  for (auto& L : layers) {
    L.attn_norm = take(hidden);
    L.wqkv = take(static_cast<size_t>(qkv_dim) * hidden);
    L.q_norm = take(hd);
    L.k_norm = take(hd);
    L.wo = take(static_cast<size_t>(hidden) * q_dim);
    L.ffn_norm = take(hidden);
    L.w_gate_up = take(static_cast<size_t>(2) * inter * hidden);
    L.w_down = take(static_cast<size_t>(hidden) * inter);
  }
  const __nv_bfloat16* embed = take(static_cast<size_t>(vocab) * hidden);
  DeviceLayer* d_layers = nullptr;
  CK(cudaMalloc(&d_layers, layers.size() * sizeof(DeviceLayer)));
  CK(cudaMemcpy(d_layers, layers.data(), layers.size() * sizeof(DeviceLayer), cudaMemcpyHostToDevice));

  // KV pool and metadata for one sequence of ctx positions (the new token last).
  const int n_blocks = (ctx + bt - 1) / bt + 1;
  const int64_t block_elems = static_cast<int64_t>(n_layers) * 2 * bt * nkv * hd;
  __nv_bfloat16* kv = nullptr;
  CK(cudaMalloc(&kv, n_blocks * block_elems * 2));
  fill_kernel<<<1024, 256>>>(kv, n_blocks * block_elems, 77u, 2.0f);
  std::vector<int32_t> meta(8 + n_blocks);
  const int pos = ctx - 1;
  meta[0] = 3;                                   // id
  meta[1] = pos;                                 // position
  meta[2] = ((pos / bt) * bt) + pos % bt;        // slot (table[b] = b)
  meta[4] = 0, meta[5] = 1, meta[6] = pos, meta[7] = 0;  // AttnSeq
  for (int b = 0; b < n_blocks; ++b) meta[8 + b] = b;
  int32_t* d_meta = nullptr;
  CK(cudaMalloc(&d_meta, meta.size() * 4));
  CK(cudaMemcpy(d_meta, meta.data(), meta.size() * 4, cudaMemcpyHostToDevice));
  std::vector<float> inv(hd / 2);
  for (int i = 0; i < hd / 2; ++i) inv[i] = static_cast<float>(1.0 / std::pow(1e6, 2.0 * i / hd));
  float *d_inv = nullptr, *x = nullptr, *qkv = nullptr;
  __nv_bfloat16* gate_up = nullptr;
  CK(cudaMalloc(&d_inv, inv.size() * 4));
  CK(cudaMemcpy(d_inv, inv.data(), inv.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMalloc(&x, hidden * 4));
  CK(cudaMalloc(&qkv, qkv_dim * 4));
  CK(cudaMalloc(&gate_up, 2 * inter * 2));

  DecodeStepParams p;
  p.layers = d_layers;
  p.embed = embed;
  p.inv_freq = d_inv;
  p.ids = d_meta;
  p.positions = d_meta + 1;
  p.kv_slots = d_meta + 2;
  p.seq = reinterpret_cast<const AttnSeq*>(d_meta + 4);
  p.block_tables = d_meta + 8;
  p.x = x;
  p.qkv = qkv;
  p.gate_up = gate_up;
  p.kv_pool = kv;
  p.block_elems = block_elems;
  p.n_layers = n_layers, p.hidden = hidden, p.intermediate = inter, p.n_heads = nh, p.n_kv_heads = nkv;
  p.head_dim = hd, p.block_tokens = bt, p.eps = 1e-6f, p.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const tandem::Status st = p.configure(0);
  if (!st.ok()) {
    std::fprintf(stderr, "configure: %s\n", st.to_string().c_str());
    return 1;
  }
  CK(cudaMalloc(&p.workspace, p.workspace_bytes()));
  CK(cudaMemset(p.workspace, 0, p.workspace_bytes()));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  // Timing without stamps: a graph of 20 launches.
  constexpr int kPerGraph = 20;
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < kPerGraph; ++i) {
    if (!launch(p, s).ok()) return 1;
  }
  CK(cudaStreamEndCapture(s, &g));
  CK(cudaGraphInstantiate(&ge, g, 0));
  CK(cudaGraphLaunch(ge, s));
  CK(cudaStreamSynchronize(s));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<float> ms;
  for (int r = 0; r < 10; ++r) {
    CK(cudaEventRecord(e0, s));
    CK(cudaGraphLaunch(ge, s));
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float t = 0;
    CK(cudaEventElapsedTime(&t, e0, e1));
    ms.push_back(t / kPerGraph);
  }
  std::sort(ms.begin(), ms.end());
  double bytes = 0;
  bytes += static_cast<double>(n_layers) * 2 * (static_cast<double>(qkv_dim) * hidden + static_cast<double>(hidden) * q_dim +
                                                3.0 * inter * hidden);
  std::printf("{\"bench\":\"decode_step_kernel\",\"shape\":\"%s\",\"ctx\":%d,\"grid\":%d,\"smem_kib\":%zu,"
              "\"us_per_step\":%.1f,\"weight_mb\":%.1f,\"tb_per_s\":%.2f}\n",
              shape.c_str(), ctx, p.grid, p.smem_bytes >> 10, ms[ms.size() / 2] * 1e3, bytes / 1e6,
              bytes / (ms[ms.size() / 2] * 1e-3) / 1e12);

#ifdef TANDEM_DECODE_STEP_PROFILE
  const size_t n_stamps = static_cast<size_t>(p.grid) * n_layers * 20;
  CK(cudaMalloc(&p.profile, n_stamps * 8));
  std::vector<unsigned long long> st_host(n_stamps);
  const char* names[5] = {"qkv", "attn", "o", "gate_up", "down"};
  std::vector<std::vector<double>> work(5), mbar(5), barrier(5);
  for (int rep = 0; rep < 5; ++rep) {
    CK(cudaMemset(p.profile, 0, n_stamps * 8));
    if (!launch(p, s).ok()) return 1;
    CK(cudaStreamSynchronize(s));
    CK(cudaMemcpy(st_host.data(), p.profile, n_stamps * 8, cudaMemcpyDeviceToHost));
    auto at_ = [&](int cta, int layer, int ph, int which) {
      return static_cast<double>(st_host[(static_cast<size_t>(cta) * n_layers + layer) * 20 + ph * 4 + which]);
    };
    for (int layer = 1; layer < n_layers - 1; ++layer) {
      for (int ph = 0; ph < 5; ++ph) {
        const int nl = ph == 4 ? layer + 1 : layer, nph = (ph + 1) % 5;
        double release = 1e30, last_arrival = 0, slowest = 0, wait_sum = 0;
        for (int c = 0; c < p.grid; ++c) {
          release = std::min(release, at_(c, nl, nph, 0));
          last_arrival = std::max(last_arrival, at_(c, layer, ph, 3));
          slowest = std::max(slowest, at_(c, layer, ph, 3) - at_(c, layer, ph, 0));
          if (ph != 1) wait_sum += at_(c, layer, ph, 2) - at_(c, layer, ph, 1);
        }
        work[ph].push_back(slowest / 1e3);
        mbar[ph].push_back(wait_sum / p.grid / 1e3);
        barrier[ph].push_back((release - last_arrival) / 1e3);
      }
    }
  }
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double sum = 0;
  std::printf("phase    work_us  mbar_wait_us  barrier_us   (medians over layers 1..%d, 5 launches)\n", n_layers - 2);
  for (int ph = 0; ph < 5; ++ph) {
    std::printf("%-8s %7.2f %13.2f %11.2f\n", names[ph], med(work[ph]), med(mbar[ph]), med(barrier[ph]));
    sum += med(work[ph]) + med(barrier[ph]);
  }
  std::printf("per layer ~%.1f us\n", sum);
#endif
  return 0;
}
