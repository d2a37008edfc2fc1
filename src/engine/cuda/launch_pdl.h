// Programmatic dependent launch (PDL, sm_90+) for the decode path's kernels.
//
// A kernel launched with PdlMode other than kOff may start while the kernel
// before it in the stream is still running (cudaLaunchAttribute
// ProgrammaticStreamSerialization; stream capture keeps the programmatic edge
// in a CUDA graph). The contract every such kernel keeps:
//   - before pdl_wait() it reads only what no kernel of the step writes
//     (weights, RoPE frequencies; the step metadata the host copied in before
//     the step's first kernel; K/V of positions earlier steps wrote) and
//     writes nothing;
//   - it calls pdl_wait() before its first read of an activation, the KV pool
//     or the step metadata, and before its first global write.
// pdl_wait() returns once the previous kernel has completed and its writes are
// visible; that kernel itself waited for its own predecessor, so everything
// earlier in the stream is complete too. Kernels not launched with the
// attribute (cuBLASLt, paged attention) wait for their predecessor as usual,
// and a wait in a kernel launched without it returns at once.
// pdl_launch_dependents() lets the next PDL kernel launch before this one
// ends (it still waits for this one's completion before touching data);
// without it the next kernel launches as this one's blocks exit.
//
// Threads: host functions are called from the runner's thread; header-only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

namespace tandem::engine::cuda {

// Dependents are triggered after the wait: triggering them at the kernel's
// start measured slower on the decode path. The runner picks the mode once
// (kOff before sm_90 or with [engine.cuda] pdl = false).
enum class PdlMode : uint8_t {
  kOff,               // ordinary launch: starts after the previous kernel completed
  kTriggerAfterWait,  // PDL; lets its dependents launch once its own wait returned
};

// Launches kernel<<<grid, block, smem, stream>>>(args...), with the
// programmatic-serialization attribute unless mode is kOff.
template <class... Params, class... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                          PdlMode mode, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = mode == PdlMode::kOff ? 0 : 1;
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

#if defined(__CUDACC__)

// Blocks until the previous kernel in the stream completed (see above).
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Allows the next PDL kernel in the stream to launch now.
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// The PDL calls at a kernel's start: the wait, then (PDL launches) the trigger.
__device__ __forceinline__ void pdl_enter(PdlMode mode) {
  pdl_wait();
  if (mode == PdlMode::kTriggerAfterWait) pdl_launch_dependents();
}

#endif  // __CUDACC__

}  // namespace tandem::engine::cuda
