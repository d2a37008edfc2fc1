// Dequantization of ggml tensor data (GGUF) and floating-point conversions
// between f32, f16 and bf16 (also used for safetensors).
//
// Exactness: dequantize_to_f32 performs the same float32 operations in the
// same order as ggml and gguf-py (gguf.quants.dequantize), so results are
// bit-identical to gguf-py; f32 -> bf16/f16 rounds to nearest even (as
// numpy/torch do). Floating-point contraction (FMA) is disabled in dequant.cpp
// for that reason.
//
// Layout: ggml data is a sequence of blocks; each row of a tensor (dims[0]
// elements) is a whole number of blocks, so converting the concatenated blocks
// yields the row-major tensor. Threads: pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "engine/model_weights.h"
#include "model_files/gguf_types.h"

namespace tandem::engine {

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; NaN stays NaN (quiet).
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// IEEE binary16 <-> binary32 (exact widening; narrowing rounds to nearest even,
// overflow gives infinity).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Dequantizes whole blocks of `type` to float32. Preconditions (checked,
// callers validate files first): ggml_type_supported(type); src.size() is a
// multiple of the block size in bytes; dst.size() == blocks * block_elems.
void dequantize_to_f32(model_files::GgmlType type, std::span<const std::byte> src, std::span<float> dst);

// Converts whole blocks of `type` into `out` elements: dst.size() must be
// blocks * block_elems * dtype_size(out). Same-type conversions copy bytes.
void convert_ggml_data(model_files::GgmlType type, std::span<const std::byte> src, DType out, std::span<std::byte> dst);

}  // namespace tandem::engine
