// model_files::GgufFile: a parsed GGUF file (versions 2 and 3, little-endian):
// header, every metadata key/value, tensor infos, and a read-only view of the
// tensor data (memory-mapped for open(), an owned copy for parse()).
//
// Failure: open/parse return kIo (cannot open/map), kUnsupported (GGUF v1,
// big-endian or future versions) or kMalformedFile. Every message names the
// file (the `name` given to parse) and the key or tensor at fault. Everything
// read from the file is bounds-checked before use; counts are checked against
// the bytes that remain, so a hostile header cannot make the parser allocate
// more than a small multiple of the file size, nor recurse without bound.
// A tensor's type is only checked for being a *known* ggml type here; whether
// the loader can convert it is the loader's business (ggml_type_supported).
//
// Ownership and threads: a GgufFile owns its bytes (mapping or buffer); spans
// returned by tensor_data() stay valid while the GgufFile lives (moving it
// keeps them valid). All const methods may be called from any thread.
//
// Shapes: TensorInfo::dims are in ggml order, dims[0] = the fastest-varying
// (innermost) dimension, i.e. the reverse of the row-major (numpy/HF) shape. A
// Hugging Face linear weight [out, in] is stored as dims {in, out}.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "model_files/gguf_types.h"

namespace tandem::model_files {

class MappedFile;

// One metadata value. Scalars use the field of their kind; arrays hold their
// elements (of one element type; nested arrays allowed) in `items`.
struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  uint64_t u = 0;                                // kU8/kU16/kU32/kU64, and kBool (0 or 1)
  int64_t i = 0;                                 // kI8/kI16/kI32/kI64
  double f = 0.0;                                // kF32/kF64
  std::string str;                               // kString (raw bytes, not validated as UTF-8)
  GgufValueType elem_type = GgufValueType::kU8;  // kArray
  std::vector<GgufValue> items;                  // kArray
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> dims;  // ggml order (innermost first), 1..4 entries
  uint64_t offset = 0;        // from the start of the data section (multiple of alignment)
  uint64_t n_bytes = 0;       // bytes of data (whole blocks)
  int64_t numel() const;
};

class GgufFile {
 public:
  // Largest accepted counts (GGUF allows u64; larger is rejected as malformed).
  static constexpr int kMaxTensorDims = 4;
  static constexpr int kMaxArrayDepth = 4;

  // Memory-maps `path` read-only and parses it.
  static Result<GgufFile> open(const std::string& path);
  // Parses a file held in memory (copied); `name` is used in error messages.
  // As for open(), every tensor's [offset, offset + n_bytes) must lie inside
  // the buffer. This is the fuzzing entry point.
  static Result<GgufFile> parse(std::span<const std::byte> bytes, std::string name);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& name() const { return name_; }      // path or parse() name
  uint32_t version() const { return version_; }          // 2 or 3
  uint64_t alignment() const { return alignment_; }      // general.alignment or 32
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section

  // --- metadata -----------------------------------------------------------
  // All keys with their values, in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;  // nullptr when absent
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters: nullopt when the key is absent or holds another kind of
  // value. Integer getters accept any integer type whose value fits
  // (llama.cpp writes token ids as u32, some converters as i32); get_f32
  // accepts f32, f64 and integers; get_bool accepts bool only.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<uint32_t> get_u32(std::string_view key) const;
  std::optional<int32_t> get_i32(std::string_view key) const;
  std::optional<uint64_t> get_u64(std::string_view key) const;
  std::optional<float> get_f32(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;

  // Arrays: nullopt when absent, not an array, or of the wrong element type
  // (f32 arrays accept f32/f64; i32 arrays accept any integer type in range).
  std::optional<size_t> get_array_size(std::string_view key) const;
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_f32_array(std::string_view key) const;
  std::optional<std::vector<int32_t>> get_i32_array(std::string_view key) const;

  // Same as the getters but failing with kMalformedFile naming the file and
  // key ("missing" or "has type X, expected Y").
  Result<std::string> require_string(std::string_view key) const;
  Result<uint32_t> require_u32(std::string_view key) const;
  Result<float> require_f32(std::string_view key) const;

  // --- tensors ------------------------------------------------------------
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;  // nullptr when absent
  // The raw (still quantized) bytes of a tensor; kMalformedFile naming the
  // tensor when it is absent.
  Result<std::span<const std::byte>> tensor_data(std::string_view name) const;
  std::span<const std::byte> tensor_data(const GgufTensorInfo& info) const;

 private:
  GgufFile() = default;
  static Result<GgufFile> parse_owned(GgufFile file);

  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  std::unique_ptr<MappedFile> map_;   // open(): the mapping
  std::vector<std::byte> owned_;      // parse(): the copy
  std::span<const std::byte> bytes_;  // whichever of the two holds the file
};

}  // namespace tandem::model_files
