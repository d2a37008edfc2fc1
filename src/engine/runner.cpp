// engine::Runner's shared parts (runner.h): the argument checks every backend
// makes (sample rows, copy_blocks), the default host memory for the KV tiers
// (plain, page-aligned), and the default step_and_sample: step() into a buffer
// the runner owns, the before-sampling hook (the forward pass is done by then
// on the CPU), then engine::sample per row on the host.
// Backends that can sample where the logits are (CUDA) override it.
#include "engine/runner.h"

#include <new>
#include <string>

namespace tandem::engine {

Status Runner::check_sample_rows(const StepBatch& batch, std::span<const SampleRow> rows) {
  size_t want = 0;
  for (const SequenceStep& s : batch.seqs) want += s.want_logits ? 1 : 0;
  if (rows.size() != want) {
    return Status(ErrorKind::kInvalidRequest, "step_and_sample: " + std::to_string(rows.size()) + " sample rows for " +
                                                  std::to_string(want) + " sequences that want logits");
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].params == nullptr) {
      return Status(ErrorKind::kInvalidRequest,
                    "step_and_sample: sample row " + std::to_string(i) + " has no sampling parameters");
    }
  }
  return {};
}

Status Runner::check_copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) const {
  if (src.size() != dst.size()) {
    return Status(ErrorKind::kInvalidRequest, "copy_blocks: " + std::to_string(src.size()) + " sources but " +
                                                  std::to_string(dst.size()) + " destinations");
  }
  const int n = num_blocks();
  for (size_t i = 0; i < src.size(); ++i) {
    for (int32_t id : {src[i], dst[i]}) {
      if (id < 0 || id >= n) {
        return Status(ErrorKind::kInvalidRequest, "copy_blocks: block id " + std::to_string(id) +
                                                      " is out of range [0, " + std::to_string(n) + ")");
      }
    }
  }
  return {};
}

Status Runner::check_block_bytes(const char* what, std::span<const int32_t> ids, size_t bytes) const {
  const int n = num_blocks();
  for (int32_t id : ids) {
    if (id < 0 || id >= n) {
      return Status(ErrorKind::kInvalidRequest, std::string(what) + ": block id " + std::to_string(id) +
                                                    " is out of range [0, " + std::to_string(n) + ")");
    }
  }
  if (bytes != ids.size() * block_bytes()) {
    return Status(ErrorKind::kInvalidRequest, std::string(what) + ": " + std::to_string(ids.size()) + " blocks need " +
                                                  std::to_string(ids.size() * block_bytes()) +
                                                  " bytes, the buffer has " + std::to_string(bytes));
  }
  return {};
}

Status Runner::export_blocks(std::span<const int32_t>, std::span<std::byte>) {
  return Status(ErrorKind::kUnsupported, "this backend cannot export KV blocks");
}

Status Runner::import_blocks(std::span<const int32_t>, std::span<const std::byte>) {
  return Status(ErrorKind::kUnsupported, "this backend cannot import KV blocks");
}

Status Runner::check_blob_import(std::span<const int32_t> ids, const KvBlob& blob, int first) const {
  if (blob.block_bytes() != block_bytes()) {
    return Status(ErrorKind::kInvalidRequest, "import_blob: the blob's blocks have " +
                                                  std::to_string(blob.block_bytes()) + " bytes, this pool's " +
                                                  std::to_string(block_bytes()));
  }
  if (first < 0 || static_cast<size_t>(first) + ids.size() > static_cast<size_t>(blob.num_blocks())) {
    return Status(ErrorKind::kInvalidRequest, "import_blob: blocks [" + std::to_string(first) + ", " +
                                                  std::to_string(static_cast<size_t>(first) + ids.size()) +
                                                  ") are outside the blob's " + std::to_string(blob.num_blocks()));
  }
  return check_block_bytes("import_blob", ids, ids.size() * block_bytes());
}

Result<std::unique_ptr<KvBlob>> Runner::export_blob(std::span<const int32_t> ids, BlobMode) {
  auto blob = std::make_unique<HostKvBlob>(static_cast<int>(ids.size()), block_bytes());
  if (Status s = export_blocks(ids, blob->mutable_bytes()); !s.ok()) return s;
  return std::unique_ptr<KvBlob>(std::move(blob));
}

Status Runner::import_blob(std::span<const int32_t> ids, const KvBlob& blob, int first) {
  if (Status s = check_blob_import(ids, blob, first); !s.ok()) return s;
  const size_t bytes = ids.size() * block_bytes();
  const std::span<const std::byte> host = blob.host_bytes();
  if (!host.empty() || blob.num_blocks() == 0) {
    return import_blocks(ids, host.subspan(static_cast<size_t>(first) * block_bytes(), bytes));
  }
  std::vector<std::byte> staged(bytes);
  if (Status s = blob.copy_to_host(first, staged); !s.ok()) return s;
  return import_blocks(ids, staged);
}

void* Runner::allocate_host_memory(size_t bytes) {
  return ::operator new (bytes, std::align_val_t{4096}, std::nothrow);
}

void Runner::free_host_memory(void* p) { ::operator delete (p, std::align_val_t{4096}); }

Status Runner::step_and_sample(const StepBatch& batch, std::span<const SampleRow> rows, std::vector<SampledToken>& out,
                               const BeforeSampling& before_sampling) {
  if (Status s = check_sample_rows(batch, rows); !s.ok()) return s;
  if (Status s = step(batch, sample_logits_); !s.ok()) return s;
  const size_t vocab = static_cast<size_t>(spec().vocab);
  if (sample_logits_.size() != rows.size() * vocab) {
    return Status(ErrorKind::kInternal, "step_and_sample: the runner returned " +
                                            std::to_string(sample_logits_.size()) + " logits, expected " +
                                            std::to_string(rows.size()) + " rows of " + std::to_string(vocab));
  }
  if (before_sampling) before_sampling();
  out.clear();
  out.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    SampleInput in;
    in.logits = std::span<const float>(sample_logits_).subspan(i * vocab, vocab);
    in.params = rows[i].params;
    in.prompt = rows[i].prompt;
    in.output = rows[i].output;
    in.seed = rows[i].seed;
    in.suppressed = rows[i].suppressed;
    in.allowed = rows[i].allowed;
    out.push_back(sample(in));
  }
  return {};
}

}  // namespace tandem::engine
