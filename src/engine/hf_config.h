// Parsers for the JSON files of a Hugging Face model directory, from text
// (so they are testable without files): config.json -> ModelSpec,
// generation_config.json -> GenerationDefaults, tokenizer_config.json ->
// chat template. `file` names the file in error messages.
//
// Failure: kMalformedFile (not JSON, a required key missing or of the wrong
// type — the message names the key), kUnsupported (architecture, activation,
// rope scaling type, biases the runners do not implement).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/model_spec.h"

namespace tandem::engine {

struct HfConfig {
  ModelSpec spec;  // tied_embeddings from the key, false when absent
  std::optional<bool> tie_word_embeddings;
  GenerationDefaults defaults;  // bos/eos ids given in config.json
};

// config.json: architectures[0] (or model_type) among LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM; hidden_size,
// num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
// intermediate_size, vocab_size, max_position_embeddings, rms_norm_eps,
// rope_theta, rope_scaling or transformers 5's rope_parameters (linear,
// llama3), tie_word_embeddings, sliding
// window (Mistral: max_position is capped at the window, since runners attend
// to the full context).
Result<HfConfig> parse_hf_config(std::string_view json, const std::string& file);

// generation_config.json: eos_token_id (int or list), bos_token_id,
// temperature, top_p, top_k, min_p, repetition_penalty. Keys present replace
// those in `defaults`; null values are ignored.
Status apply_generation_config(std::string_view json, const std::string& file, GenerationDefaults& defaults);

// tokenizer_config.json: chat_template as a string, or a list of {name,
// template} where "default" wins (else the first). nullopt when absent.
Result<std::optional<std::string>> parse_chat_template(std::string_view json, const std::string& file);

}  // namespace tandem::engine
