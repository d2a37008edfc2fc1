#include "engine/cuda/device_weights.h"

#include <cuda_runtime.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

uint16_t f32_to_bf16_bits(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
  const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);  // subnormal: mant * 2^-24
  return sign ? -v : v;
}

// A tensor of a fused group: its expected shape, name and where its offset goes.
struct Part {
  Tensor* tensor;
  std::vector<int64_t> shape;
  const char* name;
  size_t* offset;
};

// One piece of the device allocation: where it goes, where it comes from.
struct Piece {
  Tensor* src;
  size_t offset;  // in bf16 elements
};

// Copies a host tensor (bf16, f16 or f32) to dst as bf16, then frees it.
Status upload_tensor(Tensor& t, __nv_bfloat16* dst, std::vector<uint16_t>& scratch) {
  const size_t n = static_cast<size_t>(t.numel());
  const void* src = t.data.data();
  if (t.dtype != DType::kBF16) {
    scratch.resize(n);
    if (t.dtype == DType::kF32) {
      const float* f = t.f32();
      for (size_t i = 0; i < n; ++i) scratch[i] = f32_to_bf16_bits(f[i]);
    } else {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(t.data.data());
      for (size_t i = 0; i < n; ++i) scratch[i] = f32_to_bf16_bits(f16_bits_to_f32(h[i]));
    }
    src = scratch.data();
  }
  TANDEM_CUDA_TRY(cudaMemcpy(dst, src, n * sizeof(uint16_t), cudaMemcpyHostToDevice));
  t.data.clear();
  t.data.shrink_to_fit();
  return {};
}

}  // namespace

Status DeviceWeights::upload(const ModelSpec& spec, ModelWeights weights) {
  if (weights.layers.size() != static_cast<size_t>(spec.n_layers)) {
    return Status(ErrorKind::kMalformedFile, "weights have " + std::to_string(weights.layers.size()) +
                                                 " layers, spec says " + std::to_string(spec.n_layers));
  }
  const int64_t hidden = spec.hidden, hd = spec.head_dim, inter = spec.intermediate;
  const int64_t q_dim = spec.n_heads * hd, kv_dim = spec.n_kv_heads * hd;
  std::vector<Piece> pieces;
  size_t total = 0;
  auto add = [&](Tensor& t, const std::vector<int64_t>& shape, const std::string& name) -> Result<size_t> {
    if (Status s = check_tensor_shape(t, shape, name); !s.ok()) return s;
    const size_t at = total;
    pieces.push_back({&t, at});
    total += static_cast<size_t>(t.numel());
    total = (total + 63) / 64 * 64;  // 128-byte aligned pieces
    return at;
  };
  // Offsets first (validating every shape), then one allocation, then copies.
  struct LayerOffsets {
    size_t attn_norm, wq, wk, wv, bq = 0, bk = 0, bv = 0, q_norm = 0, k_norm = 0, wo, ffn_norm, gate, up, down;
  };
  std::vector<LayerOffsets> lo(spec.n_layers);
  for (int l = 0; l < spec.n_layers; ++l) {
    LayerWeights& w = weights.layers[l];
    LayerOffsets& o = lo[l];
    const std::string p = "layers." + std::to_string(l) + ".";
    // Fused matrices: consecutive pieces with no padding between them (row counts
    // times hidden are multiples of 64 elements for every supported shape; checked).
    auto contiguous = [&](std::initializer_list<Part> parts) -> Status {
      for (const Part& part : parts) {
        auto r = add(*part.tensor, part.shape, p + part.name);
        if (!r.ok()) return r.status();
        *part.offset = r.value();
      }
      return {};
    };
    if ((q_dim * hidden) % 64 != 0 || (kv_dim * hidden) % 64 != 0 || (inter * hidden) % 64 != 0) {
      return Status(ErrorKind::kUnsupported, "cuda runner: matrix sizes must be multiples of 64 elements");
    }
    TANDEM_RETURN_IF_ERROR(contiguous({{&w.wq, {q_dim, hidden}, "wq", &o.wq},
                                       {&w.wk, {kv_dim, hidden}, "wk", &o.wk},
                                       {&w.wv, {kv_dim, hidden}, "wv", &o.wv}}));
    TANDEM_RETURN_IF_ERROR(
        contiguous({{&w.w_gate, {inter, hidden}, "w_gate", &o.gate}, {&w.w_up, {inter, hidden}, "w_up", &o.up}}));
    TANDEM_RETURN_IF_ERROR(contiguous({{&w.wo, {hidden, q_dim}, "wo", &o.wo},
                                       {&w.w_down, {hidden, inter}, "w_down", &o.down},
                                       {&w.attn_norm, {hidden}, "attn_norm", &o.attn_norm},
                                       {&w.ffn_norm, {hidden}, "ffn_norm", &o.ffn_norm}}));
    if (spec.qkv_bias) {
      // The fused bias must be contiguous too: pad-free only if q_dim, kv_dim are multiples of 64.
      if (q_dim % 64 != 0 || kv_dim % 64 != 0) {
        return Status(ErrorKind::kUnsupported, "cuda runner: QKV bias needs head counts * head_dim multiple of 64");
      }
      TANDEM_RETURN_IF_ERROR(
          contiguous({{&w.bq, {q_dim}, "bq", &o.bq}, {&w.bk, {kv_dim}, "bk", &o.bk}, {&w.bv, {kv_dim}, "bv", &o.bv}}));
    }
    if (spec.qk_norm) {
      TANDEM_RETURN_IF_ERROR(
          contiguous({{&w.q_norm, {hd}, "q_norm", &o.q_norm}, {&w.k_norm, {hd}, "k_norm", &o.k_norm}}));
    }
    if (o.wk != o.wq + q_dim * hidden || o.wv != o.wk + kv_dim * hidden || o.up != o.gate + inter * hidden ||
        (spec.qkv_bias && (o.bk != o.bq + q_dim || o.bv != o.bk + kv_dim))) {
      return Status(ErrorKind::kInternal, "cuda runner: fused weights are not contiguous");
    }
  }
  size_t embed_off = 0, head_off = 0, norm_off = 0;
  {
    auto r = add(weights.embed, {spec.vocab, hidden}, "embed");
    if (!r.ok()) return r.status();
    embed_off = r.value();
  }
  const bool tied = spec.tied_embeddings || weights.lm_head.empty();
  if (!tied) {
    auto r = add(weights.lm_head, {spec.vocab, hidden}, "lm_head");
    if (!r.ok()) return r.status();
    head_off = r.value();
  }
  {
    auto r = add(weights.final_norm, {hidden}, "final_norm");
    if (!r.ok()) return r.status();
    norm_off = r.value();
  }

  TANDEM_RETURN_IF_ERROR(buffer_.allocate(total * sizeof(uint16_t), "model weights"));
  __nv_bfloat16* base = buffer_.get<__nv_bfloat16>();
  std::vector<uint16_t> scratch;
  for (const Piece& piece : pieces) TANDEM_RETURN_IF_ERROR(upload_tensor(*piece.src, base + piece.offset, scratch));

  layers_.clear();
  decode_read_bytes_ = 0;
  for (int l = 0; l < spec.n_layers; ++l) {
    const LayerOffsets& o = lo[l];
    DeviceLayer d;
    d.attn_norm = base + o.attn_norm;
    d.wqkv = base + o.wq;
    d.bqkv = spec.qkv_bias ? base + o.bq : nullptr;
    d.q_norm = spec.qk_norm ? base + o.q_norm : nullptr;
    d.k_norm = spec.qk_norm ? base + o.k_norm : nullptr;
    d.wo = base + o.wo;
    d.ffn_norm = base + o.ffn_norm;
    d.w_gate_up = base + o.gate;
    d.w_down = base + o.down;
    layers_.push_back(d);
    decode_read_bytes_ += 2 * static_cast<size_t>((q_dim + 2 * kv_dim) * hidden + hidden * q_dim + 3 * inter * hidden);
  }
  embed_ = base + embed_off;
  lm_head_ = tied ? embed_ : base + head_off;
  final_norm_ = base + norm_off;
  decode_read_bytes_ += 2 * static_cast<size_t>(spec.vocab) * hidden;  // the head
  return {};
}

}  // namespace tandem::engine::cuda
