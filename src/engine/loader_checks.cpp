#include "engine/loader_checks.h"

#include <cmath>
#include <cstdint>

namespace tandem::engine {

namespace {
Status range(const std::string& file, const char* field, int64_t v, int64_t hi) {
  if (v <= 0 || v > hi) {
    return Status(ErrorKind::kMalformedFile,
                  file + ": " + field + " = " + std::to_string(v) + " is outside [1, " + std::to_string(hi) + "]");
  }
  return Status::ok_status();
}
}  // namespace

Status check_spec(const ModelSpec& s, const std::string& file) {
  const struct {
    const char* field;
    int64_t v;
    int64_t hi;
  } checks[] = {
      {"n_layers", s.n_layers, 1024}, {"hidden", s.hidden, 1 << 17},
      {"n_heads", s.n_heads, 1024},   {"n_kv_heads", s.n_kv_heads, 1024},
      {"head_dim", s.head_dim, 1024}, {"intermediate", s.intermediate, 1 << 17},
      {"vocab", s.vocab, 1 << 22},    {"max_position", s.max_position, 1 << 24},
  };
  for (const auto& c : checks) {
    Status st = range(file, c.field, c.v, c.hi);
    if (!st.ok()) return st;
  }
  if (s.n_heads % s.n_kv_heads != 0) {
    return Status(ErrorKind::kMalformedFile, file + ": n_heads " + std::to_string(s.n_heads) +
                                                 " is not a multiple of n_kv_heads " + std::to_string(s.n_kv_heads));
  }
  if (s.head_dim % 2 != 0) {
    return Status(ErrorKind::kMalformedFile, file + ": head_dim " + std::to_string(s.head_dim) + " is odd");
  }
  if (!(s.rms_eps > 0.0f) || !std::isfinite(s.rms_eps)) {
    return Status(ErrorKind::kMalformedFile, file + ": rms_norm_eps must be a positive number");
  }
  if (!(s.rope.theta > 0.0f) || !std::isfinite(s.rope.theta)) {
    return Status(ErrorKind::kMalformedFile, file + ": rope theta must be a positive number");
  }
  if (s.rope.scaling != RopeScalingType::kNone && (!(s.rope.factor > 0.0f) || !std::isfinite(s.rope.factor))) {
    return Status(ErrorKind::kMalformedFile, file + ": rope scaling factor must be a positive number");
  }
  if (s.rope.scaling == RopeScalingType::kLlama3 &&
      (!(s.rope.high_freq_factor > s.rope.low_freq_factor) || !(s.rope.low_freq_factor > 0.0f) ||
       s.rope.original_max_position <= 0)) {
    return Status(ErrorKind::kMalformedFile,
                  file +
                      ": llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and "
                      "original_max_position_embeddings > 0");
  }
  return Status::ok_status();
}

}  // namespace tandem::engine
