// libFuzzer target: the GGUF parser (header, metadata, tensor infos) and the
// GGUF model reader on arbitrary bytes. Must never crash, hang or allocate
// without bound; any input is either parsed or refused with a Status.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/check.h"
#include "engine/gguf_model_reader.h"
#include "model_files/gguf_file.h"

using namespace tandem::engine;
using namespace tandem::model_files;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = GgufFile::parse(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz.gguf");
  if (!file.ok()) {
    TANDEM_CHECK(!file.status().message().empty());
    return 0;
  }
  const GgufFile& f = file.value();
  for (const auto& [key, value] : f.metadata()) {
    (void)f.get_string(key);
    (void)f.get_u32(key);
    (void)f.get_i32(key);
    (void)f.get_f32(key);
    (void)f.get_bool(key);
    (void)f.get_string_array(key);
    (void)f.get_f32_array(key);
    (void)f.get_i32_array(key);
    (void)value;
  }
  uint64_t sum = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    auto bytes = f.tensor_data(t);
    TANDEM_CHECK(bytes.size() == t.n_bytes);
    if (!bytes.empty()) sum += static_cast<uint8_t>(bytes.back());
  }
  (void)sum;
  (void)read_gguf_model(f, std::nullopt);
  // Full load (conversion) only for small files, so each run stays fast.
  if (size < (1u << 16)) (void)read_gguf_model(f, DType::kF32);
  return 0;
}
