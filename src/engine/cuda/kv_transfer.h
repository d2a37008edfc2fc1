// engine::cuda::KvTransfer: the CUDA runner's KV moves between workers
// (Runner::export_blocks / import_blocks / export_blob / import_blob; the
// contracts are runner.h's). One per runner, used by its worker thread only.
//
// Streams and ordering: every copy runs on the transfer's own copy stream
// (non-blocking), which waits for an event recorded on the runner's compute
// stream first, so it sees every step enqueued before. An export to a device
// blob is asynchronous: the compute stream waits for the gather's event, so
// no later step overwrites a source block before it was read, and the blob's
// `ready` event orders its readers. Imports are synchronous (the copy stream
// is synchronized before they return), so the blocks are in place for the
// next step and a device blob may be freed as soon as import returns.
//
// Host bytes (export_blocks / import_blocks; the caller's buffer is pageable):
// two pinned staging buffers of kHostChunkBytes (at least one block),
// double-buffered: the DMA of one chunk overlaps the host memcpy of the other.
//
// Borrowed blobs (export_view, BlobMode::kBorrow): a DeviceKvBlob that reads
// the runner's KV pool in place (block addresses, no copy), with a `ready`
// event recorded on the compute stream after the step that wrote the blocks
// and a reference keeping the pool's memory alive; the caller (the
// scheduler) keeps those blocks unwritten until the blob is dropped. A move
// is then one device copy (into the importer's pool).
//
// Copied device blobs (export_device): staging memory from a stream-ordered memory
// pool of this device (cudaMemPoolCreate), at most `staging_limit` bytes
// outstanding over all blobs alive; export_device returns null (the caller
// falls back to a host blob) when a blob would pass the limit or the
// allocation fails. A blob frees its memory (cudaFreeAsync on the pool's
// stream) when destroyed, on any thread; the pool and its stream live until
// the runner and every blob it made are gone.
// Importing a blob: same device -> cudaMemcpyAsync device to device; another
// device -> cudaMemcpyPeerAsync (peer access to the blob's memory, its
// staging pool or the exporter's KV pool, is enabled once where
// cudaDeviceCanAccessPeer allows; otherwise through host memory);
// `force_peer` takes the peer call on one device too (tests). Runs of blocks
// consecutive at both ends move in one copy.
//
// Failures: CUDA errors -> kDevice naming the call; nothing aborts.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/cuda/device_buffer.h"
#include "engine/kv_blob.h"

namespace tandem::engine::cuda {

// The memory pool and copy stream blobs share with the runner that made them.
struct StagingPool {
  int device = 0;
  cudaStream_t stream = nullptr;  // the exporting runner's copy stream
  cudaMemPool_t pool = nullptr;
  size_t limit = 0;                    // bytes outstanding at most
  std::atomic<size_t> outstanding{0};  // bytes held by live blobs
  ~StagingPool();
};

// Blocks in the memory of one GPU: a copy in staging memory it owns, or a
// view of the exporting runner's KV pool (borrows_source()).
class DeviceKvBlob final : public KvBlob {
 public:
  // A copy: `staging` (bytes() long, from pool->pool) is freed with the blob.
  DeviceKvBlob(std::shared_ptr<StagingPool> pool, std::byte* staging, int num_blocks, size_t block_bytes,
               cudaEvent_t ready);
  // A view: block i at blocks[i]; `keep` holds the memory they live in.
  DeviceKvBlob(std::shared_ptr<StagingPool> pool, std::vector<const std::byte*> blocks, size_t block_bytes,
               cudaEvent_t ready, std::shared_ptr<const void> keep);
  ~DeviceKvBlob() override;
  DeviceKvBlob(const DeviceKvBlob&) = delete;
  DeviceKvBlob& operator=(const DeviceKvBlob&) = delete;

  int device() const override { return pool_->device; }
  int num_blocks() const override { return static_cast<int>(blocks_.size()); }
  size_t block_bytes() const override { return block_bytes_; }
  bool borrows_source() const override { return keep_ != nullptr; }
  Status copy_to_host(int first, std::span<std::byte> out) const override;

  const std::byte* block(int i) const { return blocks_[static_cast<size_t>(i)]; }
  cudaEvent_t ready() const { return ready_; }  // recorded after the gather (copy) or the step (view)
  // The staging pool of a copy (peer access is granted per pool); null for a view.
  cudaMemPool_t staging_pool() const { return staging_ != nullptr ? pool_->pool : nullptr; }

 private:
  std::shared_ptr<StagingPool> pool_;
  std::byte* staging_ = nullptr;
  std::vector<const std::byte*> blocks_;
  size_t block_bytes_;
  cudaEvent_t ready_;
  std::shared_ptr<const void> keep_;
};

struct KvTransferOptions {
  int device = 0;
  size_t block_bytes = 0;
  size_t staging_limit = 0;  // device blob bytes outstanding at most (0: device blobs off)
  bool force_peer = false;   // import same-device blobs with cudaMemcpyPeerAsync (tests)
};

class KvTransfer {
 public:
  static constexpr size_t kHostChunkBytes = size_t{16} << 20;

  KvTransfer() = default;
  ~KvTransfer();
  KvTransfer(const KvTransfer&) = delete;
  KvTransfer& operator=(const KvTransfer&) = delete;

  // `compute` is the runner's stream; `kv_pool` its KV pool (block b at
  // byte b * block_bytes), which borrowed blobs keep alive. Call with the
  // device current.
  Status init(const KvTransferOptions& options, cudaStream_t compute, std::shared_ptr<DeviceBuffer> kv_pool);

  // The runner checked the ids and sizes (Runner::check_block_bytes /
  // check_blob_import) before these.
  Status export_host(std::span<const int32_t> ids, std::span<std::byte> out);
  Status import_host(std::span<const int32_t> ids, std::span<const std::byte> in);
  // Null (and ok) when the staging pool has no room: use a host blob then.
  Result<std::unique_ptr<KvBlob>> export_device(std::span<const int32_t> ids);
  Result<std::unique_ptr<KvBlob>> export_view(std::span<const int32_t> ids);
  Status import_device(std::span<const int32_t> ids, const DeviceKvBlob& blob, int first);

  size_t staging_outstanding() const { return staging_ ? staging_->outstanding.load() : 0; }

 private:
  // Copy stream waits for everything enqueued on the compute stream so far.
  Status after_compute();
  Status ensure_host_staging();

  KvTransferOptions opt_;
  cudaStream_t compute_ = nullptr;
  std::shared_ptr<DeviceBuffer> kv_pool_;
  std::byte* pool_base_ = nullptr;
  std::shared_ptr<StagingPool> staging_;  // owns the copy stream
  cudaEvent_t computed_ = nullptr;        // recorded on compute, waited by copy
  cudaEvent_t copied_ = nullptr;          // recorded on copy, waited by compute (device exports)
  cudaEvent_t chunk_done_[2] = {nullptr, nullptr};
  std::byte* pinned_[2] = {nullptr, nullptr};
  size_t pinned_bytes_ = 0;
  std::set<cudaMemPool_t> peer_pools_;  // other devices' staging pools made readable here
  std::set<int> peer_devices_;          // devices whose cudaMalloc memory is readable here
};

}  // namespace tandem::engine::cuda
