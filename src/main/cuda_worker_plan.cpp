#include "main/cuda_worker_plan.h"

#include <algorithm>
#include <map>

#include "common/check.h"

namespace tandem::main {

std::vector<CudaWorkerPlan> plan_cuda_workers(const std::vector<int>& devices, double gpu_memory_fraction) {
  TANDEM_CHECK(gpu_memory_fraction > 0.0 && gpu_memory_fraction <= 1.0);
  std::map<int, int> total;
  for (int d : devices) ++total[d];
  std::map<int, int> seen;
  std::vector<CudaWorkerPlan> plan;
  plan.reserve(devices.size());
  for (int d : devices) {
    CudaWorkerPlan w;
    w.device = d;
    w.index_on_device = seen[d]++;
    w.workers_on_device = total[d];
    w.name = "cuda" + std::to_string(d);
    if (w.index_on_device > 0) w.name += "." + std::to_string(w.index_on_device);
    const double f = gpu_memory_fraction;
    // k - j f >= k - (k - 1) f >= 1 for f <= 1, so the result stays in (0, 1].
    w.kv_memory_fraction = std::min(1.0, f / (w.workers_on_device - w.index_on_device * f));
    plan.push_back(std::move(w));
  }
  return plan;
}

}  // namespace tandem::main
