// Row-wide building blocks of the sampling kernel (sampling_kernels.cu): a
// row of logits is sampled by one CTA or by a thread-block cluster of CTAs
// that each own a slice of consecutive ids. Here: the shared-memory layout,
// order-preserving float keys, block reductions, the cluster exchange
// (reductions and histogram merges through distributed shared memory), radix
// selection of the k-th largest key, and the inverse-CDF draw scan.
//
// Device code only, included by sampling_kernels.cu alone. Contracts: every
// function here is called by all threads of the CTA (block-uniform control
// flow), and the cluster variants by all CTAs of the cluster in the same
// sequence; results are returned to every thread. Sums are taken in a fixed
// order (thread, warp, then cluster rank), so a row's answer does not depend
// on the rest of the batch.
#pragma once

#include <cooperative_groups.h>

#include <climits>
#include <cstdint>

#include "engine/cuda/sampling_kernels.h"

namespace tandem::engine::cuda::sampling_detail {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;  // 8-bit radix digits, 4 passes over 32-bit keys
constexpr int kItems = 8;   // ids per thread per tile of the id-order scan
constexpr float kGreedyEpsilon = 1e-5f;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kMaxCluster = 16;  // CTAs per row at most (a non-portable cluster size on sm_90)
constexpr int kMinSlice = 4096;  // automatic cluster size: at least this many ids per CTA
constexpr int kListMax = 256;    // top_k rows with at most this many candidates finish in shared memory

namespace cg = cooperative_groups;

// One CTA's contribution to a cluster exchange (small reductions).
struct Part {
  double d;
  float f;
  int32_t i0;
};

// Candidates of a top_k row, gathered into the lead CTA (in the histogram
// space: no histogram is used once they are gathered).
struct ListBufs {
  int32_t loc_id[kListMax];  // this CTA's candidates, any order
  float loc_x[kListMax];     // their scaled values
  int32_t g_id[kListMax];    // lead: every CTA's, in rank order
  float g_x[kListMax];
  int32_t id[kListMax];  // lead: ascending id
  float x[kListMax];
  double e[kListMax];          // exp(x - m) in double, as the host
  int32_t by_value[kListMax];  // indices into id/x in (desc x, asc id) order
  uint8_t kept[kListMax];
};

struct Shared {
  union {
    ListBufs list;
    uint32_t cnt[kWarps][kBins];  // per-warp count histograms (top_k, logprobs)
    double mass[kWarps][kBins];   // per-warp mass histograms (top_p)
  } h;
  uint32_t tot_cnt[kBins];  // histograms of the whole row (merged over the cluster)
  double tot_mass[kBins];
  uint32_t loc_cnt[kBins];   // this CTA's boundary-bucket counts (top_p, last digit)
  uint32_t x_cnt[2][kBins];  // this CTA's histograms, read by the cluster (two by parity)
  double x_mass[2][kBins];
  Part x_part[2];
  int32_t n_above;
  int32_t loc_ids[kMaxDeviceLogprobs];  // this CTA's ids above the k-th raw key (fewer than k)
  double red_d[kWarps];
  double red_d2[kWarps];
  float red_f[kWarps];
  int32_t red_i[kWarps];
  int32_t red_i2[kWarps];
  uint32_t sel_key;  // radix results broadcast by thread 0
  int32_t sel_rem;
  double sel_above;
  int32_t found;
  float raw_token_value;
  int32_t top_ids[kMaxDeviceLogprobs];
};

__device__ __forceinline__ float no_nan(float x) { return x != x ? -__int_as_float(0x7f800000) : x; }

// Order-preserving key: a > b (as floats, NaN as -inf, -0 == +0) <=> key(a) > key(b).
__device__ __forceinline__ uint32_t order_key(float x) {
  x = no_nan(x);
  if (x == 0.0f) x = 0.0f;
  const uint32_t b = __float_as_uint(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ float key_value(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ __forceinline__ bool better(float a, int32_t ia, float b, int32_t ib) {
  return a > b || (a == b && ia < ib);
}

// Calls f(i, row[i]) for the ids in [lo, hi) this thread owns, with 16-byte
// loads (two in flight) when row + lo is 16-byte aligned.
template <class F>
__device__ __forceinline__ void for_slice(const float* row, int lo, int hi, F&& f) {
  const float* base = row + lo;
  const int n = hi - lo;
  int start = 0;
  if ((reinterpret_cast<uintptr_t>(base) & 15u) == 0) {
    const int n4 = n >> 2;
    const float4* r4 = reinterpret_cast<const float4*>(base);
    int j = threadIdx.x;
    for (; j + kThreads < n4; j += 2 * kThreads) {
      const float4 a = r4[j];
      const float4 b = r4[j + kThreads];
      const int ia = lo + 4 * j, ib = lo + 4 * (j + kThreads);
      f(ia, a.x), f(ia + 1, a.y), f(ia + 2, a.z), f(ia + 3, a.w);
      f(ib, b.x), f(ib + 1, b.y), f(ib + 2, b.z), f(ib + 3, b.w);
    }
    if (j < n4) {
      const float4 a = r4[j];
      const int ia = lo + 4 * j;
      f(ia, a.x), f(ia + 1, a.y), f(ia + 2, a.z), f(ia + 3, a.w);
    }
    start = 4 * n4;
  }
  for (int i = start + static_cast<int>(threadIdx.x); i < n; i += kThreads) f(lo + i, base[i]);
}

// Block reductions; every thread gets the result. All threads must call.
__device__ double block_sum(double v, Shared& s) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) s.red_d[warp] = v;
  __syncthreads();
  double t = 0.0;
  for (int w = 0; w < kWarps; ++w) t += s.red_d[w];
  __syncthreads();
  return t;
}

__device__ int32_t block_min_int(int32_t v, Shared& s) {
  for (int o = 16; o > 0; o >>= 1) v = min(v, __shfl_xor_sync(kFull, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) s.red_i[warp] = v;
  __syncthreads();
  int32_t t = s.red_i[0];
  for (int w = 1; w < kWarps; ++w) t = min(t, s.red_i[w]);
  __syncthreads();
  return t;
}

// (value, id) with the `better` order; ids INT_MAX mean "none".
__device__ void block_argmax(float& v, int32_t& id, Shared& s) {
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(kFull, v, o);
    const int32_t oi = __shfl_xor_sync(kFull, id, o);
    if (better(ov, oi, v, id)) {
      v = ov;
      id = oi;
    }
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    s.red_f[warp] = v;
    s.red_i[warp] = id;
  }
  __syncthreads();
  v = s.red_f[0];
  id = s.red_i[0];
  for (int w = 1; w < kWarps; ++w) {
    if (better(s.red_f[w], s.red_i[w], v, id)) {
      v = s.red_f[w];
      id = s.red_i[w];
    }
  }
  __syncthreads();
}

// Exclusive block scan of (mass, count) in thread order; also returns totals.
__device__ void block_scan(double m, int32_t c, double& m_excl, int32_t& c_excl, double& m_total, int32_t& c_total,
                           Shared& s) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  double mi = m;
  int32_t ci = c;
  for (int o = 1; o < 32; o <<= 1) {
    const double om = __shfl_up_sync(kFull, mi, o);
    const int32_t oc = __shfl_up_sync(kFull, ci, o);
    if (lane >= o) {
      mi += om;
      ci += oc;
    }
  }
  if (lane == 31) {
    s.red_d2[warp] = mi;
    s.red_i2[warp] = ci;
  }
  __syncthreads();
  double wm = 0.0, tm = 0.0;
  int32_t wc = 0, tc = 0;
  for (int w = 0; w < kWarps; ++w) {
    if (w == warp) {
      wm = tm;
      wc = tc;
    }
    tm += s.red_d2[w];
    tc += s.red_i2[w];
  }
  __syncthreads();
  m_excl = wm + mi - m;
  c_excl = wc + ci - c;
  m_total = tm;
  c_total = tc;
}

// This CTA's place in its row: the row's ids are split into `size` slices of
// consecutive ids (a cluster of `size` CTAs, rank order = id order).
struct Ctx {
  int rank = 0, size = 1;
  int lo = 0, hi = 0;  // this CTA's ids
  int parity = 0;      // exchange buffer in use; flips after each exchange
};

// Cluster barrier (a block barrier when the row has one CTA). Release/acquire:
// shared and global writes before it are visible to the cluster after it.
__device__ __forceinline__ void cl_sync(const Ctx& c) {
  if (c.size > 1) {
    cg::this_cluster().sync();
  } else {
    __syncthreads();
  }
}

template <class T>
__device__ __forceinline__ T* at_rank(const Ctx& c, T* p, int rank) {
  return c.size > 1 ? cg::this_cluster().map_shared_rank(p, rank) : p;
}

// Every CTA publishes `mine` (block-uniform); each(rank, part) then sees every
// CTA's part in rank order, in every thread. Exchanges alternate between two
// buffers, so one barrier per exchange suffices: a buffer is rewritten two
// exchanges later, after every CTA passed the barrier that follows its reads.
// All CTAs of the cluster make the same sequence of exchanges (control flow
// depends only on the row's spec and on exchanged values).
template <class F>
__device__ void exchange(Ctx& c, Shared& s, const Part& mine, F&& each) {
  if (threadIdx.x == 0) s.x_part[c.parity] = mine;
  cl_sync(c);
  for (int q = 0; q < c.size; ++q) each(q, *at_rank(c, &s.x_part[c.parity], q));
  c.parity ^= 1;
}

__device__ double cluster_sum(double v, Ctx& c, Shared& s) {
  v = block_sum(v, s);
  if (c.size == 1) return v;
  double t = 0.0;
  exchange(c, s, Part{v, 0.0f, 0}, [&](int, const Part& q) { t += q.d; });
  return t;
}

__device__ int32_t cluster_min_int(int32_t v, Ctx& c, Shared& s) {
  v = block_min_int(v, s);
  if (c.size == 1) return v;
  int32_t t = INT_MAX;
  exchange(c, s, Part{0.0, 0.0f, v}, [&](int, const Part& q) { t = min(t, q.i0); });
  return t;
}

__device__ void cluster_argmax(float& v, int32_t& id, Ctx& c, Shared& s) {
  block_argmax(v, id, s);
  if (c.size == 1) return;
  float bv = -__int_as_float(0x7f800000);
  int32_t bi = INT_MAX;
  exchange(c, s, Part{0.0, v, id}, [&](int, const Part& q) {
    if (better(q.f, q.i0, bv, bi)) {
      bv = q.f;
      bi = q.i0;
    }
  });
  v = bv;
  id = bi;
}

// Per-warp count histograms (s.h.cnt) -> the row's totals in s.tot_cnt.
__device__ void merge_counts(Ctx& c, Shared& s) {
  uint32_t* mine = c.size == 1 ? s.tot_cnt : s.x_cnt[c.parity];
  for (int b = threadIdx.x; b < kBins; b += kThreads) {
    uint32_t t = 0;
    for (int w = 0; w < kWarps; ++w) t += s.h.cnt[w][b];
    mine[b] = t;
  }
  if (c.size > 1) {
    cl_sync(c);
    for (int b = threadIdx.x; b < kBins; b += kThreads) {
      uint32_t t = 0;
#pragma unroll 4
      for (int q = 0; q < c.size; ++q) t += at_rank(c, s.x_cnt[c.parity], q)[b];
      s.tot_cnt[b] = t;
    }
    c.parity ^= 1;
  }
  __syncthreads();
}

// Per-warp mass histograms (s.h.mass) and, when `counts`, s.loc_cnt -> the
// row's totals in s.tot_mass (sums in rank order) and s.tot_cnt.
__device__ void merge_mass(Ctx& c, Shared& s, bool counts) {
  double* mine = c.size == 1 ? s.tot_mass : s.x_mass[c.parity];
  uint32_t* mine_cnt = c.size == 1 ? s.tot_cnt : s.x_cnt[c.parity];
  for (int b = threadIdx.x; b < kBins; b += kThreads) {
    double t = 0.0;
    for (int w = 0; w < kWarps; ++w) t += s.h.mass[w][b];
    mine[b] = t;
    if (counts) mine_cnt[b] = s.loc_cnt[b];
  }
  if (c.size > 1) {
    cl_sync(c);
    for (int b = threadIdx.x; b < kBins; b += kThreads) {
      double t = 0.0;
#pragma unroll 4
      for (int q = 0; q < c.size; ++q) t += at_rank(c, s.x_mass[c.parity], q)[b];
      s.tot_mass[b] = t;
      if (counts) {
        uint32_t n = 0;
        for (int q = 0; q < c.size; ++q) n += at_rank(c, s.x_cnt[c.parity], q)[b];
        s.tot_cnt[b] = n;
      }
    }
    c.parity ^= 1;
  }
  __syncthreads();
}

// Radix bucket choice over s.tot_cnt by warp 0 (lane l sums bins 255 - 8l ..
// 248 - 8l): the highest bin b whose count plus the counts above it reaches
// `rem` -> s.sel_key, s.sel_rem = rem - (count above b); no such bin: 0 and
// rem - total. `want_total`: s.red_i2[0] = the total count. Same answer as a
// serial walk from bin 255 (integer sums).
__device__ void choose_count_bin(int32_t rem, bool want_total, Shared& s) {
  if (threadIdx.x >= 32) return;
  const int lane = threadIdx.x;
  const int top = kBins - 1 - 8 * lane;
  int32_t sum = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) sum += static_cast<int32_t>(s.tot_cnt[top - j]);
  int32_t inc = sum;
  for (int o = 1; o < 32; o <<= 1) {
    const int32_t y = __shfl_up_sync(kFull, inc, o);
    if (lane >= o) inc += y;
  }
  const int32_t total = __shfl_sync(kFull, inc, 31);
  const unsigned hit = __ballot_sync(kFull, inc >= rem);
  if (hit == 0) {
    if (lane == 0) {
      s.sel_key = 0;
      s.sel_rem = rem - total;
    }
  } else if (lane == __ffs(hit) - 1) {
    int32_t above = inc - sum;
    int chosen = top - 7;
    for (int j = 0; j < 8; ++j) {
      const int32_t n = static_cast<int32_t>(s.tot_cnt[top - j]);
      if (above + n >= rem) {
        chosen = top - j;
        break;
      }
      above += n;
    }
    s.sel_key = static_cast<uint32_t>(chosen);
    s.sel_rem = rem - above;
  }
  if (want_total && lane == 0) s.red_i2[0] = total;
}

// top_p bucket choice over s.tot_mass by warp 0: the first bin (from 255 down)
// with mass > 0 at which above + cumulative mass reaches top_p * z, where z is
// the histogram's total on the first digit (`first`) and `z_in` after.
// Writes s.sel_key, s.sel_above (mass above the bin), s.red_d2[1] = z and
// s.red_i2[1] = the bin's count (`counts`: the last digit). Rounding fallback
// (no bin reaches it): the lowest bin with mass, as the serial walk did.
__device__ void choose_mass_bin(double above0, double z_in, bool first, bool counts, float top_p, Shared& s) {
  if (threadIdx.x >= 32) return;
  const int lane = threadIdx.x;
  const int top = kBins - 1 - 8 * lane;
  double sum = 0.0;
  int lowest = INT_MAX;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const double mb = s.tot_mass[top - j];
    sum += mb;
    if (mb > 0.0) lowest = top - j;
  }
  double inc = sum;
  for (int o = 1; o < 32; o <<= 1) {
    const double y = __shfl_up_sync(kFull, inc, o);
    if (lane >= o) inc += y;
  }
  const double total = __shfl_sync(kFull, inc, 31);
  const double zz = first ? total : z_in;
  const double tgt = static_cast<double>(top_p) * zz;
  const unsigned hit = __ballot_sync(kFull, sum > 0.0 && above0 + inc >= tgt);
  int low_all = lowest;
  for (int o = 16; o > 0; o >>= 1) low_all = min(low_all, __shfl_xor_sync(kFull, low_all, o));
  int chosen = -1;
  double a = 0.0;
  if (hit != 0) {
    if (lane == __ffs(hit) - 1) {
      a = above0 + (inc - sum);
      double before_last = a;
      for (int j = 0; j < 8; ++j) {
        const double mb = s.tot_mass[top - j];
        if (!(mb > 0.0)) continue;
        if (a + mb >= tgt) {
          chosen = top - j;
          break;
        }
        before_last = a;
        a += mb;
      }
      if (chosen < 0) {  // rounding inside the lane: descend into its lowest bin with mass
        chosen = lowest;
        a = before_last;
      }
    }
  } else if (lane == 0) {  // rounding: the whole range is kept; descend into its lowest bucket
    chosen = low_all == INT_MAX ? 0 : low_all;
    a = above0 + total - (low_all == INT_MAX ? 0.0 : s.tot_mass[chosen]);
  }
  if (chosen >= 0) {
    s.sel_key = static_cast<uint32_t>(chosen);
    s.sel_above = a;
    s.red_d2[1] = zz;
    s.red_i2[1] = counts ? static_cast<int32_t>(s.tot_cnt[chosen]) : 0;
  }
}

// The k-th largest key (1-based) among the row's ids where key_of(i, row[i],
// key) returns true. `total` receives the count of such ids (from the first
// pass); when it is <= k the selection stops there (the result is then
// meaningless). Each CTA histograms its slice; histograms merge per pass.
// With stop_at > 0, the descent also stops once at most stop_at ids have keys
// >= the chosen bucket's lowest key: `early` is set and that key returned
// (the k-th key is among those ids).
template <class KeyOf>
__device__ uint32_t radix_select(const float* row, int32_t k, KeyOf key_of, int32_t& total, Ctx& c, Shared& s,
                                 int32_t stop_at, bool& early) {
  early = false;
  uint32_t prefix = 0, prefix_mask = 0;
  int32_t rem = k;
  const int warp = threadIdx.x / 32;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < kWarps * kBins; i += kThreads) (&s.h.cnt[0][0])[i] = 0;
    __syncthreads();
    for_slice(row, c.lo, c.hi, [&](int i, float v) {
      uint32_t key;
      if (key_of(i, v, key) && (key & prefix_mask) == prefix) atomicAdd(&s.h.cnt[warp][(key >> shift) & 255u], 1u);
    });
    __syncthreads();
    merge_counts(c, s);
    choose_count_bin(rem, shift == 24, s);
    __syncthreads();
    if (shift == 24) total = s.red_i2[0];
    prefix |= s.sel_key << shift;
    prefix_mask |= 255u << shift;
    rem = s.sel_rem;
    const int32_t at_or_above = k - rem + static_cast<int32_t>(s.tot_cnt[s.sel_key]);
    __syncthreads();
    if (shift == 24 && total <= k) return 0;  // caller checks total
    if (at_or_above <= stop_at) {
      early = true;
      return prefix;
    }
  }
  return prefix;
}

// Inverse-CDF scan of ids [lo, hi) in ascending order, starting at cumulative
// mass `carry` and tie rank `tie_carry`: the first kept id whose cumulative
// mass exceeds `target`, or INT_MAX (every thread gets it). `last_kept`: this
// thread's last kept id seen, or -1. Block-level: the whole CTA calls it.
template <class Cand, class Mass>
__device__ int32_t draw_scan(const float* L, int lo, int hi, double carry, int32_t tie_carry, double target, bool use_p,
                             uint32_t pkey, int64_t keep_ties, Cand candidate, Mass mass, int32_t& last_kept,
                             Shared& s) {
  const int tid = threadIdx.x;
  if (tid == 0) s.found = INT_MAX;
  __syncthreads();
  last_kept = -1;
  for (int base = lo; base < hi; base += kThreads * kItems) {
    const int first = base + tid * kItems;
    double local = 0.0;
    int32_t ties = 0;
    float xs[kItems];
    uint8_t state[kItems];  // 0 out, 1 kept, 2 tie at the top_p boundary
#pragma unroll
    for (int t = 0; t < kItems; ++t) {
      const int i = first + t;
      state[t] = 0;
      xs[t] = 0.0f;
      if (i >= hi) continue;
      uint32_t key;
      if (!candidate(L[i], xs[t], key)) continue;
      if (use_p && key < pkey) continue;
      state[t] = use_p && key == pkey ? 2 : 1;
      ties += state[t] == 2 ? 1 : 0;
    }
    double m_excl, m_total;
    int32_t c_excl, c_total, tie_total;
    // Tie ranks first (a kept tie's mass counts only if its rank is kept).
    block_scan(0.0, ties, m_excl, c_excl, m_total, tie_total, s);
    int32_t rank = tie_carry + c_excl;
#pragma unroll
    for (int t = 0; t < kItems; ++t) {
      if (state[t] == 2) {
        if (rank >= keep_ties) state[t] = 0;
        ++rank;
      }
      if (state[t] != 0) {
        local += mass(xs[t]);
        last_kept = first + t;
      }
    }
    block_scan(local, 0, m_excl, c_excl, m_total, c_total, s);
    if (carry + m_excl + local > target) {
      double cum = carry + m_excl;
      for (int t = 0; t < kItems; ++t) {
        if (state[t] == 0) continue;
        cum += mass(xs[t]);
        if (cum > target) {
          atomicMin(&s.found, first + t);
          break;
        }
      }
    }
    __syncthreads();
    if (s.found != INT_MAX) break;
    carry += m_total;
    tie_carry += tie_total;
  }
  const int32_t found = s.found;
  __syncthreads();
  return found;
}

}  // namespace tandem::engine::cuda::sampling_detail
