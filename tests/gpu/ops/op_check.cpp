#include "gpu/ops/op_check.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "engine/cpu/half.h"

namespace tandem::gpu_ops {
namespace {

struct Summary {
  int cases = 0;
  int failed = 0;
  double worst_ratio = 0.0;
  std::string worst_case;
};

Summary& summary() {
  static Summary s;
  return s;
}

void count_case(const std::string& name, double ratio, bool passed) {
  Summary& s = summary();
  ++s.cases;
  if (!passed) ++s.failed;
  if (ratio > s.worst_ratio || s.worst_case.empty()) {
    s.worst_ratio = ratio;
    s.worst_case = name;
  }
}

// Printed once after the last test (not when only listing tests).
class SummaryEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    const Summary& s = summary();
    if (s.cases == 0) {
      std::printf("op checks: no case compared\n");
      return;
    }
    std::printf("op checks: %d cases compared, %d over their bound; worst error/bound %.3f (%s)\n", s.cases, s.failed,
                s.worst_ratio, s.worst_case.c_str());
  }
};

[[maybe_unused]] ::testing::Environment* const kSummaryEnvironment =
    ::testing::AddGlobalTestEnvironment(new SummaryEnvironment);

// splitmix64: a counter-based generator, so value i needs no state from value i - 1.
uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float uniform_at(uint64_t seed, size_t i, float lo, float hi) {
  const uint64_t bits = mix(mix(seed) ^ static_cast<uint64_t>(i));
  const float u = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
  return lo + (hi - lo) * u;
}

double ratio_to(double err, double bound) {
  if (bound > 0.0) return err / bound;
  return err == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
}

constexpr size_t kGrain = size_t{1} << 20;

}  // namespace

const std::string& cuda_device_missing() {
  static const std::string why = [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      return std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    }
    if (n == 0) return std::string("cudaGetDeviceCount found 0 devices");
    return std::string();
  }();
  return why;
}

std::string test_name(const std::string& label) {
  std::string s = label;
  for (char& ch : s) {
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
    if (!keep) ch = '_';
  }
  return s;
}

void check_cuda(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) {
    throw std::runtime_error("cuda: " + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

void require(const Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error(what + ": " + s.to_string());
}

void sync(const std::string& what) { check_cuda(cudaDeviceSynchronize(), what); }

engine::cpu::ThreadPool& host_pool() {
  static engine::cpu::ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return pool;
}

uint64_t seed_of(const std::string& label) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : label) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

std::vector<float> random_f32(size_t n, float lo, float hi, uint64_t seed) {
  std::vector<float> v(n);
  parallel_ranges(n, kGrain, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) v[i] = uniform_at(seed, i, lo, hi);
  });
  return v;
}

std::vector<uint16_t> random_bf16(size_t n, float lo, float hi, uint64_t seed) {
  std::vector<uint16_t> v(n);
  parallel_ranges(n, kGrain, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) v[i] = engine::cpu::f32_to_bf16(uniform_at(seed, i, lo, hi));
  });
  return v;
}

std::vector<float> bf16_to_f32(std::span<const uint16_t> bits) {
  std::vector<float> v(bits.size());
  parallel_ranges(bits.size(), kGrain, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) v[i] = engine::cpu::bf16_to_f32(bits[i]);
  });
  return v;
}

std::vector<uint16_t> f32_to_bf16(std::span<const float> values) {
  std::vector<uint16_t> v(values.size());
  parallel_ranges(values.size(), kGrain, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) v[i] = engine::cpu::f32_to_bf16(values[i]);
  });
  return v;
}

Comparison compare(std::span<const float> got, std::span<const float> want, size_t row_len, const Tolerance& tol,
                   const std::string& label) {
  if (got.size() != want.size()) {
    throw std::runtime_error("compare: " + std::to_string(got.size()) + " values against " +
                             std::to_string(want.size()));
  }
  const std::string prefix = label.empty() ? std::string() : label + " ";
  const size_t len = row_len == 0 ? std::max<size_t>(want.size(), 1) : row_len;
  Comparison c;
  c.values = static_cast<int64_t>(want.size());
  double worst = -1.0;
  for (size_t row = 0; row * len < want.size(); ++row) {
    double max_err = 0.0, max_ref = 0.0, err2 = 0.0, ref2 = 0.0;
    const size_t end = std::min(want.size(), (row + 1) * len);
    for (size_t i = row * len; i < end; ++i) {
      const double g = got[i], w = want[i];
      if (!std::isfinite(g) && std::isfinite(w)) {
        if (c.non_finite++ == 0)
          c.where = prefix + "row " + std::to_string(row) + " index " + std::to_string(i - row * len) + " not finite";
        continue;
      }
      const double d = std::fabs(g - w);
      max_err = std::max(max_err, d);
      max_ref = std::max(max_ref, std::fabs(w));
      err2 += d * d;
      ref2 += w * w;
    }
    const double max_abs = max_err / std::max(max_ref, 1e-30);
    const double rel_l2 = std::sqrt(err2) / std::max(std::sqrt(ref2), 1e-30);
    c.max_abs = std::max(c.max_abs, max_abs);
    c.rel_l2 = std::max(c.rel_l2, rel_l2);
    const double ratio = std::max(ratio_to(max_abs, tol.max_abs), ratio_to(rel_l2, tol.rel_l2));
    if (ratio > worst && c.non_finite == 0) {
      worst = ratio;
      c.where = prefix + "row " + std::to_string(row);
    }
  }
  return c;
}

void merge(Comparison& into, const Comparison& c, const Tolerance& tol) {
  const double into_ratio = std::max(ratio_to(into.max_abs, tol.max_abs), ratio_to(into.rel_l2, tol.rel_l2));
  const double c_ratio = std::max(ratio_to(c.max_abs, tol.max_abs), ratio_to(c.rel_l2, tol.rel_l2));
  const bool take_where = into.where.empty() || (c.non_finite > 0 && into.non_finite == 0) ||
                          (into.non_finite == 0 && c_ratio > into_ratio);
  if (take_where) into.where = c.where;
  into.max_abs = std::max(into.max_abs, c.max_abs);
  into.rel_l2 = std::max(into.rel_l2, c.rel_l2);
  into.non_finite += c.non_finite;
  into.values += c.values;
}

bool expect_within(const std::string& name, const Comparison& c, const Tolerance& tol) {
  const bool passed = c.non_finite == 0 && c.max_abs <= tol.max_abs && c.rel_l2 <= tol.rel_l2;
  const double ratio = c.non_finite > 0 ? std::numeric_limits<double>::infinity()
                                        : std::max(ratio_to(c.max_abs, tol.max_abs), ratio_to(c.rel_l2, tol.rel_l2));
  std::printf("  %-64s max_abs %.2e (<= %.1e) rel_l2 %.2e (<= %.1e) %9lld values %s%s%s\n", name.c_str(), c.max_abs,
              tol.max_abs, c.rel_l2, tol.rel_l2, static_cast<long long>(c.values), passed ? "ok" : "FAIL",
              passed ? "" : " at ", passed ? "" : c.where.c_str());
  if (c.non_finite > 0) {
    ADD_FAILURE() << name << ": " << c.non_finite << " values not finite (first: " << c.where << ")";
  } else if (!passed) {
    ADD_FAILURE() << name << ": max_abs " << c.max_abs << " (bound " << tol.max_abs << "), rel_l2 " << c.rel_l2
                  << " (bound " << tol.rel_l2 << "), worst at " << c.where << "; bound: " << tol.why;
  }
  count_case(name, ratio, passed);
  return passed;
}

bool expect_close(const std::string& name, std::span<const float> got, std::span<const float> want, size_t row_len,
                  const Tolerance& tol) {
  return expect_within(name, compare(got, want, row_len, tol), tol);
}

namespace {

template <class T>
bool untouched(const std::string& name, std::span<const T> got, std::span<const T> before) {
  if (got.size() != before.size()) throw std::runtime_error(name + ": untouched check of different sizes");
  int64_t changed = 0, first = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != before[i] && changed++ == 0) first = static_cast<int64_t>(i);
  }
  const bool passed = changed == 0;
  std::printf("  %-64s %lld of %zu values differ %s\n", name.c_str(), static_cast<long long>(changed), got.size(),
              passed ? "ok" : "FAIL");
  if (!passed) {
    ADD_FAILURE() << name << ": " << changed << " values differ from what must be there (first at index " << first
                  << ")";
  }
  count_case(name, passed ? 0.0 : std::numeric_limits<double>::infinity(), passed);
  return passed;
}

}  // namespace

bool expect_untouched(const std::string& name, std::span<const uint16_t> got, std::span<const uint16_t> before) {
  return untouched(name, got, before);
}

bool expect_untouched(const std::string& name, std::span<const uint32_t> got, std::span<const uint32_t> before) {
  return untouched(name, got, before);
}

}  // namespace tandem::gpu_ops
