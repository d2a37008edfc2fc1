// libFuzzer target: the safetensors header parser on arbitrary bytes. Must
// never crash, hang or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/check.h"
#include "model_files/safetensors_file.h"

using namespace tandem::model_files;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = SafetensorsFile::parse(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz.safetensors");
  if (!file.ok()) {
    TANDEM_CHECK(!file.status().message().empty());
    return 0;
  }
  for (const SafetensorsTensorInfo& t : file->tensors()) {
    auto bytes = file->tensor_data(t);
    TANDEM_CHECK(bytes.size() == t.end - t.begin);
    TANDEM_CHECK(static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.elem_bytes) == bytes.size());
    TANDEM_CHECK(file->find_tensor(t.name) == &t);
  }
  return 0;
}
