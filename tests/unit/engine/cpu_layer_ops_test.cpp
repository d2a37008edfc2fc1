// Element-wise layer pieces against their formulas, and the thread pool.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <numbers>
#include <random>

#include "engine/cpu/layer_ops.h"
#include "engine/cpu/thread_pool.h"

namespace tandem::engine::cpu {
namespace {

TEST(CpuLayerOpsTest, RmsNormWorkedExample) {
  // x = [1, 2, 3, 4]: mean square 7.5; w = [1, .5, 2, 1].
  const float x[] = {1, 2, 3, 4}, w[] = {1, 0.5f, 2, 1};
  float y[4];
  rms_norm(x, w, 0.5f, 4, y);  // 1 / sqrt(7.5 + .5) = 1 / sqrt(8)
  const double s = 1.0 / std::sqrt(8.0);
  EXPECT_NEAR(y[0], 1 * s, 1e-7);
  EXPECT_NEAR(y[1], 2 * s * 0.5, 1e-7);
  EXPECT_NEAR(y[2], 3 * s * 2, 1e-7);
  EXPECT_NEAR(y[3], 4 * s, 1e-7);
  rms_norm(x, w, 0.5f, 4, const_cast<float*>(x));  // in place
  EXPECT_EQ(x[2], y[2]);
}

TEST(CpuLayerOpsTest, RopeRotatesPairsByPositionTimesFrequency) {
  RopeConfig r;
  r.theta = 100.0f;
  const std::vector<double> f = rope_inv_freq(4, r);  // 100^0, 100^-1/2
  ASSERT_EQ(f.size(), 2u);
  EXPECT_DOUBLE_EQ(f[0], 1.0);
  EXPECT_NEAR(f[1], 0.1, 1e-15);
  float c[2], s[2];
  rope_cos_sin(f, 3, c, s);
  float x[4] = {1.0f, 2.0f, 0.5f, -1.0f};  // pairs (1, .5) and (2, -1)
  rope_apply(x, c, s, 4);
  EXPECT_NEAR(x[0], 1 * std::cos(3.0) - 0.5 * std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], 0.5 * std::cos(3.0) + 1 * std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[1], 2 * std::cos(0.3) + 1 * std::sin(0.3), 1e-6);
  EXPECT_NEAR(x[3], -1 * std::cos(0.3) + 2 * std::sin(0.3), 1e-6);
  // Position 0 is the identity; rotations preserve the norm of each pair.
  rope_cos_sin(f, 0, c, s);
  float y[4] = {1, 2, 3, 4};
  rope_apply(y, c, s, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[3], 4.0f);
}

TEST(CpuLayerOpsTest, RopeScalingVariants) {
  RopeConfig linear;
  linear.theta = 10000.0f;
  linear.scaling = RopeScalingType::kLinear;
  linear.factor = 4.0f;
  RopeConfig none = linear;
  none.scaling = RopeScalingType::kNone;
  const auto fl = rope_inv_freq(64, linear), fn = rope_inv_freq(64, none);
  for (size_t i = 0; i < fl.size(); ++i) EXPECT_NEAR(fl[i], fn[i] / 4.0, 1e-18);

  // Llama 3.1 (theta 5e5, factor 8, low 1, high 4, original 8192), head_dim 128:
  // wavelengths below 8192/4 = 2048 unchanged, above 8192 divided by 8, blended between.
  RopeConfig l3;
  l3.theta = 500000.0f;
  l3.scaling = RopeScalingType::kLlama3;
  l3.factor = 8.0f;
  l3.low_freq_factor = 1.0f;
  l3.high_freq_factor = 4.0f;
  l3.original_max_position = 8192;
  none.theta = 500000.0f;
  const auto f3 = rope_inv_freq(128, l3), f0 = rope_inv_freq(128, none);
  int high = 0, low = 0, mid = 0;
  for (size_t i = 0; i < f3.size(); ++i) {
    const double wavelen = 2 * std::numbers::pi / f0[i];
    if (wavelen < 2048) {
      EXPECT_EQ(f3[i], f0[i]);
      ++high;
    } else if (wavelen > 8192) {
      EXPECT_NEAR(f3[i], f0[i] / 8, 1e-18);
      ++low;
    } else {
      const double smooth = (8192 / wavelen - 1) / 3;
      EXPECT_NEAR(f3[i], (1 - smooth) * f0[i] / 8 + smooth * f0[i], 1e-15);
      EXPECT_LT(f3[i], f0[i]);
      EXPECT_GT(f3[i], f0[i] / 8);
      ++mid;
    }
  }
  // Llama 3.1's published split for these values: all three bands are present.
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(mid, 0);
  EXPECT_EQ(high + low + mid, 64);
}

TEST(CpuLayerOpsTest, SiluMul) {
  const float g[] = {0.0f, 1.0f, -2.0f, 20.0f}, u[] = {3.0f, 2.0f, 1.0f, 0.5f};
  float y[4];
  silu_mul(g, u, 4, y);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_NEAR(y[1], 2.0 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(y[2], -2.0 / (1 + std::exp(2.0)), 1e-6);
  EXPECT_NEAR(y[3], 10.0, 1e-5);
}

TEST(ThreadPoolTest, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int round = 0; round < 60; ++round) {
      const int n = 1 + (round * 37) % 101;
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int> bad_thread{0};
      pool.parallel_for(n, [&](int task, int thread) {
        hits[task].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
      });
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "round " << round << " task " << i;
      ASSERT_EQ(bad_thread.load(), 0);
    }
    pool.parallel_for(0, [](int, int) { FAIL(); });
  }
}

TEST(ThreadPoolTest, UsesSeveralThreadsForLongTasks) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> by_thread(2);
  pool.parallel_for(64, [&](int, int thread) {
    by_thread[thread].fetch_add(1);
    volatile double x = 0;
    for (int i = 0; i < 200000; ++i) x = x + 1.0;
  });
  EXPECT_EQ(by_thread[0].load() + by_thread[1].load(), 64);
}

}  // namespace
}  // namespace tandem::engine::cpu
