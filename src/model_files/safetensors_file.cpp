#include "model_files/safetensors_file.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstring>
#include <limits>

#include "model_files/mapped_file.h"

namespace tandem::model_files {

namespace {

// Element size of a safetensors dtype name; 0 when unknown.
int64_t dtype_bytes(std::string_view dtype) {
  static const std::pair<std::string_view, int64_t> kTable[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
  };
  for (const auto& [n, b] : kTable) {
    if (n == dtype) return b;
  }
  return 0;
}

// Non-negative integer value of a JSON number (int64, uint64, or an integral double).
bool as_u64(const boost::json::value& v, uint64_t& out) {
  if (v.is_uint64()) {
    out = v.get_uint64();
    return true;
  }
  if (v.is_int64()) {
    if (v.get_int64() < 0) return false;
    out = static_cast<uint64_t>(v.get_int64());
    return true;
  }
  return false;
}

}  // namespace

int64_t SafetensorsTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map.ok()) return map.status();
  SafetensorsFile file;
  file.name_ = path;
  file.map_ = std::move(map.value());
  file.bytes_ = file.map_->bytes();
  return parse_owned(std::move(file));
}

Result<SafetensorsFile> SafetensorsFile::parse(std::span<const std::byte> bytes, std::string name) {
  SafetensorsFile file;
  file.name_ = std::move(name);
  file.owned_.assign(bytes.begin(), bytes.end());
  file.bytes_ = std::span<const std::byte>(file.owned_.data(), file.owned_.size());
  return parse_owned(std::move(file));
}

Result<SafetensorsFile> SafetensorsFile::parse_owned(SafetensorsFile file) {
  const std::string& fname = file.name_;
  auto bad = [&](const std::string& what) { return Status(ErrorKind::kMalformedFile, fname + ": " + what); };
  const uint64_t size = file.bytes_.size();
  if (size < 8) return bad("too short for a safetensors header");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.bytes_.data(), 8);
  if (header_len > kMaxHeaderBytes) {
    return bad("header length " + std::to_string(header_len) + " exceeds the limit of " +
               std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (header_len > size - 8) {
    return bad("header length " + std::to_string(header_len) + " exceeds the file size " + std::to_string(size));
  }
  file.data_offset_ = 8 + header_len;
  const uint64_t data_size = size - file.data_offset_;
  std::string_view text(reinterpret_cast<const char*>(file.bytes_.data() + 8), header_len);

  boost::json::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 8;
  boost::json::value root = boost::json::parse(text, ec, {}, opts);
  if (ec) return bad("header is not valid JSON: " + ec.message());
  if (!root.is_object()) return bad("header is not a JSON object");

  for (const auto& kv : root.as_object()) {
    std::string name(kv.key());
    if (name == "__metadata__") {
      if (!kv.value().is_object()) return bad("__metadata__ is not an object");
      for (const auto& m : kv.value().as_object()) {
        if (!m.value().is_string()) return bad("__metadata__ value '" + std::string(m.key()) + "' is not a string");
        file.metadata_[std::string(m.key())] = std::string(m.value().as_string());
      }
      continue;
    }
    const std::string tn = "tensor '" + name + "'";
    if (!kv.value().is_object()) return bad(tn + ": entry is not an object");
    const auto& obj = kv.value().as_object();
    SafetensorsTensorInfo info;
    info.name = name;
    const auto* dtype = obj.if_contains("dtype");
    if (dtype == nullptr || !dtype->is_string()) return bad(tn + ": missing or non-string dtype");
    info.dtype = std::string(dtype->as_string());
    info.elem_bytes = dtype_bytes(info.dtype);
    if (info.elem_bytes == 0) {
      return Status(ErrorKind::kUnsupported, fname + ": " + tn + " has unknown dtype '" + info.dtype + "'");
    }
    const auto* shape = obj.if_contains("shape");
    if (shape == nullptr || !shape->is_array()) return bad(tn + ": missing or non-array shape");
    if (shape->as_array().size() > 8) return bad(tn + ": more than 8 dimensions");
    uint64_t numel = 1;
    for (const auto& d : shape->as_array()) {
      uint64_t dim = 0;
      if (!as_u64(d, dim)) return bad(tn + ": shape entry is not a non-negative integer");
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim)) {
        return bad(tn + ": shape overflows");
      }
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto* offs = obj.if_contains("data_offsets");
    if (offs == nullptr || !offs->is_array() || offs->as_array().size() != 2 ||
        !as_u64(offs->as_array()[0], info.begin) || !as_u64(offs->as_array()[1], info.end)) {
      return bad(tn + ": data_offsets is not [begin, end]");
    }
    if (info.begin > info.end || info.end > data_size) {
      return bad(tn + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                 "] lie outside the data section of " + std::to_string(data_size) + " bytes");
    }
    if (numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(info.elem_bytes) ||
        info.end - info.begin != numel * static_cast<uint64_t>(info.elem_bytes)) {
      return bad(tn + ": " + std::to_string(info.end - info.begin) + " bytes do not match its shape and dtype " +
                 info.dtype);
    }
    if (file.index_.count(name) != 0) return bad("duplicate " + tn);
    file.index_.emplace(name, file.tensors_.size());
    file.tensors_.push_back(std::move(info));
  }
  return file;
}

const SafetensorsTensorInfo* SafetensorsFile::find_tensor(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> SafetensorsFile::tensor_data(const SafetensorsTensorInfo& info) const {
  return bytes_.subspan(data_offset_ + info.begin, info.end - info.begin);
}

}  // namespace tandem::model_files
