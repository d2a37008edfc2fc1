// engine::KvBlob: whole KV blocks in transit between two runners
// (disaggregated prefill/decode, docs/design.md "Roles and hand-off"), in the
// paged layout of runner.h: block i of the blob is block_bytes() contiguous
// bytes, [n_layers][K, V][block_tokens][n_kv_heads][head_dim].
//
// Where the bytes live: host memory (device() == kHostDevice), or the memory
// of CUDA device device() (a backend's own blob type; the CUDA runner's is
// engine/cuda/device_kv_blob.h). Every blob can copy itself to host memory
// (copy_to_host), so any runner can import any blob; a backend that knows the
// blob's kind copies without the host (a CUDA runner: device to device, or
// peer to peer across GPUs).
//
// Ownership: a blob owns its bytes (for a device blob, memory the exporting
// runner took from its staging pool, given back when the blob is destroyed,
// on whichever thread drops it), or, when borrows_source(), it reads the
// exporting runner's pool in place and keeps only that memory alive: then
// the caller keeps the exported blocks unwritten until the blob is gone. A
// blob is immutable after export and may be read from one thread at a time.
//
// Made by Runner::export_blob, consumed by Runner::import_blob (runner.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"

namespace tandem::engine {

// What Runner::export_blob may do: kCopy, copy the blocks into the blob (the
// source blocks may be reused at once); kBorrow, also allowed to hand out a
// blob that reads the blocks in place (one copy less), for a caller that
// keeps them allocated and unwritten until the blob is dropped. Backends that
// cannot borrow copy.
enum class BlobMode { kCopy, kBorrow };

class KvBlob {
 public:
  static constexpr int kHostDevice = -1;

  virtual ~KvBlob() = default;

  // kHostDevice, or the CUDA device ordinal holding the bytes.
  virtual int device() const = 0;
  virtual int num_blocks() const = 0;
  virtual size_t block_bytes() const = 0;
  size_t bytes() const { return static_cast<size_t>(num_blocks()) * block_bytes(); }

  // True when the blob reads the exporter's own KV pool in place (exported
  // with BlobMode::kBorrow): the exporter's blocks must then stay allocated
  // and unwritten until the blob is dropped. False: the blob owns a copy.
  virtual bool borrows_source() const { return false; }
  // Host blobs: the bytes, bytes() long. Device blobs: empty.
  virtual std::span<const std::byte> host_bytes() const { return {}; }
  // Copies blocks [first, first + out.size() / block_bytes()) into `out`
  // (host memory). Fails with kInvalidRequest, copying nothing, when that
  // range is not inside the blob or out.size() is not a whole number of
  // blocks; kDevice on a device fault.
  virtual Status copy_to_host(int first, std::span<std::byte> out) const = 0;

 protected:
  // copy_to_host's argument check.
  Status check_range(int first, size_t out_bytes) const;
};

// A blob in host memory (what Runner::export_blob makes by default, from
// export_blocks).
class HostKvBlob final : public KvBlob {
 public:
  HostKvBlob(int num_blocks, size_t block_bytes)
      : num_blocks_(num_blocks), block_bytes_(block_bytes), bytes_(static_cast<size_t>(num_blocks) * block_bytes) {}

  int device() const override { return kHostDevice; }
  int num_blocks() const override { return num_blocks_; }
  size_t block_bytes() const override { return block_bytes_; }
  std::span<const std::byte> host_bytes() const override { return bytes_; }
  Status copy_to_host(int first, std::span<std::byte> out) const override;

  // For the exporter, before the blob is handed on.
  std::span<std::byte> mutable_bytes() { return bytes_; }

 private:
  int num_blocks_;
  size_t block_bytes_;
  std::vector<std::byte> bytes_;
};

}  // namespace tandem::engine
