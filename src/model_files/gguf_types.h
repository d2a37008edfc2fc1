// GGUF enumerations shared by the GGUF reader and the dequantizers: metadata
// value types and ggml tensor types (numbers as in the GGUF specification),
// plus the block geometry of each tensor type.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::model_files {

// Type tag of a GGUF metadata value (on-disk uint32).
enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// Returns "u8", "string", "array", ...; "invalid" for values outside the enum.
const char* gguf_value_type_name(GgufValueType type);
// True for the 13 tags the specification defines.
bool gguf_value_type_valid(uint32_t raw);

// ggml tensor element type (on-disk uint32). The types named here are known
// (their block geometry, so files holding them parse); the loader converts
// only those listed in ggml_type_supported() and refuses the rest.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

// Block geometry of a tensor type: `block_elems` consecutive elements of a
// row are stored in `block_bytes` bytes. Rows hold a whole number of blocks.
struct GgmlTypeTraits {
  const char* name = "invalid";  // "q4_k", "bf16", ... (gguf-py's lower-case names)
  int64_t block_elems = 0;       // 0: unknown type
  int64_t block_bytes = 0;
};

// Traits of a raw on-disk type number; block_elems == 0 for unknown numbers.
GgmlTypeTraits ggml_type_traits(uint32_t raw);
inline GgmlTypeTraits ggml_type_traits(GgmlType type) { return ggml_type_traits(static_cast<uint32_t>(type)); }
// True for the types Tandem converts to F32/BF16: F32, F16, BF16, Q8_0, Q4_0,
// Q4_1, Q4_K, Q5_K, Q6_K.
bool ggml_type_supported(GgmlType type);

}  // namespace tandem::model_files
