// Hopper (sm_90a) prefill attention: wgmma tensor-core products with the
// query tile and the K/V chunks in 128-byte-swizzled shared memory.
//
// Same contract as paged_attention.h's multi-row (prefill) kernels, for
// head_dim 128 and tiles of 128 or 256 rows (PrefillTiling other than
// kWarps4Rows16); paged_attention.cu's launch() calls it for those and keeps
// its own kernels for everything else (decode, head_dim 64, 64-row tiles).
//
// Work decomposition: one CTA of 3 warpgroups per 128 query rows of a tile
// (a 256-row tile gets two CTAs). Warpgroup 0 is the producer: it gathers
// each 128-position K/V chunk through the block table with cp.async (16 B
// per thread, written in the swizzled layout the descriptors describe) into
// a 3-stage ring and marks a stage full on an mbarrier once the copies have
// landed. Warpgroups 1 and 2 own 64 rows each: S = Q K^T (wgmma m64n128k16,
// both operands from shared memory, K-major), online softmax on the fp32
// accumulators (scale folded into exp2), P converted to bf16 in registers as
// the A operand of O += P V (V MN-major through the descriptor), then an
// arrive on the stage's "empty" mbarrier. Causal masking uses each row's
// absolute position (start_pos + token), so chunked prefill reads the
// sequence's cached blocks too. With n_splits > 1 the CTA writes the same
// unnormalized partials as the mma.sync kernel (the caller runs the combine).
//
// Threads: none on the host side; launch is enqueue-only. Failure: launch
// errors come back as kDevice; unsupported shapes are the caller's to route
// elsewhere (prefill_sm90_applies).
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "engine/cuda/paged_attention.h"

namespace tandem::engine::cuda {

// True when launch_prefill_sm90 handles p: a prefill (not key_split) launch
// with head_dim 128 and 128- or 256-row tiles, on a device of compute
// capability 9.0, and TANDEM_ATTN_SM90 is not "0" in the environment.
bool prefill_sm90_applies(const PagedAttentionParams& p);

// Enqueues the kernel on stream; p must satisfy p.check() and
// prefill_sm90_applies(p). Writes p.out (n_splits == 1) or the split
// partials (n_splits > 1; the combine pass is the caller's).
Status launch_prefill_sm90(const PagedAttentionParams& p, cudaStream_t stream);

}  // namespace tandem::engine::cuda
