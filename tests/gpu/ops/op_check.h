// The one comparison harness of the CUDA op checks (docs/style.md rule 13): each op
// runs on the device and through its CPU twin (cpu_twins.h, the CPU backend's
// own code) on the same inputs, and compare() measures the difference against
// a bound stated, with its reason, in the op's case table.
//
// What an op check gets from here:
//   - OpTest<Case>: a parameterized GoogleTest fixture whose SetUp skips the
//     test with "no CUDA device: ..." where cudaGetDeviceCount fails or finds
//     none. Listing the tests (gtest_discover_tests at build time) touches no
//     device: case tables are plain host data.
//   - DeviceArray<T>: one device allocation with upload / download; bf16 data
//     travels as its bits (uint16_t) and bf16_ptr() hands it to a kernel.
//   - Deterministic inputs: random_f32 / random_bf16 are pure functions of
//     (seed, index), the same on every run and for any thread count.
//   - Tolerance, compare(), expect_within(): per-row max-abs and relative-L2
//     error, one line printed per case, counted for the summary printed when
//     the run ends ("op checks: N cases, F over their bound, ...").
// Harness failures (a CUDA error, a launch returning a non-ok Status) throw
// std::runtime_error, which GoogleTest reports as that test's failure.
//
// Threads: the test thread only; host_pool() is used from it alone.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/cpu/thread_pool.h"
#include "engine/cuda/device_buffer.h"

namespace tandem::gpu_ops {

// Empty when a CUDA device is usable, else why not (asked once per process).
const std::string& cuda_device_missing();

// A parameterized op check: skips without a device.
template <class Case>
class OpTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (const std::string& why = cuda_device_missing(); !why.empty()) GTEST_SKIP() << "no CUDA device: " << why;
  }
};

// GoogleTest parameter names: the case's label with every character outside [A-Za-z0-9_] made '_'.
std::string test_name(const std::string& label);

// Throw std::runtime_error naming `what` when the call failed.
void check_cuda(cudaError_t e, const std::string& what);
void require(const Status& s, const std::string& what);
// cudaDeviceSynchronize, then check_cuda: a kernel's asynchronous fault surfaces here.
void sync(const std::string& what);

template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) : n_(n) {
    require(buf_.allocate(std::max<size_t>(n, 1) * sizeof(T), "op check buffer"), "allocate");
  }
  explicit DeviceArray(std::span<const T> host) : DeviceArray(host.size()) { upload(host); }

  void upload(std::span<const T> host) {
    if (host.size() != n_) throw std::runtime_error("DeviceArray::upload: size mismatch");
    check_cuda(cudaMemcpy(get(), host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    check_cuda(cudaMemcpy(host.data(), get(), n_ * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return host;
  }
  T* get() const { return buf_.get<T>(); }
  size_t size() const { return n_; }

 private:
  engine::cuda::DeviceBuffer buf_;
  size_t n_ = 0;
};

inline __nv_bfloat16* bf16_ptr(const DeviceArray<uint16_t>& a) { return reinterpret_cast<__nv_bfloat16*>(a.get()); }

// The process-wide host pool for references and input generation (all hardware threads).
engine::cpu::ThreadPool& host_pool();
// fn(begin, end) over [0, n) in pieces of `grain`, on host_pool().
template <class Fn>
void parallel_ranges(size_t n, size_t grain, Fn&& fn) {
  const size_t pieces = (n + grain - 1) / grain;
  host_pool().parallel_for(static_cast<int>(pieces), [&](int task, int) {
    const size_t begin = static_cast<size_t>(task) * grain;
    fn(begin, std::min(n, begin + grain));
  });
}

// A fixed seed per case, from its label (FNV-1a): inputs differ between cases, never between runs.
uint64_t seed_of(const std::string& label);
// Uniform values in [lo, hi); value i depends only on (seed, i).
std::vector<float> random_f32(size_t n, float lo, float hi, uint64_t seed);
// The same values rounded to bf16 (nearest even), as bits.
std::vector<uint16_t> random_bf16(size_t n, float lo, float hi, uint64_t seed);
std::vector<float> bf16_to_f32(std::span<const uint16_t> bits);
std::vector<uint16_t> f32_to_bf16(std::span<const float> values);
inline constexpr uint16_t kBf16NaN = 0xFFFF;  // a NaN bit pattern for poisoned outputs and pool slots

// Bounds of one case, per row of values (a token's output vector, a head's
// attention output, ...): both must hold in every row.
struct Tolerance {
  double max_abs;   // max |got - want| / max |want|
  double rel_l2;    // ||got - want||_2 / ||want||_2
  const char* why;  // one line: where the difference between device and CPU twin comes from
};

// Worst row of one comparison (or of several merged).
struct Comparison {
  double max_abs = 0.0;    // the largest per-row max-abs ratio
  double rel_l2 = 0.0;     // the largest per-row relative L2 error
  int64_t non_finite = 0;  // values NaN or infinite on the device where the CPU twin's are finite
  int64_t values = 0;      // values compared
  std::string where;       // the row holding the worst error relative to its bound
};

// Compares got with want (same size) in rows of row_len values (0: one row).
// `label` prefixes `where` (e.g. "n=3").
Comparison compare(std::span<const float> got, std::span<const float> want, size_t row_len, const Tolerance& tol,
                   const std::string& label = {});
// Keeps the worse of two comparisons (per metric; `where` of the worse ratio to its bound).
void merge(Comparison& into, const Comparison& c, const Tolerance& tol);

// Prints "name: max_abs A (<= B) rel_l2 C (<= D) [N values] ok|FAIL (where)", counts the case for the summary,
// and adds a GoogleTest failure when a bound is exceeded or a value is not finite. Returns whether it passed.
bool expect_within(const std::string& name, const Comparison& c, const Tolerance& tol);
// compare() + expect_within() for one case.
bool expect_close(const std::string& name, std::span<const float> got, std::span<const float> want, size_t row_len,
                  const Tolerance& tol);
// Bitwise equality with what must be there: memory the op must not write (rows past n, pool slots of other
// tokens) or state it must restore (decode split counters back to 0). Printed and counted like a case; returns
// whether it passed.
bool expect_untouched(const std::string& name, std::span<const uint16_t> got, std::span<const uint16_t> before);
bool expect_untouched(const std::string& name, std::span<const uint32_t> got, std::span<const uint32_t> before);

}  // namespace tandem::gpu_ops
