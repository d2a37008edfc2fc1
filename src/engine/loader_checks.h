// Sanity limits on model hyper-parameters read from files, checked before any
// allocation that depends on them (a hostile config must not make the loader
// allocate absurd memory or divide by zero).
#pragma once

#include <string>

#include "common/status.h"
#include "engine/model_spec.h"

namespace tandem::engine {

// kMalformedFile naming `file` and the field when a value is non-positive,
// inconsistent (n_heads not a multiple of n_kv_heads, odd head_dim) or beyond
// generous limits (layers <= 1024, hidden/intermediate <= 2^17, vocab <= 2^22,
// heads <= 1024, head_dim <= 1024, max_position <= 2^24).
Status check_spec(const ModelSpec& spec, const std::string& file);

}  // namespace tandem::engine
