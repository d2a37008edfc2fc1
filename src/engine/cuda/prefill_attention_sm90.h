// Hopper (sm_90a) prefill attention: wgmma tensor-core products with the
// query tile and the K/V chunks in 128-byte-swizzled shared memory.
//
// Same contract as paged_attention.h's multi-row (prefill) kernels, for
// head_dim 128 and tiles of 128 or 256 rows (PrefillTiling other than
// kWarps4Rows16); paged_attention.cu's launch() calls it for those and keeps
// its own kernels for everything else (decode, head_dim 64, 64-row tiles).
//
// Work decomposition: one CTA of 3 warpgroups per 128 query rows of a tile
// (a 256-row tile gets two CTAs). Warpgroup 0 is the producer: one elected
// thread loads each 128-position K/V chunk with TMA (a CUtensorMap over the KV
// pool, boxes of one block's slots x 64 head dims, 128-byte swizzle) into a
// 3-stage ring, completion counted in bytes on the stage's "full" mbarrier;
// the CTA's last chunk when the causal bound cuts it, and block sizes that do
// not divide 128 (or !p.allow_sm90_tma), go through a cp.async gather by
// the whole warpgroup instead (zero fill past the bound), so no pool byte past
// a sequence and no table entry past its blocks is read. Warpgroups 1 and 2
// own 64 rows each: S = Q K^T (wgmma m64n128k16, both operands from shared
// memory, K-major), online softmax on the fp32 accumulators (scale folded into
// exp2), P converted to bf16 in registers as the A operand of O += P V (V
// MN-major through the descriptor), then an arrive on the stage's "empty" mbarrier. Causal masking uses each row's
// absolute position (start_pos + token), so chunked prefill reads the
// sequence's cached blocks too. With n_splits > 1 the CTA writes the same
// unnormalized partials as the mma.sync kernel (the caller runs the combine).
//
// Threads: launch may be called from several host threads (the tensor-map
// cache is locked); it enqueues only, and asks the driver (through
// cudaGetDriverEntryPointByVersion, no -lcuda) for the pool's allocation range
// and, once per pool, for the map's encoding. Failure: launch errors come back
// as kDevice; a map the driver will not encode falls back to cp.async;
// unsupported shapes are the caller's to route elsewhere (prefill_sm90_applies).
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "engine/cuda/paged_attention.h"

namespace tandem::engine::cuda {

// True when launch_prefill_sm90 handles p: p.allow_sm90, a prefill (not
// key_split) launch with head_dim 128 and 128- or 256-row tiles, on a device
// of compute capability 9.0.
bool prefill_sm90_applies(const PagedAttentionParams& p);

// Enqueues the kernel on stream; p must satisfy p.check() and
// prefill_sm90_applies(p). Writes p.out (n_splits == 1) or the split
// partials (n_splits > 1; the combine pass is the caller's).
Status launch_prefill_sm90(const PagedAttentionParams& p, cudaStream_t stream);

}  // namespace tandem::engine::cuda
