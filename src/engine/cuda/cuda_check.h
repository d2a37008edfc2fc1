// Turning CUDA runtime and cuBLASLt errors into Status (kDevice), for the CUDA
// backend's host code. Device faults are expected failures (OOM, Xid, a failed
// launch): they travel as Status and never abort (docs/style.md rule 7).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "common/status.h"

namespace tandem::engine::cuda {

inline Status cuda_error(cudaError_t e, const char* what) {
  return Status(ErrorKind::kDevice,
                std::string("cuda: ") + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

inline Status cublas_error(cublasStatus_t s, const char* what) {
  return Status(ErrorKind::kDevice,
                std::string("cublasLt: ") + what + ": status " + std::to_string(static_cast<int>(s)));
}

// The last launch's error (launch configuration or an earlier sticky fault).
inline Status last_launch_status(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? Status{} : cuda_error(e, kernel);
}

}  // namespace tandem::engine::cuda

#define TANDEM_CUDA_TRY(expr)                                                                            \
  do {                                                                                                   \
    const cudaError_t tandem_cuda_e_ = (expr);                                                           \
    if (tandem_cuda_e_ != cudaSuccess) return ::tandem::engine::cuda::cuda_error(tandem_cuda_e_, #expr); \
  } while (0)

#define TANDEM_CUBLAS_TRY(expr)                                             \
  do {                                                                      \
    const cublasStatus_t tandem_cublas_s_ = (expr);                         \
    if (tandem_cublas_s_ != CUBLAS_STATUS_SUCCESS)                          \
      return ::tandem::engine::cuda::cublas_error(tandem_cublas_s_, #expr); \
  } while (0)
