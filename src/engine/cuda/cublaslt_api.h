// engine::cuda::CublasLtApi: the cuBLASLt entry points Tandem uses, loaded at
// run time (dlopen) instead of linked, so a CUDA build of `tandem` starts on a
// host without the CUDA libraries and serves on the CPU there (the packages
// list CUDA as a recommended dependency only). The CUDA runtime is linked
// statically for the same reason.
//
// Threading: load_cublaslt() is thread-safe and loads once; the table is
// immutable afterwards.
#pragma once

#include <cublasLt.h>

#include "common/status.h"

namespace tandem::engine::cuda {

struct CublasLtApi {
  decltype(&::cublasLtCreate) cublasLtCreate = nullptr;
  decltype(&::cublasLtDestroy) cublasLtDestroy = nullptr;
  decltype(&::cublasLtMatmul) cublasLtMatmul = nullptr;
  decltype(&::cublasLtMatmulAlgoGetHeuristic) cublasLtMatmulAlgoGetHeuristic = nullptr;
  decltype(&::cublasLtMatmulAlgoCheck) cublasLtMatmulAlgoCheck = nullptr;
  decltype(&::cublasLtMatmulDescCreate) cublasLtMatmulDescCreate = nullptr;
  decltype(&::cublasLtMatmulDescDestroy) cublasLtMatmulDescDestroy = nullptr;
  decltype(&::cublasLtMatmulDescSetAttribute) cublasLtMatmulDescSetAttribute = nullptr;
  decltype(&::cublasLtMatmulPreferenceCreate) cublasLtMatmulPreferenceCreate = nullptr;
  decltype(&::cublasLtMatmulPreferenceDestroy) cublasLtMatmulPreferenceDestroy = nullptr;
  decltype(&::cublasLtMatmulPreferenceSetAttribute) cublasLtMatmulPreferenceSetAttribute = nullptr;
  decltype(&::cublasLtMatrixLayoutCreate) cublasLtMatrixLayoutCreate = nullptr;
  decltype(&::cublasLtMatrixLayoutDestroy) cublasLtMatrixLayoutDestroy = nullptr;
};

// Loads libcublasLt (libcublasLt.so.<CUDA major>, then the unversioned name,
// then under $CUDA_HOME/lib64 and /usr/local/cuda/lib64). kDevice naming the
// library or the missing symbol when it cannot.
Result<const CublasLtApi*> load_cublaslt();

}  // namespace tandem::engine::cuda
