#include "engine/cuda/sampling_kernels.h"

#include <climits>
#include <mutex>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/sampling_row_ops.h"

namespace tandem::engine::cuda {
namespace {

using namespace sampling_detail;  // the kernel below is written in the terms of sampling_row_ops.h

// Grid: n_rows * size CTAs; CTAs [row * size, row * size + size) form one
// cluster (when size > 1) and sample row `row` together.
__global__ void __launch_bounds__(kThreads, 2) sample_kernel(SampleKernelParams p, int cluster) {
  __shared__ Shared s;
  Ctx c;
  c.size = cluster;
  c.rank = cluster > 1 ? static_cast<int>(cg::this_cluster().block_rank()) : 0;
  const int row = blockIdx.x / cluster;
  const int tid = threadIdx.x;
  const int vocab = p.vocab;
  {
    const int chunk = ((vocab + cluster - 1) / cluster + 3) & ~3;
    c.lo = min(vocab, c.rank * chunk);
    c.hi = min(vocab, c.lo + chunk);
  }
  const bool lead = c.rank == 0;
  const SampleRowSpec r = p.rows[row];
  float* L = p.logits + static_cast<int64_t>(row) * vocab;
  SampleRowResult& res = p.results[row];
  const float kNegInf = -__int_as_float(0x7f800000);
  auto mine = [&c](int32_t id) { return id >= c.lo && id < c.hi; };  // implies id in [0, vocab)

  const bool need_rep = r.repetition != 1.0f && (r.prompt_count > 0 || r.output_count > 0);
  const bool need_fp = (r.frequency != 0.0f || r.presence != 0.0f) && r.output_count > 0;
  const bool has_mods = r.bias_count > 0 || r.suppressed_count > 0 || need_rep || need_fp;
  const int32_t list_begin = r.bias_begin;  // lists are packed contiguously: bias, suppressed, prompt, output
  const int32_t list_end = r.output_begin + r.output_count;

  // ---- 1. raw stats (before anything is modified) ----------------------------
  double lse = 0.0;
  int32_t raw_argmax = 0;  // host semantics: argmax of the raw row, NaN at 0 sticks
  if (r.logprobs >= 0 || has_mods) {
    const bool nan_at_0 = L[0] != L[0];  // read before the barrier: rank 0 may modify L[0] after it
    float v = kNegInf;
    int32_t id = INT_MAX;
    for_slice(L, c.lo, c.hi, [&](int i, float x) {
      if (x == x && better(x, i, v, id)) {
        v = x;
        id = i;
      }
    });
    cluster_argmax(v, id, c, s);
    const float m_raw = v;
    raw_argmax = (nan_at_0 || id == INT_MAX) ? 0 : id;
    if (r.logprobs >= 0) {
      double z = 0.0;
      for_slice(L, c.lo, c.hi, [&](int, float x) {
        if (x > kNegInf) z += exp(static_cast<double>(x) - m_raw);
      });
      z = cluster_sum(z, c, s);
      lse = static_cast<double>(m_raw) + log(z);
      int32_t k = min(r.logprobs, vocab);
      if (k > 0) {
        int32_t total = 0;
        bool early = false;
        const uint32_t kth = radix_select(
            L, k,
            [](int, float v, uint32_t& key) {
              key = order_key(v);
              return true;
            },
            total, c, s, 0, early);
        // Ids strictly above the k-th key (fewer than k), then the lowest ids equal to it.
        if (tid == 0) s.n_above = 0;
        __syncthreads();
        for_slice(L, c.lo, c.hi, [&](int i, float v) {
          if (order_key(v) > kth) s.loc_ids[atomicAdd(&s.n_above, 1)] = i;
        });
        __syncthreads();
        int32_t n = 0;
        {
          int32_t counts[kMaxCluster];
          exchange(c, s, Part{0.0, 0.0f, s.n_above}, [&](int q, const Part& x) {
            counts[q] = x.i0;
            n += x.i0;
          });
          if (lead && tid == 0) {
            int32_t at = 0;
            for (int q = 0; q < c.size; ++q) {
              const int32_t* ids = at_rank(c, s.loc_ids, q);
              for (int32_t j = 0; j < counts[q]; ++j) s.top_ids[at++] = ids[j];
            }
          }
        }
        int32_t last = -1;
        while (n < k) {
          int32_t cand = INT_MAX;
          for (int i = c.lo + tid; i < c.hi; i += kThreads) {
            if (i > last && order_key(L[i]) == kth) {
              cand = i;
              break;
            }
          }
          last = cluster_min_int(cand, c, s);
          if (last == INT_MAX) break;  // cannot happen: k keys are >= the k-th
          if (lead && tid == 0) s.top_ids[n] = last;
          ++n;
        }
        __syncthreads();
        k = n;
        if (lead && tid == 0) {
          // At most 20 entries: insertion sort by (desc value, asc id).
          for (int a = 1; a < k; ++a) {
            const int32_t ia = s.top_ids[a];
            const float va = no_nan(L[ia]);
            int b = a - 1;
            while (b >= 0 && better(va, ia, no_nan(L[s.top_ids[b]]), s.top_ids[b])) {
              s.top_ids[b + 1] = s.top_ids[b];
              --b;
            }
            s.top_ids[b + 1] = ia;
          }
          for (int a = 0; a < k; ++a) {
            const int32_t ia = s.top_ids[a];
            const float x = L[ia];
            res.top_ids[a] = ia;
            res.top_logprobs[a] = x != x ? kNegInf : static_cast<float>(static_cast<double>(x) - lse);
          }
        }
        // The lead read raw values from every slice: nobody modifies its slice before that.
        if (has_mods && c.size > 1) cl_sync(c);
      }
      if (lead && tid == 0) res.n_top = k;
    }
  }
  if (lead && tid == 0 && r.logprobs < 0) res.n_top = 0;

  // ---- 2. bias, suppressed, penalties (in place, each CTA in its slice) -------
  if (has_mods) {
    for (int32_t j = list_begin + tid; j < list_end; j += kThreads) {
      const int32_t id = p.tokens[j];
      if (mine(id)) p.saved[j] = L[id];
    }
    __syncthreads();
    if (tid == 0) {
      for (int32_t j = r.bias_begin; j < r.bias_begin + r.bias_count; ++j) {
        const int32_t id = p.tokens[j];
        if (mine(id)) L[id] = __fadd_rn(L[id], p.bias_values[j]);
      }
    }
    __syncthreads();
    for (int32_t j = r.suppressed_begin + tid; j < r.suppressed_begin + r.suppressed_count; j += kThreads) {
      const int32_t id = p.tokens[j];
      if (mine(id)) L[id] = kNegInf;
    }
    __syncthreads();
    if (need_rep || need_fp) {
      uint32_t* C = p.counts + static_cast<int64_t>(row) * vocab;
      if (need_rep) {
        for (int32_t j = r.prompt_begin + tid; j < r.prompt_begin + r.prompt_count; j += kThreads) {
          const int32_t id = p.tokens[j];
          if (mine(id)) atomicOr(&C[id], 0x80000000u);
        }
      }
      for (int32_t j = r.output_begin + tid; j < r.output_begin + r.output_count; j += kThreads) {
        const int32_t id = p.tokens[j];
        if (mine(id)) atomicAdd(&C[id], 1u);
      }
      __syncthreads();
      // Each distinct id is claimed by exactly one thread (the exchange also
      // clears the scratch for the next step).
      for (int32_t j = r.prompt_begin + tid; j < r.output_begin + r.output_count; j += kThreads) {
        const int32_t id = p.tokens[j];
        if (!mine(id)) continue;
        const uint32_t n = atomicExch(&C[id], 0u);
        if (n == 0) continue;
        float v = L[id];
        if (need_rep) v = v > 0.0f ? __fdiv_rn(v, r.repetition) : __fmul_rn(v, r.repetition);
        const uint32_t outs = n & 0x7fffffffu;
        if (need_fp && outs > 0) {
          v = __fsub_rn(v, __fadd_rn(__fmul_rn(static_cast<float>(outs), r.frequency), r.presence));
        }
        L[id] = v;
      }
    }
    __syncthreads();
  }

  // ---- 3. processed max; greedy -------------------------------------------
  float best_v = kNegInf;
  int32_t best = INT_MAX;
  for_slice(L, c.lo, c.hi, [&](int i, float v) {
    const float x = no_nan(v);
    if (better(x, i, best_v, best)) {
      best_v = x;
      best = i;
    }
  });
  cluster_argmax(best_v, best, c, s);
  int32_t token = 0;
  if (!(best_v > kNegInf)) {
    token = raw_argmax;  // everything filtered out
  } else if (!(r.temperature >= kGreedyEpsilon)) {
    token = best;
  } else {
    // ---- 4. temperature, min_p, top_k, top_p, draw ---------------------------
    const float inv_t = __fdiv_rn(1.0f, r.temperature);
    const float m = __fmul_rn(best_v, inv_t);
    const double min_p = r.min_p;
    auto scaled = [&](float v) { return __fmul_rn(no_nan(v), inv_t); };
    // min_p as the host decides it (exp in double), with a float pre-test:
    // only values whose float exp is within 1e-5 of the bound pay for it.
    auto pass_min_p = [&](float x) {
      if (!(x > kNegInf)) return false;
      if (r.min_p <= 0.0f || x >= m) return true;
      const float e = expf(x - m);
      if (fabsf(e - r.min_p) > 1e-5f * r.min_p) return e > r.min_p;
      return !(exp(static_cast<double>(x) - m) < min_p);
    };
    // Probability mass exp(x - m): float exp (sums in double). It only feeds
    // cumulative sums, whose rounding may already differ from the host's.
    auto mass = [&](float x) { return static_cast<double>(expf(x - m)); };
    bool use_k = false;
    uint32_t kth = 0;   // the k-th key, or (early) the lowest key of the candidates to gather
    int32_t total = 0;  // ids passing min_p (when top_k is set)
    bool early = false;
    if (r.top_k > 0) {
      kth = radix_select(
          L, r.top_k,
          [&](int, float v, uint32_t& key) {
            const float x = scaled(v);
            key = order_key(x);
            return pass_min_p(x);
          },
          total, c, s, r.top_k <= kListMax ? kListMax : 0, early);
      use_k = total > r.top_k;
    }
    auto candidate = [&](float v, float& x, uint32_t& key) {
      x = scaled(v);
      key = order_key(x);
      return pass_min_p(x) && (!use_k || key >= kth);
    };

    // top_k rows with few candidates: gather them into the lead CTA and finish
    // there with the host's arithmetic (double exp, sums in the host's order).
    bool listed = false;
    if (r.top_k > 0 && (early || (!use_k && total <= kListMax))) {
      ListBufs& lb = s.h.list;
      if (tid == 0) s.n_above = 0;
      __syncthreads();
      for_slice(L, c.lo, c.hi, [&](int i, float v) {
        float x;
        uint32_t key;
        if (candidate(v, x, key)) {
          const int32_t at = atomicAdd(&s.n_above, 1);
          if (at < kListMax) {
            lb.loc_id[at] = i;
            lb.loc_x[at] = x;
          }
        }
      });
      __syncthreads();
      int32_t counts[kMaxCluster];
      int32_t n = 0;
      exchange(c, s, Part{0.0, 0.0f, s.n_above}, [&](int q, const Part& x) {
        counts[q] = x.i0;
        n += x.i0;
      });
      listed = n <= kListMax;  // ties at the k-th value can make more
      if (listed) {
        int32_t chosen = INT_MAX;
        if (lead) {
          int32_t at = 0;
          for (int q = 0; q < c.size; ++q) {
            const ListBufs* src = at_rank(c, &lb, q);
            for (int32_t j = tid; j < counts[q]; j += kThreads) {
              lb.g_id[at + j] = src->loc_id[j];
              lb.g_x[at + j] = src->loc_x[j];
            }
            at += counts[q];
          }
          __syncthreads();
          if (tid < n) {  // ascending id (ids are distinct)
            const int32_t my = lb.g_id[tid];
            int32_t rank = 0;
            for (int32_t j = 0; j < n; ++j) rank += lb.g_id[j] < my ? 1 : 0;
            lb.id[rank] = my;
            lb.x[rank] = lb.g_x[tid];
            lb.e[rank] = exp(static_cast<double>(lb.g_x[tid]) - static_cast<double>(m));
            lb.kept[rank] = 1;
          }
          __syncthreads();
          if (tid < n) {  // (desc x, asc id) order
            const int32_t my = lb.id[tid];
            const float mx = lb.x[tid];
            int32_t rank = 0;
            for (int32_t j = 0; j < n; ++j) rank += better(lb.x[j], lb.id[j], mx, my) ? 1 : 0;
            lb.by_value[rank] = tid;
          }
          __syncthreads();
          if (tid == 0) {
            // The exact top_k cut (ties with the k-th value kept: a prefix of
            // by_value), then engine::sample's top_p (apply_top_p) and draw, in
            // its order.
            int32_t n_k = n;
            if (early) {
              const float kx = lb.x[lb.by_value[r.top_k - 1]];
              n_k = r.top_k;
              while (n_k < n && lb.x[lb.by_value[n_k]] >= kx) ++n_k;
              for (int32_t t = n_k; t < n; ++t) lb.kept[lb.by_value[t]] = 0;
            }
            if (r.top_p < 1.0f) {
              double z = 0.0;
              for (int32_t j = 0; j < n; ++j) z += lb.kept[j] != 0 ? lb.e[j] : 0.0;
              double before = 0.0;
              for (int32_t t = 0; t < n_k; ++t) {
                if (t > 0 && before / z >= r.top_p) {
                  for (int32_t t2 = t; t2 < n_k; ++t2) lb.kept[lb.by_value[t2]] = 0;
                  break;
                }
                before += lb.e[lb.by_value[t]];
              }
            }
            double z2 = 0.0;
            int32_t n_kept = 0;
            for (int32_t j = 0; j < n; ++j) {
              if (lb.kept[j] != 0) {
                z2 += lb.e[j];
                chosen = lb.id[j];  // the last kept id, unless the draw picks one
                ++n_kept;
              }
            }
            if (n_kept > 1) {
              double cum = 0.0;
              for (int32_t j = 0; j < n; ++j) {
                if (lb.kept[j] == 0) continue;
                cum += lb.e[j] / z2;
                if (r.u < cum) {
                  chosen = lb.id[j];
                  break;
                }
              }
            }
          }
        }
        token = cluster_min_int(chosen, c, s);
      }
    }

    bool use_p = false;
    uint32_t pkey = 0;      // key of the boundary value
    int64_t keep_ties = 0;  // ids with key == pkey kept, lowest first
    double z_kept = 0.0;
    double e_tie = 0.0;  // mass of one boundary tie
    if (!listed && r.top_p < 1.0f) {
      // Radix descent over mass: the boundary is the value of the first item
      // (in desc order) at which the cumulative mass reaches top_p * z.
      const int warp = tid / 32;
      uint32_t prefix = 0, prefix_mask = 0;
      double above = 0.0, z = 0.0;
      uint32_t tie_count = 0;
      for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = tid; i < kWarps * kBins; i += kThreads) (&s.h.mass[0][0])[i] = 0.0;
        for (int i = tid; i < kBins; i += kThreads) s.loc_cnt[i] = 0;
        __syncthreads();
        for_slice(L, c.lo, c.hi, [&](int, float v) {
          float x;
          uint32_t key;
          if (candidate(v, x, key) && (key & prefix_mask) == prefix) {
            const uint32_t b = (key >> shift) & 255u;
            atomicAdd(&s.h.mass[warp][b], mass(x));
            if (shift == 0) atomicAdd(&s.loc_cnt[b], 1u);
          }
        });
        __syncthreads();
        merge_mass(c, s, shift == 0);
        choose_mass_bin(above, z, shift == 24, shift == 0, r.top_p, s);
        __syncthreads();
        prefix |= s.sel_key << shift;
        prefix_mask |= 255u << shift;
        above = s.sel_above;
        z = s.red_d2[1];
        if (shift == 0) tie_count = static_cast<uint32_t>(s.red_i2[1]);
        __syncthreads();
      }
      use_p = true;
      pkey = prefix;
      const double e = mass(key_value(pkey));
      e_tie = e;
      // Tie j (0-based, ascending id) stays while (above + j * e) / z < top_p;
      // the first tie always stays (it is the first item, or above / z < top_p).
      int64_t n = 1;
      if (e > 0.0) {
        const double guess = ((static_cast<double>(r.top_p) * z) - above) / e;
        n = guess > 1.0 ? static_cast<int64_t>(ceil(guess)) : 1;
        if (n > static_cast<int64_t>(tie_count)) n = tie_count;
        while (n > 1 && (above + static_cast<double>(n - 1) * e) / z >= r.top_p) --n;
        while (n < static_cast<int64_t>(tie_count) && (above + static_cast<double>(n) * e) / z < r.top_p) ++n;
      } else {
        n = tie_count;
      }
      keep_ties = n < 1 ? 1 : n;
      z_kept = above + static_cast<double>(keep_ties) * e;
    }

    if (listed) {
      // token chosen above
    } else if (c.size == 1) {
      if (!use_p) {
        double zl = 0.0;
        for_slice(L, c.lo, c.hi, [&](int, float v) {
          float x;
          uint32_t key;
          if (candidate(v, x, key)) zl += mass(x);
        });
        z_kept = block_sum(zl, s);
      }
      // The draw: first kept id (ascending) whose cumulative mass exceeds u * z.
      int32_t last_kept = -1;
      const int32_t found =
          draw_scan(L, c.lo, c.hi, 0.0, 0, r.u * z_kept, use_p, pkey, keep_ties, candidate, mass, last_kept, s);
      if (found != INT_MAX) {
        token = found;
      } else {
        // u * z beyond the summed mass (rounding): the last kept id, as the host.
        const int32_t lk = -block_min_int(-last_kept, s);
        token = lk >= 0 ? lk : best;
      }
    } else {
      // Each slice's kept mass (boundary ties apart) and tie count; then the
      // slice holding u * z scans its ids.
      double ml = 0.0;
      int32_t tl = 0;
      for_slice(L, c.lo, c.hi, [&](int, float v) {
        float x;
        uint32_t key;
        if (!candidate(v, x, key) || (use_p && key < pkey)) return;
        if (use_p && key == pkey) {
          ++tl;
        } else {
          ml += mass(x);
        }
      });
      double m_excl, m_total;
      int32_t c_excl, c_total;
      block_scan(ml, tl, m_excl, c_excl, m_total, c_total, s);
      double slice_mass[kMaxCluster];
      int32_t tie_before[kMaxCluster];
      double total = 0.0;
      int32_t ties_seen = 0;
      exchange(c, s, Part{m_total, 0.0f, c_total}, [&](int q, const Part& x) {
        int64_t kept = keep_ties - ties_seen;
        kept = kept < 0 ? 0 : (kept > x.i0 ? x.i0 : kept);
        slice_mass[q] = x.d + static_cast<double>(kept) * e_tie;
        tie_before[q] = ties_seen;
        ties_seen += x.i0;
        total += slice_mass[q];
      });
      const double target = r.u * total;
      int chosen = -1, last_nonzero = 0;
      double before = 0.0, before_chosen = 0.0, before_last = 0.0;
      for (int q = 0; q < c.size; ++q) {
        if (slice_mass[q] > 0.0) {
          if (chosen < 0 && before + slice_mass[q] > target) {
            chosen = q;
            before_chosen = before;
          }
          last_nonzero = q;
          before_last = before;
        }
        before += slice_mass[q];
      }
      if (chosen < 0) {  // rounding: u * z beyond the summed mass; the last kept id
        chosen = last_nonzero;
        before_chosen = before_last;
      }
      int32_t mine_token = INT_MAX;
      if (c.rank == chosen) {
        int32_t last_kept = -1;
        const int32_t found = draw_scan(L, c.lo, c.hi, before_chosen, tie_before[chosen], target, use_p, pkey,
                                        keep_ties, candidate, mass, last_kept, s);
        mine_token = found != INT_MAX ? found : -block_min_int(-last_kept, s);
        if (mine_token < 0) mine_token = best;
      }
      token = cluster_min_int(mine_token, c, s);
    }
  }

  // ---- 5. result (by the CTA whose slice holds the token) ----------------------
  if (mine(token)) {
    if (r.logprobs >= 0) {
      if (tid == 0) s.raw_token_value = L[token];
      __syncthreads();
      if (has_mods) {
        // The row holds modified values at listed ids: take the saved raw one.
        for (int32_t j = list_begin + tid; j < list_end; j += kThreads) {
          if (p.tokens[j] == token) s.raw_token_value = p.saved[j];  // all equal: raw value of `token`
        }
      }
      __syncthreads();
    }
    if (tid == 0) {
      res.token = token;
      if (r.logprobs >= 0) {
        const float x = s.raw_token_value;
        res.logprob = x != x ? kNegInf : static_cast<float>(static_cast<double>(x) - lse);
      } else {
        res.logprob = 0.0f;
      }
    }
  }
  if (c.size > 1) cl_sync(c);  // no CTA leaves while another may still read its shared memory
}

Status bad(const std::string& what) { return Status(ErrorKind::kInternal, "sample kernel: " + what); }

// Launch configuration of `ctas` sample_kernel CTAs in clusters of `cluster`
// along x, for cudaOccupancyMaxActiveClusters and cudaLaunchKernelEx alike.
// cfg.attrs points into the object, so it is neither copied nor moved.
struct ClusterLaunch {
  cudaLaunchAttribute attr{};
  cudaLaunchConfig_t cfg{};
  ClusterLaunch(int ctas, int cluster, cudaStream_t stream) {
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = static_cast<unsigned>(cluster);
    attr.val.clusterDim.y = 1;
    attr.val.clusterDim.z = 1;
    cfg.gridDim = dim3(static_cast<unsigned>(ctas));
    cfg.blockDim = dim3(kThreads);
    cfg.stream = stream;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
  }
  ClusterLaunch(const ClusterLaunch&) = delete;
  ClusterLaunch& operator=(const ClusterLaunch&) = delete;
};

// What this device allows: how many clusters of each size (1, 2, 4, 8, 16
// CTAs; 0 = not launchable) can be resident at once. Queried once per device.
struct DeviceLimits {
  int active[kMaxCluster + 1] = {};
};

Status device_limits(DeviceLimits& out) {
  static std::mutex mu;
  static DeviceLimits cache[64];
  static bool known[64] = {};
  int dev = 0;
  TANDEM_CUDA_TRY(cudaGetDevice(&dev));
  if (dev < 0 || dev >= 64) return bad("device ordinal out of range");
  std::lock_guard<std::mutex> lock(mu);
  if (!known[dev]) {
    DeviceLimits d;
    int sms = 0, per_sm = 0, cluster_ok = 0;
    TANDEM_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    TANDEM_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, sample_kernel, kThreads, 0));
    d.active[1] = sms * per_sm;
    TANDEM_CUDA_TRY(cudaDeviceGetAttribute(&cluster_ok, cudaDevAttrClusterLaunch, dev));
    if (cluster_ok != 0) {
      if (cudaFuncSetAttribute(sample_kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) != cudaSuccess) {
        (void)cudaGetLastError();
      }
      for (int size = 2; size <= kMaxCluster; size *= 2) {
        const ClusterLaunch one(size, size, nullptr);
        int n = 0;
        if (cudaOccupancyMaxActiveClusters(&n, sample_kernel, &one.cfg) == cudaSuccess) {
          d.active[size] = n;
        } else {
          (void)cudaGetLastError();
        }
      }
    }
    cache[dev] = d;
    known[dev] = true;
  }
  out = cache[dev];
  return {};
}

// Automatic: the largest cluster whose n_rows clusters are all resident at
// once (one wave) with >= kMinSlice ids per CTA; else one CTA per row.
int pick_cluster(const SampleKernelParams& p, const DeviceLimits& d) {
  if (p.cluster > 0) return p.cluster;
  for (int size = kMaxCluster; size > 1; size /= 2) {
    if (d.active[size] >= p.n_rows && p.vocab >= size * kMinSlice) return size;
  }
  return 1;
}

}  // namespace

Status SampleKernelParams::check() const {
  if (n_rows < 0 || vocab < 1 || n_tokens < 0) return bad("n_rows >= 0, vocab >= 1 and n_tokens >= 0 required");
  if (cluster != 0 && cluster != 1 && cluster != 2 && cluster != 4 && cluster != 8 && cluster != 16) {
    return bad("cluster must be 0 (automatic), 1, 2, 4, 8 or 16, got " + std::to_string(cluster));
  }
  if (n_rows == 0) return {};
  if (logits == nullptr || rows == nullptr || counts == nullptr || results == nullptr) {
    return bad("logits, rows, counts and results must be set");
  }
  if (n_tokens > 0 && (tokens == nullptr || bias_values == nullptr || saved == nullptr)) {
    return bad("tokens, bias_values and saved must be set when lists are present");
  }
  return {};
}

Result<int> sample_cluster_size(const SampleKernelParams& p) {
  if (p.n_rows < 0 || p.vocab < 1) return bad("n_rows >= 0 and vocab >= 1 required");
  if (p.cluster != 0 && p.cluster != 1 && p.cluster != 2 && p.cluster != 4 && p.cluster != 8 && p.cluster != 16) {
    return bad("cluster must be 0 (automatic), 1, 2, 4, 8 or 16, got " + std::to_string(p.cluster));
  }
  DeviceLimits d;
  TANDEM_RETURN_IF_ERROR(device_limits(d));
  const int size = pick_cluster(p, d);
  if (size > 1 && d.active[size] < 1) {
    return Status(ErrorKind::kInvalidRequest,
                  "sample kernel: a cluster of " + std::to_string(size) + " CTAs cannot be launched on this device");
  }
  return size;
}

Status launch(const SampleKernelParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  if (p.n_rows == 0) return {};
  auto size = sample_cluster_size(p);
  if (!size.ok()) return size.status();
  const int cluster = *size;
  if (cluster == 1) {
    sample_kernel<<<p.n_rows, kThreads, 0, stream>>>(p, 1);
    return last_launch_status("sample_kernel");
  }
  const ClusterLaunch clustered(p.n_rows * cluster, cluster, stream);
  const cudaError_t e = cudaLaunchKernelEx(&clustered.cfg, sample_kernel, p, cluster);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return cuda_error(e, "sample_kernel (cluster launch)");
  }
  return last_launch_status("sample_kernel");
}

}  // namespace tandem::engine::cuda
