// What a model is: architecture and hyper-parameters, independent of file
// format and backend. Filled by the loaders (gguf, safetensors/HF directory),
// read by every Runner.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::engine {

// Llama-family decoder-only transformers. Anything else is refused at load.
enum class Architecture {
  kLlama,    // Llama 1/2/3/3.1, SmolLM2 (LlamaForCausalLM)
  kMistral,  // MistralForCausalLM
  kQwen2,    // Qwen2/2.5: QKV bias
  kQwen3,    // Qwen3: q/k RMSNorm per head
};

const char* architecture_name(Architecture arch);

enum class RopeScalingType {
  kNone,
  kLinear,  // positions divided by factor
  kLlama3,  // Llama 3.1 frequency-dependent scaling
};

struct RopeConfig {
  float theta = 10000.0f;
  RopeScalingType scaling = RopeScalingType::kNone;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;      // llama3
  float high_freq_factor = 4.0f;     // llama3
  int original_max_position = 8192;  // llama3
};

struct ModelSpec {
  Architecture arch = Architecture::kLlama;
  int n_layers = 0;
  int hidden = 0;        // d_model
  int n_heads = 0;       // query heads
  int n_kv_heads = 0;    // key/value heads (GQA when < n_heads)
  int head_dim = 0;      // usually hidden / n_heads (Qwen3: explicit)
  int intermediate = 0;  // MLP hidden size
  int vocab = 0;         // rows of the embedding table / logits width
  int max_position = 0;  // trained context length
  float rms_eps = 1e-6f;
  RopeConfig rope;
  bool qkv_bias = false;  // Qwen2
  bool qk_norm = false;   // Qwen3
  bool tied_embeddings = false;
};

// Defaults from generation_config.json (or GGUF metadata); unset fields stay
// negative / empty so the frontend can fall back to OpenAI's defaults.
struct GenerationDefaults {
  float temperature = -1.0f;
  float top_p = -1.0f;
  int top_k = -1;
  float min_p = -1.0f;
  float repetition_penalty = -1.0f;
  std::vector<int32_t> eos_token_ids;  // every id that ends generation
  int32_t bos_token_id = -1;
};

}  // namespace tandem::engine
