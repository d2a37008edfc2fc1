#include "text/tokenizer_loader.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "model_files/gguf_file.h"

namespace tandem::text {
namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorKind::kIo, "cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status(ErrorKind::kIo, "cannot read " + path);
  return ss.str();
}

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

}  // namespace

Result<std::shared_ptr<const Tokenizer>> load_tokenizer(const std::string& model_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) {
    const fs::path dir(model_path);
    const fs::path json = dir / "tokenizer.json";
    if (!fs::exists(json, ec)) {
      return Status(ErrorKind::kMalformedFile, model_path + ": no tokenizer.json in the model directory");
    }
    const fs::path config = dir / "tokenizer_config.json";
    std::optional<std::string> config_path;
    if (fs::exists(config, ec)) config_path = config.string();
    return load_tokenizer_json(json.string(), config_path);
  }
  if (!fs::exists(model_path, ec)) return Status(ErrorKind::kIo, "no such file or directory: " + model_path);
  if (has_gguf_magic(model_path)) {
    auto gguf = model_files::GgufFile::open(model_path);
    if (!gguf.ok()) return gguf.status();
    return load_tokenizer_gguf(*gguf);
  }
  return load_tokenizer_json(model_path);
}

Result<std::shared_ptr<const Tokenizer>> load_tokenizer_json(const std::string& tokenizer_json_path,
                                                             const std::optional<std::string>& tokenizer_config_path) {
  auto json = read_file(tokenizer_json_path);
  if (!json.ok()) return json.status();
  std::string config;
  if (tokenizer_config_path) {
    auto c = read_file(*tokenizer_config_path);
    if (!c.ok()) return c.status();
    config = std::move(*c);
  }
  return parse_tokenizer_json(*json, config, tokenizer_json_path);
}

}  // namespace tandem::text
