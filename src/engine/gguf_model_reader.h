// engine::read_gguf_model: a parsed GGUF file -> LoadedModel (spec from
// `<arch>.*` metadata, defaults from tokenizer.ggml.* / general.sampling.*,
// chat template from tokenizer.chat_template, weights by llama.cpp tensor
// names). Used by model_loader; separate so tests can feed in-memory files.
//
// Architectures: general.architecture "llama" (Llama, Mistral and SmolLM2
// convert to it; Q/K rows are un-permuted), "mistral", "qwen2", "qwen3"
// (not permuted). Tied embeddings when output.weight is absent. Llama 3 rope
// scaling comes from `<arch>.rope.scaling.*` or is recovered from the
// rope_freqs tensor (checked against the llama3 formula).
#pragma once

#include <functional>
#include <optional>

#include "common/status.h"
#include "engine/model_loader.h"
#include "model_files/gguf_file.h"

namespace tandem::engine {

// `dtype` nullopt: spec/defaults/template only (no weights converted).
Result<LoadedModel> read_gguf_model(const model_files::GgufFile& file, std::optional<DType> dtype,
                                    const std::function<void(float)>& progress = {});

}  // namespace tandem::engine
