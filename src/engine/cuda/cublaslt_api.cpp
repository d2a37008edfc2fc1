#include "engine/cuda/cublaslt_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace tandem::engine::cuda {
namespace {

#define TANDEM_STR2(x) #x
#define TANDEM_STR(x) TANDEM_STR2(x)

std::vector<std::string> candidates() {
  const std::string versioned = "libcublasLt.so." TANDEM_STR(CUBLAS_VER_MAJOR);
  std::vector<std::string> out = {versioned, "libcublasLt.so"};
  if (const char* home = std::getenv("CUDA_HOME"); home != nullptr && *home != '\0') {
    out.push_back(std::string(home) + "/lib64/" + versioned);
  }
  out.push_back("/usr/local/cuda/lib64/" + versioned);
  return out;
}

template <class F>
bool bind(void* lib, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (fn == nullptr && missing.empty()) missing = name;
  return fn != nullptr;
}

}  // namespace

Result<const CublasLtApi*> load_cublaslt() {
  static std::once_flag once;
  static CublasLtApi api;
  static Status error;
  std::call_once(once, [] {
    void* lib = nullptr;
    std::string tried;
    for (const std::string& name : candidates()) {
      lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib != nullptr) break;
      tried += (tried.empty() ? "" : ", ") + name;
    }
    if (lib == nullptr) {
      error = Status(ErrorKind::kDevice, "cannot load cuBLASLt (tried " + tried +
                                             "): install the CUDA libraries "
                                             "(e.g. libcublas-13-0) or serve with [engine] backend = \"cpu\"");
      return;
    }
    std::string missing;
#define TANDEM_BIND(fn) bind(lib, #fn, api.fn, missing)
    TANDEM_BIND(cublasLtCreate);
    TANDEM_BIND(cublasLtDestroy);
    TANDEM_BIND(cublasLtMatmul);
    TANDEM_BIND(cublasLtMatmulAlgoGetHeuristic);
    TANDEM_BIND(cublasLtMatmulAlgoCheck);
    TANDEM_BIND(cublasLtMatmulDescCreate);
    TANDEM_BIND(cublasLtMatmulDescDestroy);
    TANDEM_BIND(cublasLtMatmulDescSetAttribute);
    TANDEM_BIND(cublasLtMatmulPreferenceCreate);
    TANDEM_BIND(cublasLtMatmulPreferenceDestroy);
    TANDEM_BIND(cublasLtMatmulPreferenceSetAttribute);
    TANDEM_BIND(cublasLtMatrixLayoutCreate);
    TANDEM_BIND(cublasLtMatrixLayoutDestroy);
#undef TANDEM_BIND
    if (!missing.empty()) {
      error = Status(ErrorKind::kDevice, "cuBLASLt library lacks the symbol " + missing);
    }
  });
  if (!error.ok()) return error;
  return &api;
}

}  // namespace tandem::engine::cuda
