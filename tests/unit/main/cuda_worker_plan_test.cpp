#include "main/cuda_worker_plan.h"

#include <map>

#include <gtest/gtest.h>

#include "common/config.h"

namespace tandem::main {
namespace {

std::vector<std::string> names(const std::vector<CudaWorkerPlan>& plan) {
  std::vector<std::string> out;
  for (const auto& p : plan) out.push_back(p.name);
  return out;
}

// Simulates the runners: worker j takes kv_memory_fraction of what is free
// when it starts; weights are ignored (the case the plan is exact for).
std::map<int, std::vector<double>> simulate(const std::vector<CudaWorkerPlan>& plan) {
  std::map<int, double> free;
  std::map<int, std::vector<double>> taken;
  for (const auto& p : plan) {
    if (!free.count(p.device)) free[p.device] = 1.0;
    double t = free[p.device] * p.kv_memory_fraction;
    free[p.device] -= t;
    taken[p.device].push_back(t);
  }
  return taken;
}

TEST(CudaWorkerPlanTest, OneWorkerPerDeviceKeepsNamesAndFraction) {
  auto plan = plan_cuda_workers({0, 1, 3}, 0.9);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"cuda0", "cuda1", "cuda3"}));
  for (const auto& p : plan) {
    EXPECT_EQ(p.workers_on_device, 1);
    EXPECT_EQ(p.index_on_device, 0);
    EXPECT_DOUBLE_EQ(p.kv_memory_fraction, 0.9);
  }
  EXPECT_EQ(plan[2].device, 3);
}

TEST(CudaWorkerPlanTest, RepeatedOrdinalsGetSuffixedNamesInListOrder) {
  auto plan = plan_cuda_workers({0, 1, 0, 0, 1}, 0.9);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"cuda0", "cuda1", "cuda0.1", "cuda0.2", "cuda1.1"}));
  EXPECT_EQ(plan[3].device, 0);
  EXPECT_EQ(plan[3].index_on_device, 2);
  EXPECT_EQ(plan[3].workers_on_device, 3);
  EXPECT_EQ(plan[4].workers_on_device, 2);
}

TEST(CudaWorkerPlanTest, SharesAreEqualAndTotalTheFraction) {
  for (double f : {0.5, 0.9, 1.0}) {
    for (int k : {1, 2, 3, 4, 7}) {
      auto plan = plan_cuda_workers(std::vector<int>(k, 2), f);
      auto taken = simulate(plan)[2];
      ASSERT_EQ(taken.size(), static_cast<size_t>(k));
      double total = 0;
      for (double t : taken) {
        EXPECT_NEAR(t, f / k, 1e-12) << "f=" << f << " k=" << k;
        total += t;
      }
      EXPECT_NEAR(total, f, 1e-12);
      for (const auto& p : plan) {
        EXPECT_GT(p.kv_memory_fraction, 0.0);
        EXPECT_LE(p.kv_memory_fraction, 1.0);
      }
    }
  }
}

TEST(CudaWorkerPlanTest, FullFractionLeavesTheLastWorkerAllThatIsLeft) {
  auto plan = plan_cuda_workers({0, 0, 0, 0}, 1.0);
  EXPECT_DOUBLE_EQ(plan[0].kv_memory_fraction, 0.25);
  EXPECT_DOUBLE_EQ(plan[1].kv_memory_fraction, 1.0 / 3);
  EXPECT_DOUBLE_EQ(plan[2].kv_memory_fraction, 0.5);
  EXPECT_DOUBLE_EQ(plan[3].kv_memory_fraction, 1.0);
}

TEST(CudaWorkerPlanTest, DevicesAreSplitIndependently) {
  auto taken = simulate(plan_cuda_workers({0, 1, 0, 1, 0}, 0.9));
  ASSERT_EQ(taken[0].size(), 3u);
  ASSERT_EQ(taken[1].size(), 2u);
  for (double t : taken[0]) EXPECT_NEAR(t, 0.3, 1e-12);
  for (double t : taken[1]) EXPECT_NEAR(t, 0.45, 1e-12);
}

TEST(CudaWorkerPlanTest, ConfigWithRepeatedOrdinalsPlansOneWorkerPerEntry) {
  Config c = parse_config("[engine]\ndevices = [0, 0, 0, 0]\ngpu_memory_fraction = 0.8\n", "t.toml");
  ASSERT_EQ(c.engine.devices, (std::vector<int>{0, 0, 0, 0}));
  auto plan = plan_cuda_workers(c.engine.devices, c.engine.gpu_memory_fraction);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"cuda0", "cuda0.1", "cuda0.2", "cuda0.3"}));
  auto taken = simulate(plan);
  ASSERT_EQ(taken[0].size(), 4u);
  for (double t : taken[0]) EXPECT_NEAR(t, 0.2, 1e-12);
}

TEST(CudaWorkerPlanTest, EmptyListGivesEmptyPlan) { EXPECT_TRUE(plan_cuda_workers({}, 0.9).empty()); }

}  // namespace
}  // namespace tandem::main
