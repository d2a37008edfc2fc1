#include "engine/weight_loader.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "common/check.h"
#include "engine/dequant.h"

namespace tandem::engine {

using model_files::ggml_type_supported;
using model_files::ggml_type_traits;
using model_files::GgmlTypeTraits;

namespace {

// One tensor to fill: its HF name, destination, expected shape, and how many
// heads to unpermute (0 = none).
struct Slot {
  std::string hf_name;
  Tensor* dst = nullptr;
  std::vector<int64_t> shape;
  int permute_heads = 0;
  std::optional<SourceTensor> src;
};

// Converts src into dst on up to `threads` threads, splitting on block boundaries.
void convert_parallel(const SourceTensor& src, DType dtype, std::span<std::byte> dst) {
  const GgmlTypeTraits t = ggml_type_traits(src.type);
  const size_t blocks = src.data.size() / static_cast<size_t>(t.block_bytes);
  const size_t out_block = static_cast<size_t>(t.block_elems) * dtype_size(dtype);
  constexpr size_t kMinBlocksPerThread = 1 << 14;
  size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 8);
  threads = std::max<size_t>(1, std::min(threads, blocks / kMinBlocksPerThread));
  auto run = [&](size_t b0, size_t b1) {
    convert_ggml_data(src.type, src.data.subspan(b0 * t.block_bytes, (b1 - b0) * t.block_bytes), dtype,
                      dst.subspan(b0 * out_block, (b1 - b0) * out_block));
  };
  if (threads <= 1) {
    run(0, blocks);
    return;
  }
  std::vector<std::thread> pool;
  const size_t per = (blocks + threads - 1) / threads;
  for (size_t i = 1; i < threads; ++i) {
    size_t b0 = std::min(blocks, i * per), b1 = std::min(blocks, (i + 1) * per);
    if (b0 < b1) pool.emplace_back(run, b0, b1);
  }
  run(0, std::min(blocks, per));
  for (auto& th : pool) th.join();
}

}  // namespace

void unpermute_rows(std::span<std::byte> data, int n_heads, int head_dim, int64_t cols, size_t elem_bytes) {
  TANDEM_CHECK(head_dim % 2 == 0);
  const size_t row_bytes = static_cast<size_t>(cols) * elem_bytes;
  TANDEM_CHECK(data.size() == static_cast<size_t>(n_heads) * head_dim * row_bytes);
  const int half = head_dim / 2;
  std::vector<std::byte> head(static_cast<size_t>(head_dim) * row_bytes);
  for (int h = 0; h < n_heads; ++h) {
    std::byte* base = data.data() + static_cast<size_t>(h) * head_dim * row_bytes;
    std::memcpy(head.data(), base, head.size());
    for (int j = 0; j < half; ++j) {
      for (int t = 0; t < 2; ++t) {
        const size_t from = static_cast<size_t>(2 * j + t) * row_bytes;
        const size_t to = static_cast<size_t>(t * half + j) * row_bytes;
        std::memcpy(base + to, head.data() + from, row_bytes);
      }
    }
  }
}

Result<ModelWeights> load_weights(const ModelSpec& spec, const TensorSource& source, const WeightLoadOptions& options) {
  ModelWeights w;
  w.layers.resize(static_cast<size_t>(spec.n_layers));
  const int64_t hidden = spec.hidden, hd = spec.head_dim, inter = spec.intermediate, vocab = spec.vocab;
  const int64_t q_out = static_cast<int64_t>(spec.n_heads) * hd, kv_out = static_cast<int64_t>(spec.n_kv_heads) * hd;
  const int perm_q = options.unpermute_qk ? spec.n_heads : 0;
  const int perm_k = options.unpermute_qk ? spec.n_kv_heads : 0;

  std::vector<Slot> slots;
  slots.push_back({"model.embed_tokens.weight", &w.embed, {vocab, hidden}, 0, {}});
  for (int i = 0; i < spec.n_layers; ++i) {
    LayerWeights& L = w.layers[static_cast<size_t>(i)];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    slots.push_back({p + "input_layernorm.weight", &L.attn_norm, {hidden}, 0, {}});
    slots.push_back({p + "self_attn.q_proj.weight", &L.wq, {q_out, hidden}, perm_q, {}});
    slots.push_back({p + "self_attn.k_proj.weight", &L.wk, {kv_out, hidden}, perm_k, {}});
    slots.push_back({p + "self_attn.v_proj.weight", &L.wv, {kv_out, hidden}, 0, {}});
    if (spec.qkv_bias) {
      slots.push_back({p + "self_attn.q_proj.bias", &L.bq, {q_out}, perm_q, {}});
      slots.push_back({p + "self_attn.k_proj.bias", &L.bk, {kv_out}, perm_k, {}});
      slots.push_back({p + "self_attn.v_proj.bias", &L.bv, {kv_out}, 0, {}});
    }
    if (spec.qk_norm) {
      slots.push_back({p + "self_attn.q_norm.weight", &L.q_norm, {hd}, 0, {}});
      slots.push_back({p + "self_attn.k_norm.weight", &L.k_norm, {hd}, 0, {}});
    }
    slots.push_back({p + "self_attn.o_proj.weight", &L.wo, {hidden, q_out}, 0, {}});
    slots.push_back({p + "post_attention_layernorm.weight", &L.ffn_norm, {hidden}, 0, {}});
    slots.push_back({p + "mlp.gate_proj.weight", &L.w_gate, {inter, hidden}, 0, {}});
    slots.push_back({p + "mlp.up_proj.weight", &L.w_up, {inter, hidden}, 0, {}});
    slots.push_back({p + "mlp.down_proj.weight", &L.w_down, {hidden, inter}, 0, {}});
  }
  slots.push_back({"model.norm.weight", &w.final_norm, {hidden}, 0, {}});
  if (!spec.tied_embeddings) slots.push_back({"lm_head.weight", &w.lm_head, {vocab, hidden}, 0, {}});

  // Pass 1: every tensor present, of the right shape and a convertible type.
  uint64_t total = 0;
  for (Slot& s : slots) {
    auto found = source(s.hf_name);
    if (!found.ok()) return found.status();
    if (!found.value()) {
      const std::string name = options.file_tensor_name ? options.file_tensor_name(s.hf_name) : s.hf_name;
      return Status(ErrorKind::kMalformedFile, options.model_name + ": tensor '" + name + "' is missing");
    }
    SourceTensor& src = *found.value();
    const std::string where = src.file + ": tensor '" + src.name + "'";
    if (!ggml_type_supported(src.type)) {
      return Status(ErrorKind::kUnsupported,
                    where + " has type " + ggml_type_traits(src.type).name + ", which Tandem cannot convert");
    }
    if (src.shape != s.shape) {
      return Status(ErrorKind::kMalformedFile,
                    where + " has shape " + shape_string(src.shape) + ", expected " + shape_string(s.shape));
    }
    total += src.data.size();
    s.src = std::move(src);
  }

  // Pass 2: convert.
  uint64_t done = 0;
  for (Slot& s : slots) {
    const SourceTensor& src = *s.src;
    Tensor& t = *s.dst;
    t.dtype = options.dtype;
    t.shape = s.shape;
    t.data.resize(static_cast<size_t>(t.numel()) * dtype_size(options.dtype));
    convert_parallel(src, options.dtype, t.data);
    if (s.permute_heads > 0) {
      const int64_t cols = s.shape.size() == 2 ? s.shape[1] : 1;
      if (hd % 2 != 0) {
        return Status(ErrorKind::kUnsupported, src.file + ": odd head_dim " + std::to_string(hd) + " with rope");
      }
      unpermute_rows(t.data, s.permute_heads, static_cast<int>(hd), cols, dtype_size(options.dtype));
    }
    done += src.data.size();
    if (options.progress && total > 0) {
      options.progress(static_cast<float>(static_cast<double>(done) / static_cast<double>(total)));
    }
    s.src.reset();
  }
  if (options.progress) options.progress(1.0f);
  return w;
}

}  // namespace tandem::engine
