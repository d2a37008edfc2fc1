#include "device_fault.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace tandem::testing {
namespace {

// Writes through a pointer no allocation covers: the device reports an illegal
// address (the Xid-class fault of a bad kernel), which is sticky for the context.
__global__ void write_to_unmapped(int* p) { p[threadIdx.x] = 1; }

}  // namespace

bool inject_illegal_address_fault() {
  auto* bad = reinterpret_cast<int*>(uintptr_t{0x10});
  write_to_unmapped<<<1, 32>>>(bad);
  return cudaGetLastError() == cudaSuccess;  // the fault itself surfaces at the next synchronising call
}

}  // namespace tandem::testing
