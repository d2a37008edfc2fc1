// Test doubles for the scheduler: a fake engine::Runner whose "KV cache"
// stores token ids in the paged layout and whose logits are a deterministic
// function of the token history *read back through the block table*, so any
// wrong block table, reused block or lost position changes the output; a
// simple pure sampler; an independent reference generator; and a thread-safe
// event collector.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "engine/runner.h"
#include "engine/sampling.h"
#include "scheduler/generation.h"

namespace tandem::scheduler::testing {

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// The fake model: logits over `vocab` ids in [0, 4) from a hash of the history.
inline void fake_logits(std::span<const int32_t> history, int vocab, float* out) {
  uint64_t h = 0x1234;
  for (int32_t t : history) h = mix64(h + static_cast<uint64_t>(t) + 0x9e3779b97f4a7c15ULL);
  for (int v = 0; v < vocab; ++v) {
    out[v] = static_cast<float>(mix64(h ^ (static_cast<uint64_t>(v) << 20)) % 1000) / 250.0f;
  }
}

// A pure sampler independent of engine::sample: greedy at temperature 0, else
// one of the three best allowed ids chosen by (seed, output length).
inline engine::SampledToken test_sample(const engine::SampleInput& in) {
  const int vocab = static_cast<int>(in.logits.size());
  auto allowed = [&](int v) {
    for (int32_t s : in.suppressed) {
      if (s == v) return false;
    }
    return true;
  };
  std::vector<int> best;
  for (int k = 0; k < 3; ++k) {
    int arg = -1;
    for (int v = 0; v < vocab; ++v) {
      if (!allowed(v)) continue;
      bool taken = false;
      for (int b : best) taken = taken || b == v;
      if (taken) continue;
      if (arg < 0 || in.logits[static_cast<size_t>(v)] > in.logits[static_cast<size_t>(arg)]) arg = v;
    }
    best.push_back(arg);
  }
  engine::SampledToken t;
  if (in.params->temperature == 0.0f) {
    t.token = best[0];
  } else {
    t.token = best[mix64(in.seed ^ (in.output.size() * 0x100000001b3ULL)) % 3];
  }
  t.logprob = -static_cast<float>(t.token) / 100.0f;  // a recognisable value
  return t;
}

using SampleFn = std::function<engine::SampledToken(const engine::SampleInput&)>;

// What a request must produce, computed without any scheduler: the fake model
// applied to the growing history, one token at a time.
struct Expected {
  std::vector<int32_t> tokens;
  FinishReason finish = FinishReason::kNone;
};

inline Expected reference_generate(const GenerationRequest& r, uint64_t seed, int vocab, int max_context,
                                   const SampleFn& sample) {
  Expected e;
  std::vector<int32_t> history = r.prompt;
  std::vector<float> logits(static_cast<size_t>(vocab));
  while (true) {
    fake_logits(history, vocab, logits.data());
    std::vector<int32_t> suppressed;
    const int n_out = static_cast<int>(e.tokens.size());
    if (n_out < r.stop.min_tokens) {
      if (!r.stop.ignore_eos) suppressed = r.stop.eos_token_ids;
      suppressed.insert(suppressed.end(), r.stop.stop_token_ids.begin(), r.stop.stop_token_ids.end());
    }
    engine::SampleInput in;
    in.logits = logits;
    in.params = &r.sampling;
    in.prompt = r.prompt;
    in.output = e.tokens;
    in.seed = seed;
    in.suppressed = suppressed;
    const int32_t t = sample(in).token;
    e.tokens.push_back(t);
    history.push_back(t);
    auto has = [t](const std::vector<int32_t>& v) {
      for (int32_t x : v) {
        if (x == t) return true;
      }
      return false;
    };
    const int n = static_cast<int>(e.tokens.size());
    if (n > r.stop.min_tokens && ((!r.stop.ignore_eos && has(r.stop.eos_token_ids)) || has(r.stop.stop_token_ids))) {
      e.finish = FinishReason::kStop;
      return e;
    }
    if (n >= r.stop.max_tokens || static_cast<int>(history.size()) >= max_context) {
      e.finish = FinishReason::kLength;
      return e;
    }
  }
}

// A KvBlob with no host bytes (like a device blob reaching a runner of
// another kind): readable only through copy_to_host, which it counts.
class OpaqueKvBlob final : public engine::KvBlob {
 public:
  OpaqueKvBlob(std::vector<std::byte> bytes, int num_blocks, size_t block_bytes, std::atomic<int>* reads)
      : bytes_(std::move(bytes)), num_blocks_(num_blocks), block_bytes_(block_bytes), reads_(reads) {}
  int device() const override { return 0; }
  int num_blocks() const override { return num_blocks_; }
  size_t block_bytes() const override { return block_bytes_; }
  Status copy_to_host(int first, std::span<std::byte> out) const override {
    if (Status s = check_range(first, out.size()); !s.ok()) return s;
    reads_->fetch_add(1);
    std::memcpy(out.data(), bytes_.data() + static_cast<size_t>(first) * block_bytes_, out.size());
    return {};
  }

 private:
  std::vector<std::byte> bytes_;
  int num_blocks_;
  size_t block_bytes_;
  std::atomic<int>* reads_;
};

class FakeRunner final : public engine::Runner {
  // A view of the runner's cache (KvBlob::borrows_source).
  class BorrowedBlob final : public engine::KvBlob {
   public:
    BorrowedBlob(FakeRunner& r, std::vector<int32_t> ids) : r_(r), ids_(std::move(ids)) {}
    int device() const override { return kHostDevice; }
    int num_blocks() const override { return static_cast<int>(ids_.size()); }
    size_t block_bytes() const override { return r_.block_bytes(); }
    bool borrows_source() const override { return true; }
    Status copy_to_host(int first, std::span<std::byte> out) const override {
      if (Status s = check_range(first, out.size()); !s.ok()) return s;
      const std::span<const int32_t> ids =
          std::span<const int32_t>(ids_).subspan(static_cast<size_t>(first), out.size() / block_bytes());
      return r_.export_blocks(ids, out);
    }

   private:
    FakeRunner& r_;
    std::vector<int32_t> ids_;
  };

 public:
  FakeRunner(int vocab, int max_position, int block_tokens, int num_blocks)
      : block_tokens_(block_tokens),
        num_blocks_(num_blocks),
        cache_(static_cast<size_t>(block_tokens) * static_cast<size_t>(num_blocks), -1) {
    spec_.vocab = vocab;
    spec_.max_position = max_position;
    spec_.n_layers = 1;
    spec_.n_kv_heads = 1;
    spec_.head_dim = 1;
  }

  const engine::ModelSpec& spec() const override { return spec_; }
  int block_tokens() const override { return block_tokens_; }
  int num_blocks() const override { return num_blocks_; }
  size_t block_bytes() const override { return static_cast<size_t>(block_tokens_) * sizeof(int32_t); }

  Status step(const engine::StepBatch& batch, std::vector<float>& logits) override {
    entered.fetch_add(1);
    if (gate) gate();
    const int n = steps.fetch_add(1) + 1;
    if (fail_at_step > 0 && n >= fail_at_step) return {ErrorKind::kDevice, "fake device fault"};
    int tokens = 0, rows = 0;
    for (const auto& s : batch.seqs) {
      tokens += static_cast<int>(s.tokens.size());
      rows += s.want_logits ? 1 : 0;
    }
    if (on_batch) on_batch(batch);
    batch_tokens.push_back(tokens);
    batch_seqs.push_back(static_cast<int>(batch.seqs.size()));
    logits.assign(static_cast<size_t>(rows) * static_cast<size_t>(spec_.vocab), 0.0f);
    size_t row = 0;
    for (const auto& s : batch.seqs) {
      if (s.tokens.empty()) return {ErrorKind::kInvalidRequest, "empty sequence step"};
      const int end = s.start_pos + static_cast<int>(s.tokens.size());
      if (static_cast<int>(s.block_table.size()) * block_tokens_ < end) {
        return {ErrorKind::kInvalidRequest, "block table too short"};
      }
      for (int32_t b : s.block_table) {
        if (b < 0 || b >= num_blocks_) return {ErrorKind::kInvalidRequest, "block id out of range"};
      }
      for (size_t i = 0; i < s.tokens.size(); ++i) slot(s.block_table, s.start_pos + static_cast<int>(i)) = s.tokens[i];
      if (!s.want_logits) continue;
      std::vector<int32_t> history;
      for (int p = 0; p < end; ++p) {
        const int32_t t = slot(s.block_table, p);
        if (t < 0) return {ErrorKind::kInternal, "read a KV slot never written"};
        history.push_back(t);
      }
      fake_logits(history, spec_.vocab, logits.data() + row * static_cast<size_t>(spec_.vocab));
      ++row;
    }
    return {};
  }

  Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) override {
    for (size_t i = 0; i < src.size(); ++i) {
      for (int j = 0; j < block_tokens_; ++j) {
        cache_[static_cast<size_t>(dst[i] * block_tokens_ + j)] =
            cache_[static_cast<size_t>(src[i] * block_tokens_ + j)];
      }
    }
    return {};
  }

  Status export_blocks(std::span<const int32_t> ids, std::span<std::byte> out) override {
    if (Status s = check_block_bytes("export_blocks", ids, out.size()); !s.ok()) return s;
    if (fail_exports > 0 && exports.fetch_add(1) % fail_exports == fail_exports - 1) {
      return {ErrorKind::kDevice, "fake export fault"};
    }
    const size_t bytes = block_bytes();
    for (size_t i = 0; i < ids.size(); ++i) {
      std::memcpy(out.data() + i * bytes, &cache_[static_cast<size_t>(ids[i]) * static_cast<size_t>(block_tokens_)],
                  bytes);
    }
    return {};
  }

  // With borrow_blobs and BlobMode::kBorrow, export_blob hands out blobs that
  // read this runner's cache in place at import time (so a block reused
  // before the import would show); with opaque_blobs, OpaqueKvBlobs (through
  // export_blocks, so its faults apply); otherwise Runner's host blobs.
  Result<std::unique_ptr<engine::KvBlob>> export_blob(std::span<const int32_t> ids, engine::BlobMode mode) override {
    if (borrow_blobs && mode == engine::BlobMode::kBorrow) {
      if (Status s = check_block_bytes("export_blob", ids, ids.size() * block_bytes()); !s.ok()) return s;
      borrowed.fetch_add(1);
      return std::unique_ptr<engine::KvBlob>(new BorrowedBlob(*this, {ids.begin(), ids.end()}));
    }
    if (!opaque_blobs) return Runner::export_blob(ids, mode);
    std::vector<std::byte> bytes(ids.size() * block_bytes());
    if (Status s = export_blocks(ids, bytes); !s.ok()) return s;
    return std::unique_ptr<engine::KvBlob>(
        new OpaqueKvBlob(std::move(bytes), static_cast<int>(ids.size()), block_bytes(), &opaque_reads));
  }

  Status import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in) override {
    if (Status s = check_block_bytes("import_blocks", ids, in.size()); !s.ok()) return s;
    if (fail_imports > 0 && imports.fetch_add(1) % fail_imports == fail_imports - 1) {
      return {ErrorKind::kDevice, "fake import fault"};
    }
    const size_t bytes = block_bytes();
    for (size_t i = 0; i < ids.size(); ++i) {
      std::memcpy(&cache_[static_cast<size_t>(ids[i]) * static_cast<size_t>(block_tokens_)], in.data() + i * bytes,
                  bytes);
    }
    imported_blocks.fetch_add(static_cast<int>(ids.size()));
    return {};
  }

  // Knobs and records (set before the worker starts; read after it stops or
  // from the worker thread only, except the atomics).
  std::function<void()> gate;  // called at the start of every step
  // Called with every step's batch after the gate (e.g. to advance a fake
  // clock by the step's modelled cost).
  std::function<void(const engine::StepBatch&)> on_batch;
  int fail_at_step = 0;         // > 0: that step and later ones fail with kDevice
  std::atomic<int> entered{0};  // steps begun (before the gate)
  std::atomic<int> steps{0};    // steps past the gate
  int fail_exports = 0;         // > 0: every Nth export_blocks fails with kDevice
  int fail_imports = 0;         // > 0: every Nth import_blocks fails with kDevice
  std::atomic<int> exports{0};  // export_blocks calls past the checks
  std::atomic<int> imports{0};  // import_blocks calls past the checks
  std::atomic<int> imported_blocks{0};
  bool opaque_blobs = false;         // export_blob makes OpaqueKvBlobs
  bool borrow_blobs = false;         // export_blob(kBorrow) makes blobs reading the cache in place
  std::atomic<int> borrowed{0};      // such blobs made
  std::atomic<int> opaque_reads{0};  // OpaqueKvBlob::copy_to_host calls (blobs this runner made)
  std::vector<int> batch_tokens;     // tokens per step
  std::vector<int> batch_seqs;       // sequences per step

 private:
  int32_t& slot(std::span<const int32_t> table, int pos) {
    const int32_t b = table[static_cast<size_t>(pos / block_tokens_)];
    return cache_[static_cast<size_t>(b) * static_cast<size_t>(block_tokens_) +
                  static_cast<size_t>(pos % block_tokens_)];
  }

  engine::ModelSpec spec_;
  int block_tokens_;
  int num_blocks_;
  std::vector<int32_t> cache_;
};

// Collects the events of one request; thread-safe.
class Collector {
 public:
  TokenSink sink() {
    return [this](TokenEvent&& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(e));
      if (events_.back().finish != FinishReason::kNone) cv_.notify_all();
    };
  }
  // Waits for the final event; false on timeout.
  bool wait_final(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout,
                        [&] { return !events_.empty() && events_.back().finish != FinishReason::kNone; });
  }
  std::vector<TokenEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<int32_t> tokens() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int32_t> out;
    for (const auto& e : events_) {
      for (const auto& t : e.tokens) out.push_back(t.token);
    }
    return out;
  }
  FinishReason finish() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.empty() ? FinishReason::kNone : events_.back().finish;
  }
  int num_final() const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& e : events_) n += e.finish != FinishReason::kNone ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TokenEvent> events_;
};

// Blocks runner steps while closed (FakeRunner::gate = [&] { gate.pass(); }).
class Gate {
 public:
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
};

// Polls `cond` until it holds or `timeout` passes.
template <class F>
bool eventually(F cond, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cond();
}

inline std::vector<int32_t> make_prompt(int n, int32_t seed, int vocab) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i)
    p.push_back(static_cast<int32_t>(mix64(static_cast<uint64_t>(seed) * 1000 + i) % static_cast<uint64_t>(vocab)));
  return p;
}

}  // namespace tandem::scheduler::testing
