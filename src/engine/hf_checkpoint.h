// engine::read_hf_checkpoint: a Hugging Face model directory -> LoadedModel.
//
// Files: config.json (required); weights from model.safetensors.index.json
// (weight_map: tensor -> shard file in the same directory), else
// model.safetensors, else every *.safetensors in the directory;
// generation_config.json, tokenizer_config.json (chat_template),
// chat_template.jinja (used when tokenizer_config.json has no template).
// Safetensors dtypes F32, F16 and BF16 are converted to the requested dtype.
//
// Failure: kIo (missing config.json or weights, unreadable files),
// kMalformedFile (bad JSON, an index naming a shard that is absent or not a
// plain file name, a tensor missing from its shard, wrong shapes),
// kUnsupported (architecture, dtype). Messages name the file and key/tensor.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/model_loader.h"

namespace tandem::engine {

// `dtype` nullopt: spec/defaults/template only (safetensors headers are read
// to decide tied embeddings, weights are not converted).
Result<LoadedModel> read_hf_checkpoint(const std::string& dir, std::optional<DType> dtype,
                                       const std::function<void(float)>& progress = {});

}  // namespace tandem::engine
