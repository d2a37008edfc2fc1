// Element-wise pieces of the Llama-family layer, one row at a time, float32.
// Each is a plain function of its inputs (no threads, no state) so the runner
// can call it from any pool task and tests can compare it with the formula.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model_spec.h"

namespace tandem::engine::cpu {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], i < n (sum of squares in double,
// in index order). out may alias x.
void rms_norm(const float* x, const float* w, float eps, int n, float* out);

// Rotary inverse frequencies for one head, [head_dim / 2]:
// theta^(-2i/head_dim), then the spec's scaling (linear: / factor; llama3:
// Llama 3.1's wavelength-dependent blend).
std::vector<double> rope_inv_freq(int head_dim, const RopeConfig& rope);

// cos/sin of pos * inv_freq[i] for one position, [head_dim / 2] each.
void rope_cos_sin(const std::vector<double>& inv_freq, int64_t pos, float* cos_out, float* sin_out);

// Rotate-half RoPE (Hugging Face convention) of one head vector [head_dim] in
// place: pairs (x[i], x[i + head_dim/2]) are rotated by angle i.
void rope_apply(float* x, const float* cos_v, const float* sin_v, int head_dim);

// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). out may alias gate.
void silu_mul(const float* gate, const float* up, int n, float* out);

// Softmax of s[0..n) in place (n >= 1): max-subtracted exponentials, summed in double.
void softmax_in_place(float* s, int n);

}  // namespace tandem::engine::cpu
