#include "model_files/gguf_file.h"

#include <cstring>
#include <limits>

#include "model_files/mapped_file.h"

namespace tandem::model_files {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
// Total array elements accepted across all metadata: real vocabularies need
// well under 1M (tokens + scores + types + merges of a 256K vocabulary); a
// hostile file cannot make the parser allocate more than this many values.
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 22;

// Bytes the smallest encoding of a value of `type` takes (for bounding counts).
uint64_t min_encoded_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool: return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16: return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32: return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
    case GgufValueType::kString: return 8;
    case GgufValueType::kArray: return 12;
  }
  return 1;
}

// Little-endian cursor over the file bytes; every read is bounds-checked.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  Status error(const std::string& what) const {
    return Status(ErrorKind::kMalformedFile, name_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
  }

  template <class T>
  bool read(T& out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool read_string(std::string& out) {
    uint64_t len = 0;
    uint64_t start = pos_;
    if (!read(len)) return false;
    if (len > remaining()) {
      pos_ = start;
      return false;
    }
    out.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return true;
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, const std::string& name) : r_(bytes, name) {}

  Reader& reader() { return r_; }

  // Reads one value of `type` into `out`; `key` names it in errors.
  Status read_value(GgufValueType type, GgufValue& out, const std::string& key, int depth) {
    out.type = type;
    bool ok = true;
    switch (type) {
      case GgufValueType::kU8: {
        uint8_t v = 0;
        ok = r_.read(v);
        out.u = v;
        break;
      }
      case GgufValueType::kI8: {
        int8_t v = 0;
        ok = r_.read(v);
        out.i = v;
        break;
      }
      case GgufValueType::kU16: {
        uint16_t v = 0;
        ok = r_.read(v);
        out.u = v;
        break;
      }
      case GgufValueType::kI16: {
        int16_t v = 0;
        ok = r_.read(v);
        out.i = v;
        break;
      }
      case GgufValueType::kU32: {
        uint32_t v = 0;
        ok = r_.read(v);
        out.u = v;
        break;
      }
      case GgufValueType::kI32: {
        int32_t v = 0;
        ok = r_.read(v);
        out.i = v;
        break;
      }
      case GgufValueType::kU64: {
        uint64_t v = 0;
        ok = r_.read(v);
        out.u = v;
        break;
      }
      case GgufValueType::kI64: {
        int64_t v = 0;
        ok = r_.read(v);
        out.i = v;
        break;
      }
      case GgufValueType::kF32: {
        float v = 0;
        ok = r_.read(v);
        out.f = v;
        break;
      }
      case GgufValueType::kF64: {
        double v = 0;
        ok = r_.read(v);
        out.f = v;
        break;
      }
      case GgufValueType::kBool: {
        uint8_t v = 0;
        ok = r_.read(v);
        if (ok && v > 1) return r_.error("metadata key '" + key + "': bool value " + std::to_string(v));
        out.u = v;
        break;
      }
      case GgufValueType::kString: ok = r_.read_string(out.str); break;
      case GgufValueType::kArray: return read_array(out, key, depth);
    }
    if (!ok) return r_.error("metadata key '" + key + "': truncated " + gguf_value_type_name(type) + " value");
    return Status::ok_status();
  }

 private:
  Status read_array(GgufValue& out, const std::string& key, int depth) {
    if (depth >= GgufFile::kMaxArrayDepth) {
      return r_.error("metadata key '" + key + "': arrays nested deeper than " +
                      std::to_string(GgufFile::kMaxArrayDepth));
    }
    uint32_t raw_type = 0;
    uint64_t count = 0;
    if (!r_.read(raw_type) || !r_.read(count)) {
      return r_.error("metadata key '" + key + "': truncated array header");
    }
    if (!gguf_value_type_valid(raw_type)) {
      return r_.error("metadata key '" + key + "': invalid array element type " + std::to_string(raw_type));
    }
    auto elem = static_cast<GgufValueType>(raw_type);
    out.elem_type = elem;
    if (count > r_.remaining() / min_encoded_size(elem)) {
      return r_.error("metadata key '" + key + "': array of " + std::to_string(count) +
                      " elements exceeds the file size");
    }
    if (count > kMaxArrayElements - total_elements_) {
      return r_.error("metadata key '" + key + "': more than " + std::to_string(kMaxArrayElements) +
                      " array elements in the file");
    }
    total_elements_ += count;
    out.items.resize(count);
    for (uint64_t j = 0; j < count; ++j) {
      Status s = read_value(elem, out.items[j], key, depth + 1);
      if (!s.ok()) return s;
    }
    return Status::ok_status();
  }

  Reader r_;
  uint64_t total_elements_ = 0;
};

bool is_unsigned(GgufValueType t) {
  return t == GgufValueType::kU8 || t == GgufValueType::kU16 || t == GgufValueType::kU32 || t == GgufValueType::kU64;
}
bool is_signed(GgufValueType t) {
  return t == GgufValueType::kI8 || t == GgufValueType::kI16 || t == GgufValueType::kI32 || t == GgufValueType::kI64;
}
bool is_float(GgufValueType t) { return t == GgufValueType::kF32 || t == GgufValueType::kF64; }

// Integer value of `v` if it is an integer type and lies in [lo, hi].
std::optional<int64_t> as_int(const GgufValue& v, int64_t lo, uint64_t hi) {
  if (is_unsigned(v.type)) {
    if (v.u > hi) return std::nullopt;
    return static_cast<int64_t>(v.u);
  }
  if (is_signed(v.type)) {
    if (v.i < lo || (v.i >= 0 && static_cast<uint64_t>(v.i) > hi)) return std::nullopt;
    return v.i;
  }
  return std::nullopt;
}

std::optional<float> as_float(const GgufValue& v) {
  if (is_float(v.type)) return static_cast<float>(v.f);
  if (is_unsigned(v.type)) return static_cast<float>(v.u);
  if (is_signed(v.type)) return static_cast<float>(v.i);
  return std::nullopt;
}

}  // namespace

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

Result<GgufFile> GgufFile::open(const std::string& path) {
  auto map = MappedFile::open(path);
  if (!map.ok()) return map.status();
  GgufFile file;
  file.name_ = path;
  file.map_ = std::move(map.value());
  file.bytes_ = file.map_->bytes();
  return parse_owned(std::move(file));
}

Result<GgufFile> GgufFile::parse(std::span<const std::byte> bytes, std::string name) {
  GgufFile file;
  file.name_ = std::move(name);
  file.owned_.assign(bytes.begin(), bytes.end());
  file.bytes_ = std::span<const std::byte>(file.owned_.data(), file.owned_.size());
  return parse_owned(std::move(file));
}

Result<GgufFile> GgufFile::parse_owned(GgufFile file) {
  Parser parser(file.bytes_, file.name_);
  Reader& r = parser.reader();
  const std::string& name = file.name_;

  char magic[4] = {};
  if (!r.read(magic)) return r.error("too short for a GGUF header");
  if (std::memcmp(magic, "GGUF", 4) != 0) return r.error("not a GGUF file (bad magic)");
  uint32_t version = 0;
  if (!r.read(version)) return r.error("truncated header (version)");
  if (version == 1) {
    return Status(ErrorKind::kUnsupported, name + ": GGUF version 1 is not supported (only 2 and 3)");
  }
  if (version != 2 && version != 3) {
    uint32_t swapped = __builtin_bswap32(version);
    if (swapped == 2 || swapped == 3) {
      return Status(ErrorKind::kUnsupported, name + ": big-endian GGUF is not supported");
    }
    return Status(ErrorKind::kUnsupported,
                  name + ": GGUF version " + std::to_string(version) + " is not supported (only 2 and 3)");
  }
  file.version_ = version;
  uint64_t n_tensors = 0;
  uint64_t n_kv = 0;
  if (!r.read(n_tensors) || !r.read(n_kv)) return r.error("truncated header (counts)");
  // A key/value takes at least 13 bytes, a tensor info at least 32.
  if (n_kv > r.remaining() / 13) {
    return r.error("metadata count " + std::to_string(n_kv) + " exceeds the file size");
  }
  if (n_tensors > r.remaining() / 32) {
    return r.error("tensor count " + std::to_string(n_tensors) + " exceeds the file size");
  }

  file.kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    if (!r.read_string(key)) return r.error("truncated metadata key #" + std::to_string(k));
    uint32_t raw_type = 0;
    if (!r.read(raw_type)) return r.error("metadata key '" + key + "': truncated type");
    if (!gguf_value_type_valid(raw_type)) {
      return r.error("metadata key '" + key + "': invalid value type " + std::to_string(raw_type));
    }
    GgufValue value;
    Status s = parser.read_value(static_cast<GgufValueType>(raw_type), value, key, 0);
    if (!s.ok()) return s;
    if (file.kv_index_.count(key) != 0) return r.error("duplicate metadata key '" + key + "'");
    file.kv_index_.emplace(key, file.kv_.size());
    file.kv_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = file.find("general.alignment")) {
    if (a->type != GgufValueType::kU32) {
      return r.error(std::string("general.alignment has type ") + gguf_value_type_name(a->type) + ", expected u32");
    }
    if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
      return r.error("general.alignment " + std::to_string(a->u) + " is not a power of two");
    }
    file.alignment_ = a->u;
  } else {
    file.alignment_ = kDefaultAlignment;
  }

  if (n_tensors > r.remaining() / 32) {
    return r.error("tensor count " + std::to_string(n_tensors) + " exceeds the file size");
  }
  file.tensors_.reserve(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensorInfo info;
    if (!r.read_string(info.name)) return r.error("truncated name of tensor #" + std::to_string(t));
    const std::string tn = "tensor '" + info.name + "'";
    uint32_t n_dims = 0;
    if (!r.read(n_dims)) return r.error(tn + ": truncated info");
    if (n_dims < 1 || n_dims > kMaxTensorDims) {
      return r.error(tn + ": " + std::to_string(n_dims) + " dimensions (expected 1 to 4)");
    }
    info.dims.resize(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      if (!r.read(dim)) return r.error(tn + ": truncated info");
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim)) {
        return r.error(tn + ": dimensions overflow");
      }
      numel *= dim;
      info.dims[d] = static_cast<int64_t>(dim);
    }
    uint32_t raw_type = 0;
    if (!r.read(raw_type) || !r.read(info.offset)) return r.error(tn + ": truncated info");
    GgmlTypeTraits traits = ggml_type_traits(raw_type);
    if (traits.block_elems == 0) {
      return Status(ErrorKind::kUnsupported, name + ": " + tn + " has unknown ggml type " + std::to_string(raw_type));
    }
    info.type = static_cast<GgmlType>(raw_type);
    if (info.dims[0] % traits.block_elems != 0) {
      return r.error(tn + ": row length " + std::to_string(info.dims[0]) + " is not a multiple of " + traits.name +
                     "'s block of " + std::to_string(traits.block_elems));
    }
    uint64_t blocks = numel / static_cast<uint64_t>(traits.block_elems);
    if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(traits.block_bytes)) {
      return r.error(tn + ": size overflows");
    }
    info.n_bytes = blocks * static_cast<uint64_t>(traits.block_bytes);
    if (info.offset % file.alignment_ != 0) {
      return r.error(tn + ": data offset " + std::to_string(info.offset) + " is not a multiple of the alignment " +
                     std::to_string(file.alignment_));
    }
    if (file.tensor_index_.count(info.name) != 0) return r.error("duplicate " + tn);
    file.tensor_index_.emplace(info.name, file.tensors_.size());
    file.tensors_.push_back(std::move(info));
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t end = r.pos();
  uint64_t pad = (file.alignment_ - end % file.alignment_) % file.alignment_;
  file.data_offset_ = end + pad;
  uint64_t size = file.bytes_.size();
  for (const GgufTensorInfo& info : file.tensors_) {
    uint64_t avail = file.data_offset_ <= size ? size - file.data_offset_ : 0;
    if (info.offset > avail || info.n_bytes > avail - info.offset) {
      return Status(ErrorKind::kMalformedFile, name + ": tensor '" + info.name + "': data [" +
                                                   std::to_string(info.offset) + ", +" + std::to_string(info.n_bytes) +
                                                   ") lies beyond the end of the file (data section holds " +
                                                   std::to_string(avail) + " bytes)");
    }
  }
  return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr || v->type != GgufValueType::kString) return std::nullopt;
  return v->str;
}

std::optional<uint32_t> GgufFile::get_u32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  auto x = as_int(*v, 0, std::numeric_limits<uint32_t>::max());
  if (!x) return std::nullopt;
  return static_cast<uint32_t>(*x);
}

std::optional<int32_t> GgufFile::get_i32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  auto x = as_int(*v, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  if (!x) return std::nullopt;
  return static_cast<int32_t>(*x);
}

std::optional<uint64_t> GgufFile::get_u64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (is_unsigned(v->type)) return v->u;
  if (is_signed(v->type) && v->i >= 0) return static_cast<uint64_t>(v->i);
  return std::nullopt;
}

std::optional<float> GgufFile::get_f32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  return as_float(*v);
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr || v->type != GgufValueType::kBool) return std::nullopt;
  return v->u != 0;
}

std::optional<size_t> GgufFile::get_array_size(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr || v->type != GgufValueType::kArray) return std::nullopt;
  return v->items.size();
}

std::optional<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr || v->type != GgufValueType::kArray || v->elem_type != GgufValueType::kString) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(v->items.size());
  for (const GgufValue& item : v->items) out.push_back(item.str);
  return out;
}

std::optional<std::vector<float>> GgufFile::get_f32_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr || v->type != GgufValueType::kArray || !is_float(v->elem_type)) return std::nullopt;
  std::vector<float> out;
  out.reserve(v->items.size());
  for (const GgufValue& item : v->items) out.push_back(static_cast<float>(item.f));
  return out;
}

std::optional<std::vector<int32_t>> GgufFile::get_i32_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr || v->type != GgufValueType::kArray) return std::nullopt;
  if (!is_signed(v->elem_type) && !is_unsigned(v->elem_type)) return std::nullopt;
  std::vector<int32_t> out;
  out.reserve(v->items.size());
  for (const GgufValue& item : v->items) {
    auto x = as_int(item, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
    if (!x) return std::nullopt;
    out.push_back(static_cast<int32_t>(*x));
  }
  return out;
}

namespace {
template <class T>
Result<T> required(const GgufFile& f, std::string_view key, const std::optional<T>& got, const char* expected) {
  if (got) return *got;
  const GgufValue* v = f.find(key);
  if (v == nullptr) {
    return Status(ErrorKind::kMalformedFile, f.name() + ": metadata key '" + std::string(key) + "' is missing");
  }
  return Status(ErrorKind::kMalformedFile, f.name() + ": metadata key '" + std::string(key) + "' has type " +
                                               gguf_value_type_name(v->type) + ", expected " + expected);
}
}  // namespace

Result<std::string> GgufFile::require_string(std::string_view key) const {
  return required(*this, key, get_string(key), "string");
}
Result<uint32_t> GgufFile::require_u32(std::string_view key) const {
  return required(*this, key, get_u32(key), "an integer in u32 range");
}
Result<float> GgufFile::require_f32(std::string_view key) const {
  return required(*this, key, get_f32(key), "a number");
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::span<const std::byte>> GgufFile::tensor_data(std::string_view name) const {
  const GgufTensorInfo* info = find_tensor(name);
  if (info == nullptr) {
    return Status(ErrorKind::kMalformedFile, name_ + ": tensor '" + std::string(name) + "' is missing");
  }
  return tensor_data(*info);
}

std::span<const std::byte> GgufFile::tensor_data(const GgufTensorInfo& info) const {
  return bytes_.subspan(data_offset_ + info.offset, info.n_bytes);
}

}  // namespace tandem::model_files
