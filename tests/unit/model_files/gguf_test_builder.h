// Builds GGUF files in memory for the loader unit tests (little-endian, the
// layout of the GGUF specification): header, key/values, tensor infos,
// padding to the alignment, tensor data. Raw helpers let tests write
// deliberately broken fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "model_files/gguf_types.h"

namespace tandem::model_files::testing {

class GgufBuilder {
 public:
  using Bytes = std::vector<std::byte>;

  static void put(Bytes& b, const void* p, size_t n) {
    const auto* c = static_cast<const std::byte*>(p);
    b.insert(b.end(), c, c + n);
  }
  template <class T>
  static void put(Bytes& b, T v) {
    put(b, &v, sizeof v);
  }
  static void put_str(Bytes& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    put(b, s.data(), s.size());
  }

  GgufBuilder& version(uint32_t v) {
    version_ = v;
    return *this;
  }

  // A key with a raw, already encoded value (type tag + payload).
  GgufBuilder& kv_raw(const std::string& key, uint32_t type, const Bytes& payload) {
    put_str(kv_, key);
    put<uint32_t>(kv_, type);
    kv_.insert(kv_.end(), payload.begin(), payload.end());
    ++n_kv_;
    return *this;
  }
  template <class T>
  GgufBuilder& kv(const std::string& key, GgufValueType type, T v) {
    Bytes p;
    put(p, v);
    return kv_raw(key, static_cast<uint32_t>(type), p);
  }
  GgufBuilder& kv_u32(const std::string& key, uint32_t v) { return kv(key, GgufValueType::kU32, v); }
  GgufBuilder& kv_i32(const std::string& key, int32_t v) { return kv(key, GgufValueType::kI32, v); }
  GgufBuilder& kv_f32(const std::string& key, float v) { return kv(key, GgufValueType::kF32, v); }
  GgufBuilder& kv_bool(const std::string& key, bool v) { return kv(key, GgufValueType::kBool, uint8_t{v}); }
  GgufBuilder& kv_str(const std::string& key, const std::string& v) {
    Bytes p;
    put_str(p, v);
    return kv_raw(key, static_cast<uint32_t>(GgufValueType::kString), p);
  }
  GgufBuilder& kv_str_array(const std::string& key, const std::vector<std::string>& v) {
    Bytes p;
    put<uint32_t>(p, static_cast<uint32_t>(GgufValueType::kString));
    put<uint64_t>(p, v.size());
    for (const auto& s : v) put_str(p, s);
    return kv_raw(key, static_cast<uint32_t>(GgufValueType::kArray), p);
  }
  template <class T>
  GgufBuilder& kv_array(const std::string& key, GgufValueType elem, const std::vector<T>& v) {
    Bytes p;
    put<uint32_t>(p, static_cast<uint32_t>(elem));
    put<uint64_t>(p, v.size());
    for (const T& x : v) put(p, x);
    return kv_raw(key, static_cast<uint32_t>(GgufValueType::kArray), p);
  }
  GgufBuilder& alignment(uint32_t a) {
    alignment_ = a;
    return kv_u32("general.alignment", a);
  }

  // A tensor: dims in ggml order, data appended at the next aligned offset.
  GgufBuilder& tensor(const std::string& name, GgmlType type, const std::vector<uint64_t>& dims, const Bytes& data) {
    while (data_.size() % alignment_ != 0) data_.push_back(std::byte{0});
    return tensor_raw(name, static_cast<uint32_t>(type), dims, data_.size(), data);
  }
  GgufBuilder& tensor_f32(const std::string& name, const std::vector<uint64_t>& dims, const std::vector<float>& v) {
    Bytes b;
    put(b, v.data(), v.size() * 4);
    return tensor(name, GgmlType::kF32, dims, b);
  }
  // Tensor info with an explicit offset; `data` is appended as is.
  GgufBuilder& tensor_raw(const std::string& name, uint32_t type, const std::vector<uint64_t>& dims, uint64_t offset,
                          const Bytes& data) {
    put_str(infos_, name);
    put<uint32_t>(infos_, static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) put<uint64_t>(infos_, d);
    put<uint32_t>(infos_, type);
    put<uint64_t>(infos_, offset);
    data_.insert(data_.end(), data.begin(), data.end());
    ++n_tensors_;
    return *this;
  }

  Bytes build() const {
    Bytes out;
    put(out, "GGUF", 4);
    put<uint32_t>(out, version_);
    put<uint64_t>(out, n_tensors_);
    put<uint64_t>(out, n_kv_);
    out.insert(out.end(), kv_.begin(), kv_.end());
    out.insert(out.end(), infos_.begin(), infos_.end());
    while (out.size() % alignment_ != 0) out.push_back(std::byte{0});
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

 private:
  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
  Bytes kv_, infos_, data_;
};

}  // namespace tandem::model_files::testing
