#include "engine/model_loader.h"

#include <filesystem>
#include <optional>

#include "engine/gguf_model_reader.h"
#include "engine/hf_checkpoint.h"
#include "model_files/gguf_file.h"

namespace tandem::engine {

namespace {

Result<LoadedModel> load(const std::string& path, std::optional<DType> dtype,
                         const std::function<void(float)>& progress) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (!std::filesystem::exists(p, ec)) return Status(ErrorKind::kIo, path + ": no such file or directory");
  if (std::filesystem::is_directory(p, ec)) return read_hf_checkpoint(path, dtype, progress);
  if (p.extension() == ".safetensors") {
    return Status(ErrorKind::kUnsupported,
                  path + ": a bare .safetensors file has no config; pass the model directory instead");
  }
  auto file = model_files::GgufFile::open(path);
  if (!file.ok()) return file.status();
  return read_gguf_model(file.value(), dtype, progress);
}

}  // namespace

Result<LoadedModel> load_model(const std::string& path, DType dtype, std::function<void(float)> progress) {
  return load(path, dtype, progress);
}

Result<LoadedModel> inspect_model(const std::string& path) { return load(path, std::nullopt, {}); }

}  // namespace tandem::engine
