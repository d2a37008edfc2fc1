// main::plan_cuda_workers: which CUDA workers `tandem serve` starts for
// `[engine] devices`, their names and the share of device memory each one's
// KV pool may take. Pure function (no CUDA), so it is unit-tested on any
// machine; serve.cpp starts the workers in the returned order.
//
// Repeated ordinals mean several workers on one GPU, each with its own
// runner (weights, KV pool, stream, graphs): `devices = [0, 0, 0, 0]` is four
// workers on GPU 0. Names: the first worker on device d is "cuda<d>" (the
// name a single worker always had, so metric labels do not change), the next
// ones "cuda<d>.1", "cuda<d>.2", ... in the order they appear in the list.
//
// Memory: the CUDA runner sizes its KV pool as a fraction of the memory free
// when it is built (after its own weights and activations). With k workers
// on one device and fraction f, the j-th (0-based) one gets
//     f / (k - j * f)
// of what is free then. If weights and activations are small next to the
// GPU's memory, every worker ends up with f / k of the memory free before
// the first one, and the k pools together with f of it: worker j finds
// (1 - j f / k) of that memory free and takes f / k of it. (f / (k - j) alone
// would over-commit when f < 1: 0.97 instead of 0.9 for f = 0.9, k = 4.)
// Each extra worker also holds its own copy of the weights; so that it does
// not come out of the later workers' pools, worker j sizes its pool from the
// free memory less k - 1 - j copies of its own weights and activations
// (CudaRunnerOptions::later_workers_on_device), and the k pools come out
// equal: f / k each of the memory left after all k copies.
//
// Failure: none; an empty list gives an empty plan. Ordinals are not checked
// against the machine here (serve.cpp does that).
#pragma once

#include <string>
#include <vector>

namespace tandem::main {

struct CudaWorkerPlan {
  int device = 0;                   // CUDA device ordinal
  std::string name;                 // worker name: "cuda0", "cuda0.1", ...
  int index_on_device = 0;          // j: workers on this device started before this one
  int workers_on_device = 1;        // k
  double kv_memory_fraction = 0.9;  // CudaRunnerOptions::gpu_memory_fraction for this worker, in (0, 1]
};

// `gpu_memory_fraction` in (0, 1] ([engine] gpu_memory_fraction).
std::vector<CudaWorkerPlan> plan_cuda_workers(const std::vector<int>& devices, double gpu_memory_fraction);

}  // namespace tandem::main
