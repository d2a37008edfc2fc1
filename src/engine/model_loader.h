// engine::load_model / inspect_model: the one entry point that turns a model
// path into a ModelSpec, host weights (HF conventions, see model_weights.h),
// generation defaults and the chat template.
//
// `path` is either a GGUF file (v2/v3) or a Hugging Face directory holding
// config.json, model.safetensors or shards named by
// model.safetensors.index.json, and optionally generation_config.json and
// tokenizer_config.json (chat_template) / chat_template.jinja.
//
// Supported: Llama 1/2/3/3.1 (+ llama3 rope scaling), Mistral, Qwen2/2.5,
// Qwen3, SmolLM2; tied or untied embeddings. Anything else fails with
// kUnsupported naming the architecture. GGUF tensor types F32, F16, BF16,
// Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K and safetensors F32/F16/BF16 are
// converted to the requested dtype (F32 for the CPU runner, BF16 for CUDA).
//
// Failure: kIo (missing/unreadable files), kMalformedFile (bad file, missing
// key or tensor, wrong shape; the message names the file and key/tensor),
// kUnsupported (architecture, dtype, feature). Never crashes on bad input.
//
// Threads: reentrant; blocking (reads and converts every weight). `progress`
// is called on the calling thread with a fraction in [0, 1], non-decreasing,
// last call 1.0 on success.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "engine/model_spec.h"
#include "engine/model_weights.h"

namespace tandem::engine {

struct LoadedModel {
  ModelSpec spec;
  ModelWeights weights;  // empty (no layers) from inspect_model
  GenerationDefaults defaults;
  std::string chat_template;  // empty when the model has none
  std::string format;         // "gguf" | "safetensors"
  std::string path;
};

Result<LoadedModel> load_model(const std::string& path, DType dtype, std::function<void(float)> progress = {});

// Spec, defaults and chat template only; reads headers, not weights.
Result<LoadedModel> inspect_model(const std::string& path);

}  // namespace tandem::engine
