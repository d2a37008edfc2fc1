// WeightStream: the weight matrices of a decode step in the order its GEMV
// kernels read them, and the L2 prefetch each kernel issues for its successors.
//
// Kernel i reads matrix i, the stream bytes [e(i-1), e(i)). With a lookahead
// of D bytes it prefetches the stream bytes [e(i-1) + D, e(i) + D) (kernel 0:
// [0, e(0) + D)), so each kernel asks for as many bytes as it consumes, D
// ahead of its own reads: the HBM streams the next matrices while this kernel
// and the small kernels between the products (RoPE, attention, norms) run,
// and L2 holds at most about D + one matrix of prefetched weights.
// A range that spans matrices becomes one PrefetchRange per matrix (at most
// GemvParams::kMaxPrefetch; further pieces are dropped, it is only a hint).
//
// Threads: plain host data, owned by the runner's thread.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "engine/cuda/gemv_kernels.h"

namespace tandem::engine::cuda {

class WeightStream {
 public:
  // Appends the next matrix in read order (16-byte aligned, bytes % 16 == 0).
  void add(const void* ptr, int64_t bytes) {
    ptr_.push_back(static_cast<const char*>(ptr));
    end_.push_back((end_.empty() ? 0 : end_.back()) + bytes);
  }
  int size() const { return static_cast<int>(ptr_.size()); }
  int64_t total_bytes() const { return end_.empty() ? 0 : end_.back(); }

  // Fills out[0 .. kMaxPrefetch) with kernel i's prefetch ranges (empty ones
  // where fewer are needed); lookahead 0 or i out of range: all empty.
  void ranges_for(int i, int64_t lookahead, PrefetchRange (&out)[GemvParams::kMaxPrefetch]) const {
    for (PrefetchRange& r : out) r = PrefetchRange{};
    if (lookahead <= 0 || i < 0 || i >= size()) return;
    const int64_t lo = i == 0 ? 0 : std::min(end_[i - 1] + lookahead, total_bytes());
    const int64_t hi = std::min(end_[i] + lookahead, total_bytes());
    int n = 0;
    for (int m = 0; m < size() && n < GemvParams::kMaxPrefetch; ++m) {
      const int64_t begin = m == 0 ? 0 : end_[m - 1];
      const int64_t a = std::max(lo, begin), b = std::min(hi, end_[m]);
      if (a >= b) continue;
      out[n].ptr = ptr_[m] + (a - begin);
      out[n].bytes = (b - a) / 16 * 16;
      if (out[n].bytes > 0) ++n;
    }
  }

 private:
  std::vector<const char*> ptr_;
  std::vector<int64_t> end_;  // cumulative end offset of each matrix
};

// The lookahead D for the decode GEMVs on `device`: TANDEM_CUDA_PREFETCH_MB
// (MiB, read once per process; default 0 = off: v8 measured it slower), or 0
// when the largest layer matrix exceeds a quarter of the device's L2 (a
// prefetched matrix that L2 cannot hold would be evicted before it is read)
// or the device is older than sm_90 (no bulk prefetch).
inline int64_t decode_lookahead_bytes(int device, int64_t largest_matrix_bytes) {
  static const int64_t env_bytes = [] {
    const char* v = std::getenv("TANDEM_CUDA_PREFETCH_MB");
    const long mb = v != nullptr ? std::strtol(v, nullptr, 10) : 0;
    return static_cast<int64_t>(std::clamp<long>(mb, 0, 1024)) << 20;
  }();
  int l2 = 0, major = 0;
  if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  if (major < 9 || largest_matrix_bytes > l2 / 4) return 0;
  return env_bytes;
}

}  // namespace tandem::engine::cuda
