#include "engine/cpu/cpu_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "common/check.h"
#include "engine/cpu/layer_ops.h"

namespace tandem::engine::cpu {
namespace {

// A 1-D tensor of n values as float32 (releases the tensor's data).
Result<std::vector<float>> vector_f32(Tensor& t, int64_t n, const std::string& name) {
  Status s = check_tensor_shape(t, {n}, name);
  if (!s.ok()) return s;
  std::vector<float> v(static_cast<size_t>(n));
  convert_to_f32(t.data.data(), t.dtype, v.data(), n);
  t.data.clear();
  t.data.shrink_to_fit();
  return v;
}

Status check_spec(const ModelSpec& s) {
  auto bad = [](const std::string& what) { return Status(ErrorKind::kInvalidRequest, "model spec: " + what); };
  if (s.n_layers < 1) return bad("n_layers must be >= 1");
  if (s.hidden < 1) return bad("hidden must be >= 1");
  if (s.n_heads < 1 || s.n_kv_heads < 1) return bad("n_heads and n_kv_heads must be >= 1");
  if (s.n_heads % s.n_kv_heads != 0) return bad("n_heads must be a multiple of n_kv_heads");
  if (s.head_dim < 2 || s.head_dim % 2 != 0) return bad("head_dim must be even and >= 2");
  if (s.intermediate < 1) return bad("intermediate must be >= 1");
  if (s.vocab < 1) return bad("vocab must be >= 1");
  if (s.max_position < 0) return bad("max_position must be >= 0");
  if (!(s.rms_eps >= 0.0f)) return bad("rms_eps must be >= 0");
  if (!(s.rope.theta > 0.0f)) return bad("rope theta must be > 0");
  if (s.rope.scaling != RopeScalingType::kNone && !(s.rope.factor > 0.0f)) {
    return bad("rope scaling factor must be > 0");
  }
  if (s.rope.scaling == RopeScalingType::kLlama3 &&
      (!(s.rope.high_freq_factor > s.rope.low_freq_factor) || !(s.rope.low_freq_factor > 0.0f) ||
       s.rope.original_max_position < 1)) {
    return bad("llama3 rope scaling needs high_freq_factor > low_freq_factor > 0 and original_max_position >= 1");
  }
  return {};
}

// Rows per matmul task: a multiple of 24 (whole register tiles), about 8
// tasks per thread for load balance.
int rows_per_task(int rows, int threads) {
  const int target = (rows + threads * 8 - 1) / (threads * 8);
  return std::max(24, (target + 23) / 24 * 24);
}

}  // namespace

CpuRunner::CpuRunner(const ModelSpec& spec, const CpuRunnerOptions& options)
    : spec_(spec),
      block_tokens_(options.block_tokens),
      num_blocks_(options.num_blocks),
      pool_(options.threads > 0 ? options.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
      kernels_(select_kernels(options.tuning.kernels)) {}

Result<std::unique_ptr<Runner>> make_cpu_runner(const ModelSpec& spec, ModelWeights weights,
                                                const CpuRunnerOptions& options) {
  if (Status s = check_spec(spec); !s.ok()) return s;
  if (options.block_tokens < 1) {
    return Status(ErrorKind::kInvalidRequest, "cpu runner: block_tokens must be >= 1", "block_tokens");
  }
  if (options.num_blocks < 1) {
    return Status(ErrorKind::kInvalidRequest, "cpu runner: num_blocks must be >= 1", "num_blocks");
  }
  if (options.threads < 0 || options.threads > 1024) {
    return Status(ErrorKind::kInvalidRequest, "cpu runner: threads must be in [0, 1024]", "threads");
  }
  if (weights.layers.size() != static_cast<size_t>(spec.n_layers)) {
    return Status(ErrorKind::kMalformedFile, "weights have " + std::to_string(weights.layers.size()) +
                                                 " layers, spec says " + std::to_string(spec.n_layers));
  }
  const int64_t hidden = spec.hidden;
  const int64_t hd = spec.head_dim;
  const int64_t q_dim = spec.n_heads * hd;
  const int64_t kv_dim = spec.n_kv_heads * hd;
  const int64_t inter = spec.intermediate;
  const DType storage = options.weight_storage;

  // The KV pool first: the largest allocation, and the one most likely to fail.
  const size_t block_floats =
      static_cast<size_t>(spec.n_layers) * 2 * options.block_tokens * spec.n_kv_heads * spec.head_dim;
  const double pool_bytes = static_cast<double>(block_floats) * 4.0 * options.num_blocks;
  std::unique_ptr<CpuRunner> r(new CpuRunner(spec, options));
  r->block_floats_ = block_floats;
  try {
    if (pool_bytes > 1e15) throw std::bad_alloc();
    r->kv_.assign(block_floats * static_cast<size_t>(options.num_blocks), 0.0f);
  } catch (const std::bad_alloc&) {
    return Status(ErrorKind::kDevice,
                  "cpu runner: cannot allocate a KV pool of " + std::to_string(pool_bytes / (1 << 20)) + " MiB");
  }

  if (Status s = check_tensor_shape(weights.embed, {spec.vocab, hidden}, "embed"); !s.ok()) return s;
  const bool tied = spec.tied_embeddings || weights.lm_head.empty();
  if (!tied) {
    if (Status s = check_tensor_shape(weights.lm_head, {spec.vocab, hidden}, "lm_head"); !s.ok()) return s;
  }
  for (int l = 0; l < spec.n_layers; ++l) {
    LayerWeights& w = weights.layers[l];
    const std::string p = "layers." + std::to_string(l) + ".";
    CpuRunner::Layer layer;
    for (auto [t, shape, name] : {std::tuple{&w.wq, std::vector<int64_t>{q_dim, hidden}, "wq"},
                                  std::tuple{&w.wk, std::vector<int64_t>{kv_dim, hidden}, "wk"},
                                  std::tuple{&w.wv, std::vector<int64_t>{kv_dim, hidden}, "wv"},
                                  std::tuple{&w.wo, std::vector<int64_t>{hidden, q_dim}, "wo"},
                                  std::tuple{&w.w_gate, std::vector<int64_t>{inter, hidden}, "w_gate"},
                                  std::tuple{&w.w_up, std::vector<int64_t>{inter, hidden}, "w_up"},
                                  std::tuple{&w.w_down, std::vector<int64_t>{hidden, inter}, "w_down"}}) {
      if (Status s = check_tensor_shape(*t, shape, p + name); !s.ok()) return s;
    }
    auto attn_norm = vector_f32(w.attn_norm, hidden, p + "attn_norm");
    if (!attn_norm.ok()) return attn_norm.status();
    layer.attn_norm = std::move(attn_norm.value());
    auto ffn_norm = vector_f32(w.ffn_norm, hidden, p + "ffn_norm");
    if (!ffn_norm.ok()) return ffn_norm.status();
    layer.ffn_norm = std::move(ffn_norm.value());
    if (spec.qkv_bias) {
      layer.bqkv.reserve(static_cast<size_t>(q_dim + 2 * kv_dim));
      for (auto [t, n, name] :
           {std::tuple{&w.bq, q_dim, "bq"}, std::tuple{&w.bk, kv_dim, "bk"}, std::tuple{&w.bv, kv_dim, "bv"}}) {
        auto b = vector_f32(*t, n, p + name);
        if (!b.ok()) return b.status();
        layer.bqkv.insert(layer.bqkv.end(), b->begin(), b->end());
      }
    }
    if (spec.qk_norm) {
      auto qn = vector_f32(w.q_norm, hd, p + "q_norm");
      if (!qn.ok()) return qn.status();
      auto kn = vector_f32(w.k_norm, hd, p + "k_norm");
      if (!kn.ok()) return kn.status();
      layer.q_norm = std::move(qn.value());
      layer.k_norm = std::move(kn.value());
    }
    Tensor* qkv_parts[] = {&w.wq, &w.wk, &w.wv};
    auto wqkv = WeightMatrix::stack(qkv_parts, storage, p + "wqkv");
    if (!wqkv.ok()) return wqkv.status();
    layer.wqkv = std::move(wqkv.value());
    Tensor* wo_parts[] = {&w.wo};
    auto wo = WeightMatrix::stack(wo_parts, storage, p + "wo");
    if (!wo.ok()) return wo.status();
    layer.wo = std::move(wo.value());
    Tensor* gu_parts[] = {&w.w_gate, &w.w_up};
    auto gu = WeightMatrix::stack(gu_parts, storage, p + "w_gate_up");
    if (!gu.ok()) return gu.status();
    layer.w_gate_up = std::move(gu.value());
    Tensor* down_parts[] = {&w.w_down};
    auto down = WeightMatrix::stack(down_parts, storage, p + "w_down");
    if (!down.ok()) return down.status();
    layer.w_down = std::move(down.value());
    r->layers_.push_back(std::move(layer));
  }
  auto final_norm = vector_f32(weights.final_norm, hidden, "final_norm");
  if (!final_norm.ok()) return final_norm.status();
  r->final_norm_ = std::move(final_norm.value());
  Tensor* embed_parts[] = {&weights.embed};
  auto embed = WeightMatrix::stack(embed_parts, storage, "embed");
  if (!embed.ok()) return embed.status();
  r->embed_ = std::move(embed.value());
  if (!tied) {
    Tensor* head_parts[] = {&weights.lm_head};
    auto head = WeightMatrix::stack(head_parts, storage, "lm_head");
    if (!head.ok()) return head.status();
    r->lm_head_ = std::move(head.value());
  }
  r->inv_freq_ = rope_inv_freq(spec.head_dim, spec.rope);
  r->scores_.resize(static_cast<size_t>(r->pool_.size()));
  return std::unique_ptr<Runner>(std::move(r));
}

float* CpuRunner::kv_row(int32_t block, int layer, int which, int slot) {
  const size_t per_kv = static_cast<size_t>(block_tokens_) * spec_.n_kv_heads * spec_.head_dim;
  return kv_.data() + static_cast<size_t>(block) * block_floats_ + (static_cast<size_t>(layer) * 2 + which) * per_kv +
         static_cast<size_t>(slot) * spec_.n_kv_heads * spec_.head_dim;
}

Status CpuRunner::validate(const StepBatch& batch) const {
  auto bad = [](size_t i, const std::string& what) {
    return Status(ErrorKind::kInvalidRequest, "step batch: seqs[" + std::to_string(i) + "]: " + what);
  };
  std::vector<int64_t> written;  // (block, slot) of every new token, as block * block_tokens + slot
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const SequenceStep& s = batch.seqs[i];
    if (s.tokens.empty()) return bad(i, "no tokens");
    if (s.start_pos < 0) return bad(i, "start_pos " + std::to_string(s.start_pos) + " is negative");
    const int64_t end = static_cast<int64_t>(s.start_pos) + static_cast<int64_t>(s.tokens.size());
    if (spec_.max_position > 0 && end > spec_.max_position) {
      return bad(i, "positions up to " + std::to_string(end - 1) + " exceed the model's maximum position " +
                        std::to_string(spec_.max_position - 1));
    }
    if (end > (int64_t{1} << 30)) return bad(i, "positions up to " + std::to_string(end - 1) + " are too large");
    const int64_t needed = (end + block_tokens_ - 1) / block_tokens_;
    if (static_cast<int64_t>(s.block_table.size()) < needed) {
      return bad(i, "block_table has " + std::to_string(s.block_table.size()) + " blocks, positions [0, " +
                        std::to_string(end) + ") need " + std::to_string(needed));
    }
    for (int64_t b = 0; b < needed; ++b) {
      const int32_t id = s.block_table[b];
      if (id < 0 || id >= num_blocks_) {
        return bad(i, "block_table[" + std::to_string(b) + "] = " + std::to_string(id) + " is out of range [0, " +
                          std::to_string(num_blocks_) + ")");
      }
    }
    for (size_t j = 0; j < s.tokens.size(); ++j) {
      if (s.tokens[j] < 0 || s.tokens[j] >= spec_.vocab) {
        return bad(
            i, "token " + std::to_string(s.tokens[j]) + " is out of range [0, " + std::to_string(spec_.vocab) + ")");
      }
      const int64_t pos = s.start_pos + static_cast<int64_t>(j);
      written.push_back(static_cast<int64_t>(s.block_table[pos / block_tokens_]) * block_tokens_ + pos % block_tokens_);
    }
  }
  std::sort(written.begin(), written.end());
  if (std::adjacent_find(written.begin(), written.end()) != written.end()) {
    return Status(ErrorKind::kInvalidRequest, "step batch: two new tokens write the same KV block slot");
  }
  return {};
}

void CpuRunner::plan(const StepBatch& batch) {
  tokens_.clear();
  logit_tokens_.clear();
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const SequenceStep& s = batch.seqs[i];
    for (size_t j = 0; j < s.tokens.size(); ++j) {
      tokens_.push_back({static_cast<int>(i), s.start_pos + static_cast<int32_t>(j), s.tokens[j]});
    }
    if (s.want_logits) logit_tokens_.push_back(static_cast<int>(tokens_.size()) - 1);
  }
  const size_t T = tokens_.size();
  const size_t half = static_cast<size_t>(spec_.head_dim) / 2;
  const size_t qkv_dim = static_cast<size_t>(spec_.n_heads + 2 * spec_.n_kv_heads) * spec_.head_dim;
  rope_cos_.resize(T * half);
  rope_sin_.resize(T * half);
  x_.resize(T * spec_.hidden);
  xn_.resize(T * spec_.hidden);
  qkv_.resize(T * qkv_dim);
  attn_.resize(T * spec_.n_heads * spec_.head_dim);
  gate_up_.resize(T * 2 * spec_.intermediate);
  act_.resize(T * spec_.intermediate);
  int max_ctx = 0;
  for (const TokenRef& t : tokens_) max_ctx = std::max(max_ctx, t.pos + 1);
  const size_t group = static_cast<size_t>(spec_.n_heads / spec_.n_kv_heads);
  for (auto& s : scores_) s.resize(group * max_ctx);
}

void CpuRunner::matmul(const WeightMatrix& w, const float* x, int n_tokens, float* y, bool accumulate) {
  const int rows = w.rows();
  const int chunk = rows_per_task(rows, pool_.size());
  const int n_tasks = (rows + chunk - 1) / chunk;
  MatmulArgs base;
  base.w = w.data();
  base.w_type = w.dtype();
  base.w_row_bytes = w.row_bytes();
  base.k = w.cols();
  base.x = x;
  base.x_stride = static_cast<size_t>(w.cols());
  base.y = y;
  base.y_stride = static_cast<size_t>(rows);
  base.n_tokens = n_tokens;
  base.accumulate = accumulate;
  pool_.parallel_for(n_tasks, [&](int task, int) {
    MatmulArgs a = base;
    a.row_begin = task * chunk;
    a.row_end = std::min(rows, a.row_begin + chunk);
    kernels_.matmul_rows(a);
  });
}

void CpuRunner::attention(const StepBatch& batch, int l) {
  const int T = static_cast<int>(tokens_.size());
  const int hd = spec_.head_dim;
  const int kvh = spec_.n_kv_heads;
  const int group = spec_.n_heads / kvh;
  const size_t qkv_dim = static_cast<size_t>(spec_.n_heads + 2 * kvh) * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  pool_.parallel_for(T * kvh, [&](int task, int thread) {
    const int t = task / kvh;
    const int g = task % kvh;
    const TokenRef& tok = tokens_[t];
    const std::span<const int32_t> table = batch.seqs[tok.seq].block_table;
    const int ctx = tok.pos + 1;
    float* scores = scores_[thread].data();  // [group, ctx]
    const float* q = qkv_.data() + t * qkv_dim + static_cast<size_t>(g) * group * hd;
    for (int p = 0; p < ctx; ++p) {
      const float* k = kv_row(table[p / block_tokens_], l, 0, p % block_tokens_) + static_cast<size_t>(g) * hd;
      for (int j = 0; j < group; ++j) scores[j * ctx + p] = kernels_.dot(q + j * hd, k, hd) * scale;
    }
    for (int j = 0; j < group; ++j) softmax_in_place(scores + j * ctx, ctx);
    float* out = attn_.data() + static_cast<size_t>(t) * spec_.n_heads * hd + static_cast<size_t>(g) * group * hd;
    std::fill(out, out + static_cast<size_t>(group) * hd, 0.0f);
    for (int p = 0; p < ctx; ++p) {
      const float* v = kv_row(table[p / block_tokens_], l, 1, p % block_tokens_) + static_cast<size_t>(g) * hd;
      for (int j = 0; j < group; ++j) kernels_.axpy(scores[j * ctx + p], v, out + j * hd, hd);
    }
  });
}

void CpuRunner::layer_forward(const StepBatch& batch, int l) {
  Layer& L = layers_[l];
  const int T = static_cast<int>(tokens_.size());
  const int hidden = spec_.hidden;
  const int hd = spec_.head_dim;
  const int half = hd / 2;
  const int nh = spec_.n_heads;
  const int kvh = spec_.n_kv_heads;
  const size_t qkv_dim = static_cast<size_t>(nh + 2 * kvh) * hd;
  const int inter = spec_.intermediate;
  const int token_chunk = std::max(1, T / (pool_.size() * 4));
  const int token_tasks = (T + token_chunk - 1) / token_chunk;

  // Attention block: xn = norm(x); qkv = Wqkv xn (+ b); q/k norm; RoPE; K/V to the cache.
  pool_.parallel_for(token_tasks, [&](int task, int) {
    for (int t = task * token_chunk; t < std::min(T, (task + 1) * token_chunk); ++t) {
      rms_norm(x_.data() + static_cast<size_t>(t) * hidden, L.attn_norm.data(), spec_.rms_eps, hidden,
               xn_.data() + static_cast<size_t>(t) * hidden);
    }
  });
  matmul(L.wqkv, xn_.data(), T, qkv_.data(), false);
  pool_.parallel_for(token_tasks, [&](int task, int) {
    for (int t = task * token_chunk; t < std::min(T, (task + 1) * token_chunk); ++t) {
      float* q = qkv_.data() + t * qkv_dim;
      float* k = q + static_cast<size_t>(nh) * hd;
      float* v = k + static_cast<size_t>(kvh) * hd;
      if (!L.bqkv.empty()) {
        for (size_t i = 0; i < qkv_dim; ++i) q[i] += L.bqkv[i];
      }
      const float* c = rope_cos_.data() + static_cast<size_t>(t) * half;
      const float* s = rope_sin_.data() + static_cast<size_t>(t) * half;
      for (int h = 0; h < nh; ++h) {
        if (!L.q_norm.empty()) rms_norm(q + h * hd, L.q_norm.data(), spec_.rms_eps, hd, q + h * hd);
        rope_apply(q + h * hd, c, s, hd);
      }
      for (int h = 0; h < kvh; ++h) {
        if (!L.k_norm.empty()) rms_norm(k + h * hd, L.k_norm.data(), spec_.rms_eps, hd, k + h * hd);
        rope_apply(k + h * hd, c, s, hd);
      }
      const TokenRef& tok = tokens_[t];
      const int32_t block = batch.seqs[tok.seq].block_table[tok.pos / block_tokens_];
      const int slot = tok.pos % block_tokens_;
      std::memcpy(kv_row(block, l, 0, slot), k, sizeof(float) * kvh * hd);
      std::memcpy(kv_row(block, l, 1, slot), v, sizeof(float) * kvh * hd);
    }
  });
  attention(batch, l);
  matmul(L.wo, attn_.data(), T, x_.data(), true);

  // MLP block: x += Wdown (silu(Wgate xn) * Wup xn), xn = norm(x).
  pool_.parallel_for(token_tasks, [&](int task, int) {
    for (int t = task * token_chunk; t < std::min(T, (task + 1) * token_chunk); ++t) {
      rms_norm(x_.data() + static_cast<size_t>(t) * hidden, L.ffn_norm.data(), spec_.rms_eps, hidden,
               xn_.data() + static_cast<size_t>(t) * hidden);
    }
  });
  matmul(L.w_gate_up, xn_.data(), T, gate_up_.data(), false);
  pool_.parallel_for(token_tasks, [&](int task, int) {
    for (int t = task * token_chunk; t < std::min(T, (task + 1) * token_chunk); ++t) {
      const float* g = gate_up_.data() + static_cast<size_t>(t) * 2 * inter;
      silu_mul(g, g + inter, inter, act_.data() + static_cast<size_t>(t) * inter);
    }
  });
  matmul(L.w_down, act_.data(), T, x_.data(), true);
}

Status CpuRunner::step(const StepBatch& batch, std::vector<float>& logits) {
  if (Status s = validate(batch); !s.ok()) return s;
  plan(batch);
  const int T = static_cast<int>(tokens_.size());
  const int hidden = spec_.hidden;
  const size_t half = static_cast<size_t>(spec_.head_dim) / 2;
  for (int t = 0; t < T; ++t) {
    rope_cos_sin(inv_freq_, tokens_[t].pos, rope_cos_.data() + t * half, rope_sin_.data() + t * half);
    embed_.row_to_f32(tokens_[t].id, x_.data() + static_cast<size_t>(t) * hidden);
  }
  for (int l = 0; l < spec_.n_layers; ++l) layer_forward(batch, l);

  const int rows = static_cast<int>(logit_tokens_.size());
  final_x_.resize(static_cast<size_t>(rows) * hidden);
  for (int r = 0; r < rows; ++r) {
    rms_norm(x_.data() + static_cast<size_t>(logit_tokens_[r]) * hidden, final_norm_.data(), spec_.rms_eps, hidden,
             final_x_.data() + static_cast<size_t>(r) * hidden);
  }
  logits.resize(static_cast<size_t>(rows) * spec_.vocab);
  if (rows > 0) matmul(lm_head_.rows() > 0 ? lm_head_ : embed_, final_x_.data(), rows, logits.data(), false);
  return {};
}

Status CpuRunner::export_blocks(std::span<const int32_t> ids, std::span<std::byte> out) {
  if (Status s = check_block_bytes("export_blocks", ids, out.size()); !s.ok()) return s;
  const size_t bytes = block_floats_ * sizeof(float);
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(out.data() + i * bytes, kv_.data() + static_cast<size_t>(ids[i]) * block_floats_, bytes);
  }
  return {};
}

Status CpuRunner::import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in) {
  if (Status s = check_block_bytes("import_blocks", ids, in.size()); !s.ok()) return s;
  const size_t bytes = block_floats_ * sizeof(float);
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(kv_.data() + static_cast<size_t>(ids[i]) * block_floats_, in.data() + i * bytes, bytes);
  }
  return {};
}

Status CpuRunner::copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) {
  if (Status s = check_copy_blocks(src, dst); !s.ok()) return s;
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == dst[i]) continue;
    std::memcpy(kv_.data() + static_cast<size_t>(dst[i]) * block_floats_,
                kv_.data() + static_cast<size_t>(src[i]) * block_floats_, block_floats_ * sizeof(float));
  }
  return {};
}

}  // namespace tandem::engine::cpu
