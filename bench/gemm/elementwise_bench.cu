// bench/gemm/elementwise_bench: the prefill element-wise kernels of one
// Llama-3.1-8B layer at 8K tokens (RMSNorm f32 -> bf16, SwiGLU, rope_kv with
// float32 and, where the kernel has it, bf16 QKV input), timed alone (median
// of 20, every buffer larger than L2) against a device copy of the same size.
// Built by bench/gemm/build.sh against a source tree (src/ by default, or an
// older commit's), so base and new kernels run side by side in one session.
// Prints GB/s (bytes read + written once) and an output checksum per kernel,
// which must agree between builds whose kernels compute the same values.
//
//   elementwise_bench [--tokens 8192]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "engine/cuda/elementwise_kernels.h"
#include "engine/cuda/rope_kv_kernels.h"

namespace tc = tandem::engine::cuda;

namespace {

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "error: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void ok(const tandem::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", what, s.message().c_str());
    std::exit(1);
  }
}

// Deterministic pseudo-random values in [-scale/2, scale/2), converted to T (float or __nv_bfloat16).
template <class T>
__global__ void fill(T* p, size_t n, unsigned seed, float scale) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    unsigned h = unsigned(i) * 2654435761u ^ seed;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    p[i] = T((float(h & 0xffff) / 65536.0f - 0.5f) * scale);
  }
}
__global__ void to_bf16(const float* in, __nv_bfloat16* out, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    out[i] = __float2bfloat16(in[i]);
  }
}
__global__ void iota(int32_t* p, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = i;
}

// Sum of |bf16 values| in double, on the host (a checksum of an output).
double checksum(const __nv_bfloat16* d, size_t n) {
  std::vector<__nv_bfloat16> h(n);
  ck(cudaMemcpy(h.data(), d, n * 2, cudaMemcpyDeviceToHost), "copy back");
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::abs(double(__bfloat162float(h[i]))) * double(1 + i % 7);
  return s;
}

// Sets qkv_bf16 where the header has it (the newer kernel), else reports false.
template <class P>
auto set_bf16(P& p, const __nv_bfloat16* q, int) -> decltype(p.qkv_bf16 = q, bool()) {
  p.qkv = nullptr;
  p.qkv_bf16 = q;
  return true;
}
template <class P>
bool set_bf16(P&, const __nv_bfloat16*, long) {
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int T = 8192;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokens")) T = std::atoi(argv[i + 1]);
  }
  const int hidden = 4096, inter = 14336, heads = 32, kv_heads = 8, hd = 128, bt = 16;
  const int qkv_dim = (heads + 2 * kv_heads) * hd;
  cudaStream_t st;
  ck(cudaStreamCreate(&st), "stream");
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  auto time = [&](const std::function<void()>& f) {
    for (int i = 0; i < 3; ++i) f();
    std::vector<float> ms;
    for (int i = 0; i < 20; ++i) {
      cudaEventRecord(e0, st);
      f();
      cudaEventRecord(e1, st);
      ck(cudaEventSynchronize(e1), "sync");
      float t = 0;
      cudaEventElapsedTime(&t, e0, e1);
      ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    return 0.5 * (ms[9] + ms[10]);
  };
  auto alloc = [](size_t bytes) {
    void* p = nullptr;
    ck(cudaMalloc(&p, bytes), "malloc");
    return p;
  };
  auto report = [&](const char* name, double ms, double bytes, double sum) {
    std::printf("%-22s %8.4f ms %8.1f GB/s  checksum %.6e\n", name, ms, bytes / (ms * 1e-3) / 1e9, sum);
  };

  {  // copy ceiling: 1 GiB device to device
    const size_t b = size_t{1} << 30;
    void* a = alloc(b);
    void* c = alloc(b);
    const double ms = time([&] { cudaMemcpyAsync(c, a, b, cudaMemcpyDeviceToDevice, st); });
    report("copy_1GiB", ms, 2.0 * b, 0);
    cudaFree(a);
    cudaFree(c);
  }
  {  // RMSNorm: f32 [T, hidden] -> bf16
    auto* x = static_cast<float*>(alloc(size_t(T) * hidden * 4));
    auto* w = static_cast<__nv_bfloat16*>(alloc(hidden * 2));
    auto* out = static_cast<__nv_bfloat16*>(alloc(size_t(T) * hidden * 2));
    fill<float><<<1024, 256, 0, st>>>(x, size_t(T) * hidden, 3, 4.0f);
    fill<__nv_bfloat16><<<64, 256, 0, st>>>(w, hidden, 5, 2.0f);
    tc::RmsNormParams p;
    p.x = x;
    p.weight = w;
    p.out = out;
    p.n_rows = T;
    p.hidden = hidden;
    p.eps = 1e-5f;
    const double ms = time([&] { ok(tc::launch(p, st), "rms_norm"); });
    report("rms_norm", ms, double(T) * hidden * 6, checksum(out, size_t(T) * hidden));
    cudaFree(x);
    cudaFree(w);
    cudaFree(out);
  }
  {  // SwiGLU: [T, 2 inter] -> [T, inter]
    auto* gu = static_cast<__nv_bfloat16*>(alloc(size_t(T) * 2 * inter * 2));
    auto* out = static_cast<__nv_bfloat16*>(alloc(size_t(T) * inter * 2));
    fill<__nv_bfloat16><<<1024, 256, 0, st>>>(gu, size_t(T) * 2 * inter, 7, 8.0f);
    tc::SiluMulParams p;
    p.gate_up = gu;
    p.out = out;
    p.n_tokens = T;
    p.inter = inter;
    const double ms = time([&] { ok(tc::launch(p, st), "silu_mul"); });
    report("silu_mul", ms, double(T) * inter * 6, checksum(out, size_t(T) * inter));
    cudaFree(gu);
    cudaFree(out);
  }
  {  // rope_kv: Llama-3.1 (no bias, no q/k norm), then with q/k norm (Qwen3-style)
    auto* qkv = static_cast<float*>(alloc(size_t(T) * qkv_dim * 4));
    auto* qkv16 = static_cast<__nv_bfloat16*>(alloc(size_t(T) * qkv_dim * 2));
    auto* inv = static_cast<float*>(alloc(hd / 2 * 4));
    auto* pos = static_cast<int32_t*>(alloc(size_t(T) * 4));
    auto* q = static_cast<__nv_bfloat16*>(alloc(size_t(T) * heads * hd * 2));
    auto* nw = static_cast<__nv_bfloat16*>(alloc(hd * 2));
    const int64_t block_elems = int64_t(2) * bt * kv_heads * hd;  // one layer
    const int blocks = (T + bt - 1) / bt;
    auto* pool = static_cast<__nv_bfloat16*>(alloc(size_t(blocks) * block_elems * 2));
    fill<float><<<1024, 256, 0, st>>>(qkv, size_t(T) * qkv_dim, 11, 4.0f);
    to_bf16<<<1024, 256, 0, st>>>(qkv, qkv16, size_t(T) * qkv_dim);
    std::vector<float> hinv(hd / 2);
    for (int i = 0; i < hd / 2; ++i) hinv[i] = float(1.0 / std::pow(500000.0, 2.0 * i / hd));
    cudaMemcpy(inv, hinv.data(), hd / 2 * 4, cudaMemcpyHostToDevice);
    iota<<<(T + 255) / 256, 256, 0, st>>>(pos, T);
    fill<__nv_bfloat16><<<64, 256, 0, st>>>(nw, hd, 13, 2.0f);
    for (int norm = 0; norm < 2; ++norm) {
      tc::RopeKvParams p;
      p.qkv = qkv;
      p.inv_freq = inv;
      p.positions = pos;
      p.kv_slots = pos;
      p.q_out = q;
      p.kv_pool = pool;
      p.block_elems = block_elems;
      p.n_tokens = T;
      p.n_heads = heads;
      p.n_kv_heads = kv_heads;
      p.head_dim = hd;
      p.block_tokens = bt;
      p.q_norm = norm ? nw : nullptr;
      p.k_norm = norm ? nw : nullptr;
      const double out_bytes = double(T) * (heads + 2 * kv_heads) * hd * 2;
      const char* n32 = norm ? "rope_kv_qknorm_f32in" : "rope_kv_f32in";
      const char* n16 = norm ? "rope_kv_qknorm_bf16in" : "rope_kv_bf16in";
      double ms = time([&] { ok(tc::launch(p, st), "rope_kv"); });
      report(n32, ms, double(T) * qkv_dim * 4 + out_bytes,
             checksum(q, size_t(T) * heads * hd) + checksum(pool, size_t(blocks) * block_elems));
      if (set_bf16(p, qkv16, 0)) {
        ms = time([&] { ok(tc::launch(p, st), "rope_kv bf16"); });
        report(n16, ms, double(T) * qkv_dim * 2 + out_bytes,
               checksum(q, size_t(T) * heads * hd) + checksum(pool, size_t(blocks) * block_elems));
      }
    }
  }
  ck(cudaDeviceSynchronize(), "final sync");
  return 0;
}
