#include "engine/hf_checkpoint.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "engine/hf_config.h"
#include "engine/loader_checks.h"
#include "engine/weight_loader.h"
#include "model_files/safetensors_file.h"

namespace tandem::engine {

using model_files::GgmlType;
using model_files::SafetensorsFile;
using model_files::SafetensorsTensorInfo;

namespace fs = std::filesystem;

namespace {

constexpr uintmax_t kMaxJsonFileBytes = 64u << 20;

// Reads a whole small text file; nullopt when it does not exist.
Result<std::optional<std::string>> read_optional(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<std::string>();
  if (!fs::is_regular_file(path, ec)) return Status(ErrorKind::kIo, path.string() + ": not a regular file");
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return Status(ErrorKind::kIo, path.string() + ": " + ec.message());
  if (size > kMaxJsonFileBytes) {
    return Status(ErrorKind::kMalformedFile,
                  path.string() + ": larger than " + std::to_string(kMaxJsonFileBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorKind::kIo, path.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status(ErrorKind::kIo, path.string() + ": read error");
  return std::optional<std::string>(ss.str());
}

// The set of shard files and, with an index, which shard holds each tensor.
struct Shards {
  std::vector<std::string> files;                 // in order of first mention
  std::map<std::string, std::string> weight_map;  // empty without an index
  bool indexed = false;
};

Result<Shards> find_shards(const fs::path& dir) {
  Shards s;
  const fs::path index_path = dir / "model.safetensors.index.json";
  auto index = read_optional(index_path);
  if (!index.ok()) return index.status();
  if (index.value()) {
    const std::string name = index_path.string();
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(*index.value(), ec);
    if (ec) return Status(ErrorKind::kMalformedFile, name + ": not valid JSON: " + ec.message());
    const boost::json::object* root = v.if_object();
    const boost::json::value* wm = root ? root->if_contains("weight_map") : nullptr;
    if (wm == nullptr || !wm->is_object()) {
      return Status(ErrorKind::kMalformedFile, name + ": key 'weight_map' is missing or not an object");
    }
    for (const auto& kv : wm->as_object()) {
      if (!kv.value().is_string()) {
        return Status(ErrorKind::kMalformedFile,
                      name + ": weight_map entry '" + std::string(kv.key()) + "' is not a file name");
      }
      std::string shard(kv.value().as_string());
      if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
          shard == "." || shard == "..") {
        return Status(ErrorKind::kMalformedFile, name + ": weight_map entry '" + std::string(kv.key()) + "' names '" +
                                                     shard +
                                                     "', which is not a plain file name in the model directory");
      }
      if (std::find(s.files.begin(), s.files.end(), shard) == s.files.end()) s.files.push_back(shard);
      s.weight_map[std::string(kv.key())] = shard;
    }
    std::error_code fec;
    for (const std::string& shard : s.files) {
      if (!fs::is_regular_file(dir / shard, fec)) {
        return Status(ErrorKind::kMalformedFile, name + ": names shard '" + shard + "', which does not exist");
      }
    }
    s.indexed = true;
    return s;
  }
  std::error_code ec;
  if (fs::is_regular_file(dir / "model.safetensors", ec)) {
    s.files.push_back("model.safetensors");
    return s;
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".safetensors") s.files.push_back(e.path().filename().string());
  }
  std::sort(s.files.begin(), s.files.end());
  if (s.files.empty()) {
    return Status(ErrorKind::kIo, dir.string() + ": no model.safetensors, index or *.safetensors weights");
  }
  return s;
}

Result<GgmlType> ggml_type_of(const SafetensorsFile& f, const SafetensorsTensorInfo& t) {
  if (t.dtype == "F32") return GgmlType::kF32;
  if (t.dtype == "F16") return GgmlType::kF16;
  if (t.dtype == "BF16") return GgmlType::kBF16;
  return Status(ErrorKind::kUnsupported,
                f.name() + ": tensor '" + t.name + "' has dtype " + t.dtype + " (F32, F16 and BF16 are supported)");
}

}  // namespace

Result<LoadedModel> read_hf_checkpoint(const std::string& dir_str, std::optional<DType> dtype,
                                       const std::function<void(float)>& progress) {
  const fs::path dir(dir_str);
  LoadedModel m;
  m.format = "safetensors";
  m.path = dir_str;

  const fs::path config_path = dir / "config.json";
  auto config_text = read_optional(config_path);
  if (!config_text.ok()) return config_text.status();
  if (!config_text.value()) return Status(ErrorKind::kIo, config_path.string() + ": missing");
  auto cfg = parse_hf_config(*config_text.value(), config_path.string());
  if (!cfg.ok()) return cfg.status();
  m.spec = cfg->spec;
  m.defaults = cfg->defaults;

  const fs::path gen_path = dir / "generation_config.json";
  auto gen_text = read_optional(gen_path);
  if (!gen_text.ok()) return gen_text.status();
  if (gen_text.value()) {
    Status st = apply_generation_config(*gen_text.value(), gen_path.string(), m.defaults);
    if (!st.ok()) return st;
  }

  const fs::path tok_path = dir / "tokenizer_config.json";
  auto tok_text = read_optional(tok_path);
  if (!tok_text.ok()) return tok_text.status();
  if (tok_text.value()) {
    auto tmpl = parse_chat_template(*tok_text.value(), tok_path.string());
    if (!tmpl.ok()) return tmpl.status();
    if (tmpl.value()) m.chat_template = *tmpl.value();
  }
  if (m.chat_template.empty()) {
    auto jinja = read_optional(dir / "chat_template.jinja");
    if (!jinja.ok()) return jinja.status();
    if (jinja.value()) m.chat_template = *jinja.value();
  }

  auto shards = find_shards(dir);
  if (!shards.ok()) return shards.status();
  std::map<std::string, SafetensorsFile> files;
  for (const std::string& name : shards->files) {
    auto f = SafetensorsFile::open((dir / name).string());
    if (!f.ok()) return f.status();
    files.emplace(name, std::move(f.value()));
  }

  // Locates a tensor: through the index when there is one, else in any file.
  auto locate = [&](const std::string& hf) -> Result<std::pair<const SafetensorsFile*, const SafetensorsTensorInfo*>> {
    using Found = std::pair<const SafetensorsFile*, const SafetensorsTensorInfo*>;
    if (shards->indexed) {
      auto it = shards->weight_map.find(hf);
      if (it == shards->weight_map.end()) return Found{nullptr, nullptr};
      const SafetensorsFile& f = files.at(it->second);
      const SafetensorsTensorInfo* t = f.find_tensor(hf);
      if (t == nullptr) {
        return Status(ErrorKind::kMalformedFile, (dir / "model.safetensors.index.json").string() + ": tensor '" + hf +
                                                     "' is mapped to shard '" + it->second + "', which lacks it");
      }
      return Found{&f, t};
    }
    for (const auto& [name, f] : files) {
      if (const SafetensorsTensorInfo* t = f.find_tensor(hf)) return Found{&f, t};
    }
    return Found{nullptr, nullptr};
  };

  auto lm_head = locate("lm_head.weight");
  if (!lm_head.ok()) return lm_head.status();
  if (!cfg->tie_word_embeddings) m.spec.tied_embeddings = lm_head->second == nullptr;
  Status st = check_spec(m.spec, config_path.string());
  if (!st.ok()) return st;
  if (!dtype) return m;

  TensorSource source = [&](const std::string& hf) -> Result<std::optional<SourceTensor>> {
    auto found = locate(hf);
    if (!found.ok()) return found.status();
    if (found->second == nullptr) return std::optional<SourceTensor>();
    const SafetensorsFile& f = *found->first;
    const SafetensorsTensorInfo& info = *found->second;
    auto type = ggml_type_of(f, info);
    if (!type.ok()) return type.status();
    SourceTensor t;
    t.file = f.name();
    t.name = info.name;
    t.type = type.value();
    t.shape = info.shape;
    t.data = f.tensor_data(info);
    return std::optional<SourceTensor>(std::move(t));
  };
  WeightLoadOptions opts;
  opts.dtype = *dtype;
  opts.progress = progress;
  opts.model_name = dir_str;
  auto weights = load_weights(m.spec, source, opts);
  if (!weights.ok()) return weights.status();
  m.weights = std::move(weights.value());
  return m;
}

}  // namespace tandem::engine
