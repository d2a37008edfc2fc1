#include "engine/cuda/kv_transfer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

// Makes `device` current for a scope and restores the caller's device: blobs
// are dropped and read on other workers' threads.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&prev_) != cudaSuccess) prev_ = -1;
    if (prev_ != device) cudaSetDevice(device);
  }
  ~DeviceGuard() {
    int now = -1;
    if (prev_ >= 0 && cudaGetDevice(&now) == cudaSuccess && now != prev_) cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = -1;
};

// Calls fn(i, n) for each run ids[i .. i + n) of consecutive block ids.
template <class Fn>
Status for_each_run(std::span<const int32_t> ids, Fn&& fn) {
  size_t i = 0;
  while (i < ids.size()) {
    size_t n = 1;
    while (i + n < ids.size() && ids[i + n] == ids[i + n - 1] + 1) ++n;
    if (Status s = fn(i, n); !s.ok()) return s;
    i += n;
  }
  return {};
}

}  // namespace

StagingPool::~StagingPool() {
  DeviceGuard g(device);
  if (stream != nullptr) {
    cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
  }
  if (pool != nullptr) cudaMemPoolDestroy(pool);
}

DeviceKvBlob::DeviceKvBlob(std::shared_ptr<StagingPool> pool, std::byte* staging, int num_blocks, size_t block_bytes,
                           cudaEvent_t ready)
    : pool_(std::move(pool)), staging_(staging), block_bytes_(block_bytes), ready_(ready) {
  blocks_.reserve(static_cast<size_t>(num_blocks));
  for (int i = 0; i < num_blocks; ++i) blocks_.push_back(staging + static_cast<size_t>(i) * block_bytes);
}

DeviceKvBlob::DeviceKvBlob(std::shared_ptr<StagingPool> pool, std::vector<const std::byte*> blocks, size_t block_bytes,
                           cudaEvent_t ready, std::shared_ptr<const void> keep)
    : pool_(std::move(pool)),
      blocks_(std::move(blocks)),
      block_bytes_(block_bytes),
      ready_(ready),
      keep_(std::move(keep)) {}

DeviceKvBlob::~DeviceKvBlob() {
  DeviceGuard g(pool_->device);
  if (staging_ != nullptr) {
    cudaFreeAsync(staging_, pool_->stream);  // after the gather; every reader synchronized
    pool_->outstanding.fetch_sub(bytes());
  }
  if (ready_ != nullptr) cudaEventDestroy(ready_);
  keep_.reset();  // a view may hold the last reference to a KV pool: free it with its device current
}

Status DeviceKvBlob::copy_to_host(int first, std::span<std::byte> out) const {
  if (Status s = check_range(first, out.size()); !s.ok()) return s;
  if (out.empty()) return {};
  DeviceGuard g(pool_->device);
  TANDEM_CUDA_TRY(cudaEventSynchronize(ready_));
  const size_t n = out.size() / block_bytes_;
  for (size_t i = 0; i < n; ++i) {
    TANDEM_CUDA_TRY(cudaMemcpy(out.data() + i * block_bytes_, blocks_[static_cast<size_t>(first) + i], block_bytes_,
                               cudaMemcpyDeviceToHost));
  }
  return {};
}

KvTransfer::~KvTransfer() {
  if (staging_ && staging_->stream != nullptr) {
    DeviceGuard g(opt_.device);
    cudaStreamSynchronize(staging_->stream);
  }
  for (std::byte*& p : pinned_) {
    if (p != nullptr) cudaFreeHost(p);
    p = nullptr;
  }
  for (cudaEvent_t e : {computed_, chunk_done_[0], chunk_done_[1]}) {
    if (e != nullptr) cudaEventDestroy(e);
  }
}

Status KvTransfer::init(const KvTransferOptions& options, cudaStream_t compute, std::shared_ptr<DeviceBuffer> kv_pool) {
  opt_ = options;
  compute_ = compute;
  kv_pool_ = std::move(kv_pool);
  pool_base_ = kv_pool_->get<std::byte>();
  staging_ = std::make_shared<StagingPool>();
  staging_->device = opt_.device;
  TANDEM_CUDA_TRY(cudaStreamCreateWithFlags(&staging_->stream, cudaStreamNonBlocking));
  TANDEM_CUDA_TRY(cudaEventCreateWithFlags(&computed_, cudaEventDisableTiming));
  TANDEM_CUDA_TRY(cudaEventCreateWithFlags(&chunk_done_[0], cudaEventDisableTiming));
  TANDEM_CUDA_TRY(cudaEventCreateWithFlags(&chunk_done_[1], cudaEventDisableTiming));
  if (opt_.staging_limit > 0) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = opt_.device;
    cudaMemPool_t pool = nullptr;
    cudaError_t e = cudaMemPoolCreate(&pool, &props);
    if (e == cudaSuccess) {
      // Keep freed staging memory in the pool (up to the limit) instead of
      // returning it to the driver at every synchronization.
      uint64_t keep = opt_.staging_limit;
      e = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      if (pool != nullptr) cudaMemPoolDestroy(pool);
      spdlog::warn(
          "[engine.cuda] device {}: no stream-ordered memory pool for KV hand-off staging ({}); KV moves go "
          "through host memory",
          opt_.device, cudaGetErrorString(e));
      opt_.staging_limit = 0;
    } else {
      staging_->pool = pool;
    }
  }
  staging_->limit = opt_.staging_limit;
  return {};
}

Status KvTransfer::after_compute() {
  TANDEM_CUDA_TRY(cudaEventRecord(computed_, compute_));
  TANDEM_CUDA_TRY(cudaStreamWaitEvent(staging_->stream, computed_, 0));
  return {};
}

Status KvTransfer::ensure_host_staging() {
  if (pinned_[0] != nullptr) return {};
  const size_t bb = opt_.block_bytes;
  const size_t bytes = std::max<size_t>(1, kHostChunkBytes / bb) * bb;
  for (std::byte*& p : pinned_) {
    void* v = nullptr;
    if (cudaMallocHost(&v, bytes) != cudaSuccess) {
      (void)cudaGetLastError();
      return Status(ErrorKind::kDevice, "cuda: cannot allocate " + std::to_string(bytes >> 20) +
                                            " MiB of pinned host memory for KV hand-off staging");
    }
    p = static_cast<std::byte*>(v);
  }
  pinned_bytes_ = bytes;
  return {};
}

Status KvTransfer::export_host(std::span<const int32_t> ids, std::span<std::byte> out) {
  if (ids.empty()) return {};
  TANDEM_RETURN_IF_ERROR(ensure_host_staging());
  TANDEM_RETURN_IF_ERROR(after_compute());
  const size_t bb = opt_.block_bytes;
  const size_t per = pinned_bytes_ / bb;
  const size_t chunks = (ids.size() + per - 1) / per;
  cudaStream_t s = staging_->stream;
  auto enqueue = [&](size_t c) -> Status {
    const size_t b0 = c * per;
    const std::span<const int32_t> part = ids.subspan(b0, std::min(per, ids.size() - b0));
    std::byte* dst = pinned_[c % 2];
    TANDEM_RETURN_IF_ERROR(for_each_run(part, [&](size_t i, size_t n) -> Status {
      TANDEM_CUDA_TRY(cudaMemcpyAsync(dst + i * bb, pool_base_ + static_cast<size_t>(part[i]) * bb, n * bb,
                                      cudaMemcpyDeviceToHost, s));
      return {};
    }));
    TANDEM_CUDA_TRY(cudaEventRecord(chunk_done_[c % 2], s));
    return {};
  };
  for (size_t c = 0; c < std::min<size_t>(2, chunks); ++c) TANDEM_RETURN_IF_ERROR(enqueue(c));
  for (size_t c = 0; c < chunks; ++c) {
    TANDEM_CUDA_TRY(cudaEventSynchronize(chunk_done_[c % 2]));
    const size_t b0 = c * per, n = std::min(per, ids.size() - b0);
    std::memcpy(out.data() + b0 * bb, pinned_[c % 2], n * bb);
    if (c + 2 < chunks) TANDEM_RETURN_IF_ERROR(enqueue(c + 2));
  }
  return {};
}

Status KvTransfer::import_host(std::span<const int32_t> ids, std::span<const std::byte> in) {
  if (ids.empty()) return {};
  TANDEM_RETURN_IF_ERROR(ensure_host_staging());
  TANDEM_RETURN_IF_ERROR(after_compute());
  const size_t bb = opt_.block_bytes;
  const size_t per = pinned_bytes_ / bb;
  const size_t chunks = (ids.size() + per - 1) / per;
  cudaStream_t s = staging_->stream;
  for (size_t c = 0; c < chunks; ++c) {
    if (c >= 2) TANDEM_CUDA_TRY(cudaEventSynchronize(chunk_done_[c % 2]));  // its buffer was read
    const size_t b0 = c * per;
    const std::span<const int32_t> part = ids.subspan(b0, std::min(per, ids.size() - b0));
    std::byte* src = pinned_[c % 2];
    std::memcpy(src, in.data() + b0 * bb, part.size() * bb);
    TANDEM_RETURN_IF_ERROR(for_each_run(part, [&](size_t i, size_t n) -> Status {
      TANDEM_CUDA_TRY(cudaMemcpyAsync(pool_base_ + static_cast<size_t>(part[i]) * bb, src + i * bb, n * bb,
                                      cudaMemcpyHostToDevice, s));
      return {};
    }));
    TANDEM_CUDA_TRY(cudaEventRecord(chunk_done_[c % 2], s));
  }
  TANDEM_CUDA_TRY(cudaStreamSynchronize(s));
  return {};
}

Result<std::unique_ptr<KvBlob>> KvTransfer::export_device(std::span<const int32_t> ids) {
  const size_t bb = opt_.block_bytes;
  const size_t bytes = ids.size() * bb;
  if (staging_->pool == nullptr || ids.empty()) return std::unique_ptr<KvBlob>();
  size_t held = staging_->outstanding.load();
  do {
    if (held + bytes > staging_->limit) {
      spdlog::debug("[engine.cuda] device {}: KV staging full ({} of {} MiB held); exporting {} MiB to host memory",
                    opt_.device, held >> 20, staging_->limit >> 20, bytes >> 20);
      return std::unique_ptr<KvBlob>();
    }
  } while (!staging_->outstanding.compare_exchange_weak(held, held + bytes));
  cudaEvent_t ready = nullptr;
  if (cudaEventCreateWithFlags(&ready, cudaEventDisableTiming) != cudaSuccess) {
    staging_->outstanding.fetch_sub(bytes);
    return cuda_error(cudaGetLastError(), "cudaEventCreateWithFlags (KV blob)");
  }
  cudaStream_t s = staging_->stream;
  void* p = nullptr;
  if (Status st = after_compute(); !st.ok()) {
    staging_->outstanding.fetch_sub(bytes);
    cudaEventDestroy(ready);
    return st;
  }
  const cudaError_t e = cudaMallocFromPoolAsync(&p, bytes, staging_->pool, s);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    staging_->outstanding.fetch_sub(bytes);
    cudaEventDestroy(ready);
    spdlog::debug("[engine.cuda] device {}: no staging memory for {} MiB of KV ({}); exporting to host memory",
                  opt_.device, bytes >> 20, cudaGetErrorString(e));
    return std::unique_ptr<KvBlob>();
  }
  // From here the blob owns the memory, the event and its share of the limit.
  auto blob =
      std::make_unique<DeviceKvBlob>(staging_, static_cast<std::byte*>(p), static_cast<int>(ids.size()), bb, ready);
  auto* dst = static_cast<std::byte*>(p);
  TANDEM_RETURN_IF_ERROR(for_each_run(ids, [&](size_t i, size_t n) -> Status {
    TANDEM_CUDA_TRY(cudaMemcpyAsync(dst + i * bb, pool_base_ + static_cast<size_t>(ids[i]) * bb, n * bb,
                                    cudaMemcpyDeviceToDevice, s));
    return {};
  }));
  TANDEM_CUDA_TRY(cudaEventRecord(ready, s));
  // No later step may overwrite a source block before the gather read it.
  TANDEM_CUDA_TRY(cudaStreamWaitEvent(compute_, ready, 0));
  return std::unique_ptr<KvBlob>(std::move(blob));
}

Result<std::unique_ptr<KvBlob>> KvTransfer::export_view(std::span<const int32_t> ids) {
  if (ids.empty()) return std::unique_ptr<KvBlob>();
  const size_t bb = opt_.block_bytes;
  cudaEvent_t ready = nullptr;
  TANDEM_CUDA_TRY(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  if (const cudaError_t e = cudaEventRecord(ready, compute_); e != cudaSuccess) {
    cudaEventDestroy(ready);
    return cuda_error(e, "cudaEventRecord (KV view)");
  }
  std::vector<const std::byte*> blocks;
  blocks.reserve(ids.size());
  for (int32_t id : ids) blocks.push_back(pool_base_ + static_cast<size_t>(id) * bb);
  return std::unique_ptr<KvBlob>(
      new DeviceKvBlob(staging_, std::move(blocks), bb, ready, std::shared_ptr<const void>(kv_pool_)));
}

Status KvTransfer::import_device(std::span<const int32_t> ids, const DeviceKvBlob& blob, int first) {
  if (ids.empty()) return {};
  const size_t bb = opt_.block_bytes;
  const int from = blob.device();
  const bool same = from == opt_.device;
  if (!same) {
    int can = 0;
    if (cudaDeviceCanAccessPeer(&can, opt_.device, from) != cudaSuccess) {
      (void)cudaGetLastError();
      can = 0;
    }
    if (can == 0) {
      // No peer path between the two GPUs: through host memory.
      std::vector<std::byte> host(ids.size() * bb);
      TANDEM_RETURN_IF_ERROR(blob.copy_to_host(first, host));
      return import_host(ids, host);
    }
    if (cudaMemPool_t pool = blob.staging_pool(); pool != nullptr && peer_pools_.count(pool) == 0) {
      cudaMemAccessDesc desc{};
      desc.location.type = cudaMemLocationTypeDevice;
      desc.location.id = opt_.device;
      desc.flags = cudaMemAccessFlagsProtReadWrite;
      TANDEM_CUDA_TRY(cudaMemPoolSetAccess(pool, &desc, 1));
      peer_pools_.insert(pool);
    }
    if (peer_devices_.count(from) == 0) {
      const cudaError_t e = cudaDeviceEnablePeerAccess(from, 0);
      if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled)
        return cuda_error(e, "cudaDeviceEnablePeerAccess");
      (void)cudaGetLastError();
      peer_devices_.insert(from);
    }
  }
  cudaStream_t s = staging_->stream;
  TANDEM_RETURN_IF_ERROR(after_compute());
  TANDEM_CUDA_TRY(cudaStreamWaitEvent(s, blob.ready(), 0));
  const bool peer = !same || opt_.force_peer;
  size_t i = 0;
  while (i < ids.size()) {
    // A run: consecutive in this pool and in the blob.
    const std::byte* src = blob.block(first + static_cast<int>(i));
    size_t n = 1;
    while (i + n < ids.size() && ids[i + n] == ids[i + n - 1] + 1 &&
           blob.block(first + static_cast<int>(i + n)) == src + n * bb) {
      ++n;
    }
    std::byte* dst = pool_base_ + static_cast<size_t>(ids[i]) * bb;
    if (peer) {
      TANDEM_CUDA_TRY(cudaMemcpyPeerAsync(dst, opt_.device, src, from, n * bb, s));
    } else {
      TANDEM_CUDA_TRY(cudaMemcpyAsync(dst, src, n * bb, cudaMemcpyDeviceToDevice, s));
    }
    i += n;
  }
  TANDEM_CUDA_TRY(cudaStreamSynchronize(s));
  return {};
}

}  // namespace tandem::engine::cuda
