// model_files::SafetensorsFile: one .safetensors file: an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, optional
// "__metadata__": {str: str}}, then the tensor bytes (memory-mapped read-only
// for open(), an owned copy for parse()).
//
// Failure: kIo (cannot open/map), kMalformedFile (short file, header length
// beyond the file or above kMaxHeaderBytes, header not a JSON object, an entry
// without a valid dtype/shape/data_offsets, offsets outside the data section,
// a byte size that does not match shape x dtype, duplicate names) and
// kUnsupported (a dtype name outside the safetensors set). Messages name the
// file and the tensor. The JSON parser is depth-limited; nothing read from the
// file is used unchecked.
//
// Ownership/threads: owns its bytes; spans from tensor_data() live as long as
// the object (moving keeps them valid). Const methods are thread-safe.
// Shapes are row-major (as numpy / torch), outermost first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace tandem::model_files {

class MappedFile;

struct SafetensorsTensorInfo {
  std::string name;
  std::string dtype;           // "F32", "BF16", "F16", "I64", ... as in the file
  int64_t elem_bytes = 0;      // bytes per element of dtype
  std::vector<int64_t> shape;  // row-major; empty = scalar
  uint64_t begin = 0;          // data_offsets, relative to the data section
  uint64_t end = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // as the safetensors library

  static Result<SafetensorsFile> open(const std::string& path);
  // Parses an in-memory file (copied); `name` appears in messages. The fuzzing
  // entry point.
  static Result<SafetensorsFile> parse(std::span<const std::byte> bytes, std::string name);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& name() const { return name_; }
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }  // header order
  const SafetensorsTensorInfo* find_tensor(std::string_view name) const;          // nullptr if absent
  std::span<const std::byte> tensor_data(const SafetensorsTensorInfo& info) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  static Result<SafetensorsFile> parse_owned(SafetensorsFile file);

  std::string name_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  uint64_t data_offset_ = 0;
  std::unique_ptr<MappedFile> map_;
  std::vector<std::byte> owned_;
  std::span<const std::byte> bytes_;
};

}  // namespace tandem::model_files
