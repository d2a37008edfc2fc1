#include "engine/cuda/token_mask_kernels.h"

#include <string>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

constexpr int kThreads = 256;

// Grid (ceil(vocab / kThreads), n_rows): one thread per logit; the 32 lanes
// of a warp read the same mask word. Unconstrained rows return at once.
__global__ void __launch_bounds__(kThreads) token_mask_kernel(TokenMaskParams p) {
  const int row = blockIdx.y;
  const int32_t m = p.mask_of_row[row];
  if (m < 0) return;
  const int id = blockIdx.x * kThreads + threadIdx.x;
  if (id >= p.vocab) return;
  const int word = id >> 5;
  const bool allowed = word < p.words && ((p.masks[static_cast<size_t>(m) * p.words + word] >> (id & 31)) & 1u) != 0u;
  if (!allowed) p.logits[static_cast<size_t>(row) * p.vocab + id] = -__int_as_float(0x7f800000);
}

Status bad(const std::string& what) { return Status(ErrorKind::kInternal, "token mask kernel: " + what); }

}  // namespace

Status TokenMaskParams::check() const {
  if (n_rows < 0 || vocab < 1 || words < 1) return bad("n_rows >= 0, vocab >= 1 and words >= 1 required");
  if (n_rows == 0) return {};
  if (logits == nullptr || masks == nullptr || mask_of_row == nullptr) {
    return bad("logits, masks and mask_of_row must be set");
  }
  return {};
}

Status launch(const TokenMaskParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  if (p.n_rows == 0) return {};
  const dim3 grid((p.vocab + kThreads - 1) / kThreads, p.n_rows);
  token_mask_kernel<<<grid, kThreads, 0, stream>>>(p);
  return last_launch_status("token_mask_kernel");
}

}  // namespace tandem::engine::cuda
