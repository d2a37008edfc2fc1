#include "engine/cpu/layer_ops.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tandem::engine::cpu {

void rms_norm(const float* x, const float* w, float eps, int n, float* out) {
  double ss = 0.0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / n + static_cast<double>(eps)));
  for (int i = 0; i < n; ++i) out[i] = (x[i] * inv) * w[i];
}

std::vector<double> rope_inv_freq(int head_dim, const RopeConfig& rope) {
  const int half = head_dim / 2;
  std::vector<double> f(half);
  for (int i = 0; i < half; ++i) {
    f[i] = 1.0 / std::pow(static_cast<double>(rope.theta), (2.0 * i) / head_dim);
  }
  switch (rope.scaling) {
    case RopeScalingType::kNone: break;
    case RopeScalingType::kLinear:
      for (double& v : f) v /= rope.factor;
      break;
    case RopeScalingType::kLlama3: {
      const double old_len = rope.original_max_position;
      const double low_wavelen = old_len / rope.low_freq_factor;
      const double high_wavelen = old_len / rope.high_freq_factor;
      for (double& v : f) {
        const double wavelen = 2.0 * std::numbers::pi / v;
        if (wavelen < high_wavelen) continue;  // high frequency: unchanged
        if (wavelen > low_wavelen) {           // low frequency: scaled
          v /= rope.factor;
          continue;
        }
        const double smooth =
            (old_len / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
        v = (1.0 - smooth) * v / rope.factor + smooth * v;
      }
      break;
    }
  }
  return f;
}

void rope_cos_sin(const std::vector<double>& inv_freq, int64_t pos, float* cos_out, float* sin_out) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const double a = static_cast<double>(pos) * inv_freq[i];
    cos_out[i] = static_cast<float>(std::cos(a));
    sin_out[i] = static_cast<float>(std::sin(a));
  }
}

void rope_apply(float* x, const float* cos_v, const float* sin_v, int head_dim) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; ++i) {
    const float a = x[i];
    const float b = x[i + half];
    x[i] = a * cos_v[i] - b * sin_v[i];
    x[i + half] = b * cos_v[i] + a * sin_v[i];
  }
}

void silu_mul(const float* gate, const float* up, int n, float* out) {
  for (int i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax_in_place(float* s, int n) {
  float m = s[0];
  for (int p = 1; p < n; ++p) m = std::max(m, s[p]);
  double sum = 0.0;
  for (int p = 0; p < n; ++p) {
    s[p] = std::exp(s[p] - m);
    sum += s[p];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int p = 0; p < n; ++p) s[p] *= inv;
}

}  // namespace tandem::engine::cpu
