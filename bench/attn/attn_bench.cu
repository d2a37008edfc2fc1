// Prefill attention alone (engine/cuda/paged_attention.h): checks every
// multi-row tiling against a plain float32 reference kernel on random data
// (GQA 4:1, 2:1, 3:1; head_dim 128 and 64; chunked prefill over cached blocks,
// mixed with decode-sized sequences; split-KV; a non-power-of-two block size)
// and times 2K/8K causal prefill of one layer at the Llama-3.1-8B and
// Qwen3-0.6B shapes. Build and run: bench/attn/README.md.
//
//   attn_bench [--tilings 0,1,2,3] [--reps 20] [--checks 0|1] [--sm90 0|1] [--tma 0|1]
// --sm90 0 keeps the head_dim-128 cases on mma.sync instead of the wgmma kernel
// (prefill_attention_sm90.h), --tma 0 gives the wgmma kernel its cp.async producer
// (PagedAttentionParams::allow_sm90, allow_sm90_tma).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/cuda/paged_attention.h"

using tandem::engine::cuda::AttnSeq;
using tandem::engine::cuda::AttnTile;
using tandem::engine::cuda::PagedAttentionParams;
using tandem::engine::cuda::PrefillTiling;

namespace {

void die(const std::string& m) {
  std::fprintf(stderr, "attn_bench: %s\n", m.c_str());
  std::exit(1);
}
void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) die(std::string(what) + ": " + cudaGetErrorString(e));
}

// Reference: one CTA per (token, head); scores in shared memory, float32 throughout.
__global__ void reference_kernel(PagedAttentionParams p, const int* token_seq, float* out) {
  extern __shared__ float sc[];  // [context]
  const int token = blockIdx.x, head = blockIdx.y;
  const AttnSeq seq = p.seqs[token_seq[token]];
  const int qpos = seq.start_pos + (token - seq.q_start);
  const int kvh = head / (p.n_heads / p.n_kv_heads);
  const int hd = p.head_dim;
  const int64_t kv_row = static_cast<int64_t>(p.n_kv_heads) * hd;
  const __nv_bfloat16* q = p.q + (static_cast<int64_t>(token) * p.n_heads + head) * hd;
  auto key_ptr = [&](int pos, int which) {
    const int64_t block = p.block_tables[seq.table_offset + pos / p.block_tokens];
    return p.kv_pool + block * p.block_elems + (static_cast<int64_t>(p.layer) * 2 + which) * p.block_tokens * kv_row +
           (pos % p.block_tokens) * kv_row + kvh * hd;
  };
  for (int k = threadIdx.x; k <= qpos; k += blockDim.x) {
    const __nv_bfloat16* kp = key_ptr(k, 0);
    float acc = 0;
    for (int d = 0; d < hd; ++d) acc += __bfloat162float(q[d]) * __bfloat162float(kp[d]);
    sc[k] = acc * p.scale;
  }
  __syncthreads();
  __shared__ float red[2];
  if (threadIdx.x == 0) {
    float m = -INFINITY;
    for (int k = 0; k <= qpos; ++k) m = fmaxf(m, sc[k]);
    float l = 0;
    for (int k = 0; k <= qpos; ++k) l += expf(sc[k] - m);
    red[0] = m;
    red[1] = l;
  }
  __syncthreads();
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float acc = 0;
    for (int k = 0; k <= qpos; ++k) acc += expf(sc[k] - red[0]) * __bfloat162float(key_ptr(k, 1)[d]);
    out[(static_cast<int64_t>(token) * p.n_heads + head) * hd + d] = acc / red[1];
  }
}

struct Case {
  const char* name;
  int n_heads, n_kv_heads, head_dim, block_tokens;
  std::vector<std::pair<int, int>> seqs;  // (start_pos, n_q)
  int n_splits;
  int layers = 2, layer = 1;
};

int tile_rows_of(int t) { return t == 0 ? 64 : t == 3 ? 256 : 128; }

bool g_allow_sm90 = true;      // --sm90
bool g_allow_sm90_tma = true;  // --tma

struct Built {
  PagedAttentionParams p;
  std::vector<void*> bufs;
  std::vector<int> token_seq;
  int ctx_max = 0;
  ~Built() {
    for (void* b : bufs) cudaFree(b);
  }
};

template <typename T>
T* upload(Built& b, const std::vector<T>& v) {
  void* d = nullptr;
  ck(cudaMalloc(&d, std::max<size_t>(1, v.size() * sizeof(T))), "cudaMalloc");
  ck(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  b.bufs.push_back(d);
  return static_cast<T*>(d);
}

// Random q and pool (every block filled: cached positions and new ones alike),
// shuffled block ids, tiles like StepPlan's (per sequence, last rows first).
void build(Built& b, const Case& c, int tiling, std::mt19937& rng) {
  PagedAttentionParams& p = b.p;
  const int group = c.n_heads / c.n_kv_heads;
  int n_tokens = 0, n_blocks = 0;
  for (auto [start, nq] : c.seqs) {
    n_tokens += nq;
    n_blocks += (start + nq + c.block_tokens - 1) / c.block_tokens;
    b.ctx_max = std::max(b.ctx_max, start + nq);
  }
  std::vector<int> ids(n_blocks + 3);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  const int64_t block_elems = static_cast<int64_t>(c.layers) * 2 * c.block_tokens * c.n_kv_heads * c.head_dim;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<__nv_bfloat16> pool(block_elems * (n_blocks + 3)),
      q(static_cast<size_t>(n_tokens) * c.n_heads * c.head_dim);
  for (auto& v : pool) v = __float2bfloat16(nd(rng));
  for (auto& v : q) v = __float2bfloat16(2.0f * nd(rng));  // peaked softmax rows too
  std::vector<AttnSeq> seqs;
  std::vector<AttnTile> tiles;
  std::vector<int32_t> tables;
  const int rows_per_tile = tile_rows_of(tiling);
  int t = 0, at = 0;
  for (size_t i = 0; i < c.seqs.size(); ++i) {
    auto [start, nq] = c.seqs[i];
    const int needed = (start + nq + c.block_tokens - 1) / c.block_tokens;
    seqs.push_back({t, nq, start, static_cast<int32_t>(tables.size())});
    for (int k = 0; k < needed; ++k) tables.push_back(ids[at++]);
    for (int j = 0; j < nq; ++j) b.token_seq.push_back(static_cast<int>(i));
    t += nq;
    const int n_rt = (nq * group + rows_per_tile - 1) / rows_per_tile;
    for (int rt = n_rt - 1; rt >= 0; --rt) {
      for (int h = 0; h < c.n_kv_heads; ++h) tiles.push_back({static_cast<int32_t>(i), h, rt * rows_per_tile, 0});
    }
  }
  // Pool bytes no sequence owns are NaN (the slots past each context in its
  // last block, in every layer, and the spare blocks): a kernel that reads
  // them into its products poisons its output and fails the check.
  const int64_t slot_elems = static_cast<int64_t>(c.n_kv_heads) * c.head_dim;
  for (size_t i = 0; i < c.seqs.size(); ++i) {
    auto [start, nq] = c.seqs[i];
    const int ctx = start + nq, used = ctx % c.block_tokens;
    if (used == 0) continue;
    const int64_t blk = tables[seqs[i].table_offset + ctx / c.block_tokens];
    for (int lkv = 0; lkv < 2 * c.layers; ++lkv) {
      for (int slot = used; slot < c.block_tokens; ++slot) {
        const int64_t at0 = blk * block_elems + (static_cast<int64_t>(lkv) * c.block_tokens + slot) * slot_elems;
        std::fill(pool.begin() + at0, pool.begin() + at0 + slot_elems, __float2bfloat16(NAN));
      }
    }
  }
  for (int k = n_blocks; k < n_blocks + 3; ++k) {
    std::fill(pool.begin() + ids[k] * block_elems, pool.begin() + (ids[k] + 1) * block_elems, __float2bfloat16(NAN));
  }
  p.q = upload(b, q);
  p.kv_pool = upload(b, pool);
  p.block_tables = upload(b, tables);
  p.seqs = upload(b, seqs);
  p.tiles = upload(b, tiles);
  p.out = upload(b, std::vector<__nv_bfloat16>(q.size(), __float2bfloat16(NAN)));  // poisoned
  p.block_elems = block_elems;
  p.n_tiles = static_cast<int>(tiles.size());
  p.n_splits = c.n_splits;
  p.key_split = false;
  p.prefill_tiling = static_cast<PrefillTiling>(tiling);
  p.n_tokens = n_tokens;
  p.n_heads = c.n_heads;
  p.n_kv_heads = c.n_kv_heads;
  p.head_dim = c.head_dim;
  p.block_tokens = c.block_tokens;
  p.block_shift = (c.block_tokens & (c.block_tokens - 1)) == 0 ? __builtin_ctz(c.block_tokens) : -1;
  p.layer = c.layer;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  p.allow_sm90 = g_allow_sm90;
  p.allow_sm90_tma = g_allow_sm90_tma;
  if (c.n_splits > 1) {
    const size_t ws = p.workspace_bytes();
    void* d = nullptr;
    ck(cudaMalloc(&d, ws), "ws");
    b.bufs.push_back(d);
    p.partial_o = static_cast<float*>(d);
    p.partial_ml = p.partial_o + static_cast<size_t>(c.n_splits) * n_tokens * c.n_heads * c.head_dim;
  }
}

double check_case(const Case& c, int tiling, std::mt19937& rng) {
  Built b;
  build(b, c, tiling, rng);
  const PagedAttentionParams& p = b.p;
  const auto st = launch(p, nullptr);
  if (!st.ok()) die(std::string(c.name) + ": " + st.message());
  const size_t n = static_cast<size_t>(p.n_tokens) * p.n_heads * p.head_dim;
  float* ref = nullptr;
  ck(cudaMalloc(&ref, n * 4), "ref");
  int* ts = upload(b, b.token_seq);
  reference_kernel<<<dim3(p.n_tokens, p.n_heads), 128, b.ctx_max * 4>>>(p, ts, ref);
  ck(cudaGetLastError(), "reference launch");
  ck(cudaDeviceSynchronize(), "sync");
  std::vector<float> r(n);
  std::vector<__nv_bfloat16> o(n);
  ck(cudaMemcpy(r.data(), ref, n * 4, cudaMemcpyDeviceToHost), "d2h");
  ck(cudaMemcpy(o.data(), p.out, n * 2, cudaMemcpyDeviceToHost), "d2h");
  cudaFree(ref);
  // Relative L2 error of each (token, head) row; the worst row.
  double worst = 0;
  for (size_t row = 0; row < n / p.head_dim; ++row) {
    double num = 0, den = 0;
    for (int d = 0; d < p.head_dim; ++d) {
      const double x = __bfloat162float(o[row * p.head_dim + d]), y = r[row * p.head_dim + d];
      if (!std::isfinite(x)) return INFINITY;
      num += (x - y) * (x - y);
      den += y * y;
    }
    worst = std::max(worst, std::sqrt(num / std::max(den, 1e-30)));
  }
  return worst;
}

double time_case(const Case& c, int tiling, int reps, std::mt19937& rng) {
  Built b;
  build(b, c, tiling, rng);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms;
  for (int i = 0; i < reps + 3; ++i) {
    cudaEventRecord(e0);
    const auto st = launch(b.p, nullptr);
    if (!st.ok()) die(st.message());
    cudaEventRecord(e1);
    ck(cudaEventSynchronize(e1), "time");
    float t = 0;
    cudaEventElapsedTime(&t, e0, e1);
    if (i >= 3) ms.push_back(t);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> tilings = {0, 1, 2, 3};
  int reps = 20;
  bool run_checks = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--tilings") {
      tilings.clear();
      for (char ch : std::string(argv[i + 1])) {
        if (ch >= '0' && ch <= '9') tilings.push_back(ch - '0');
      }
    } else if (a == "--checks") {
      run_checks = std::string(argv[i + 1]) != "0";
    } else if (a == "--reps") {
      reps = std::atoi(argv[i + 1]);
    } else if (a == "--sm90") {
      g_allow_sm90 = std::string(argv[i + 1]) != "0";
    } else if (a == "--tma") {
      g_allow_sm90_tma = std::string(argv[i + 1]) != "0";
    } else {
      die("unknown flag " + a);
    }
  }
  std::mt19937 rng(1234);
  const std::vector<Case> checks = {
      {"llama8b_gqa4_prefill1000", 32, 8, 128, 16, {{0, 1000}}, 1},
      {"qwen3_gqa2_chunked_mixed", 16, 8, 128, 16, {{700, 333}, {500, 1}, {0, 70}, {37, 2}}, 1},
      {"qwen3_gqa2_chunked_split3", 16, 8, 128, 16, {{900, 250}, {0, 129}}, 3},
      {"smollm_gqa3_hd64", 9, 3, 64, 16, {{31, 257}, {0, 5}}, 1},
      {"smollm_hd64_block12_split2", 9, 3, 64, 12, {{100, 190}}, 2},
      {"llama8b_block32_chunk", 32, 8, 128, 32, {{1024, 512}}, 1},
      {"mha_gqa1_chunked_multi", 8, 8, 128, 16, {{300, 200}, {0, 64}, {129, 1}}, 1},
      {"gqa8_block12_multi", 32, 4, 128, 12, {{129, 77}, {0, 300}, {1000, 3}}, 1},
      {"llama8b_split4_chunk", 32, 8, 128, 16, {{2000, 100}, {0, 33}}, 4},
      {"qwen3_gqa2_prefill4100", 16, 8, 128, 16, {{0, 4100}}, 1},
  };
  bool ok = true;
  for (const Case& c : checks) {
    if (!run_checks) break;
    for (int t : tilings) {
      const double err = check_case(c, t, rng);
      const bool pass = err < 1e-2;
      ok = ok && pass;
      std::printf("check %-28s tiling %d  max_row_rel_l2 %.2e  %s\n", c.name, t, err, pass ? "ok" : "FAIL");
    }
  }
  struct Perf {
    const char* name;
    int heads, kv, n;
  };
  for (const Perf& f : {Perf{"llama8b", 32, 8, 8192}, Perf{"llama8b", 32, 8, 2048}, Perf{"qwen3-0.6b", 16, 8, 8192}}) {
    const Case c{f.name, f.heads, f.kv, 128, 16, {{0, f.n}}, 1, 1, 0};
    const double flop = 2.0 * f.n * static_cast<double>(f.n) * f.heads * 128;  // causal QK^T + PV, one layer
    for (int t : tilings) {
      const double ms = time_case(c, t, reps, rng);
      std::printf("time  %-10s n=%-5d tiling %d  %.3f ms/layer  %.1f TFLOP/s\n", f.name, f.n, t, ms,
                  flop / (ms * 1e-3) / 1e12);
    }
  }
  std::printf("%s\n", ok ? "ALL CHECKS PASSED" : "SOME CHECKS FAILED");
  return ok ? 0 : 1;
}
