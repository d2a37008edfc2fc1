#include "scheduler/step_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "common/check.h"
#include "scheduler/stop_check.h"

namespace tandem::scheduler {
namespace {

// Moves the sequence `s` out of `from` (a vector or deque of owners).
template <class Container>
std::unique_ptr<Sequence> take(Container& from, const Sequence* s) {
  auto it = std::find_if(from.begin(), from.end(), [s](const auto& p) { return p.get() == s; });
  if (it == from.end()) return nullptr;
  std::unique_ptr<Sequence> out = std::move(*it);
  from.erase(it);
  return out;
}

}  // namespace

StepScheduler::StepScheduler(SchedulerOptions options, kv::BlockPool& pool, Sampler sampler, WorkerMetrics* metrics)
    : options_(std::move(options)), pool_(pool), sampler_(std::move(sampler)), metrics_(metrics) {
  TANDEM_CHECK(options_.max_batch_tokens >= 1);
  TANDEM_CHECK(options_.max_running >= 1);
  TANDEM_CHECK(options_.max_context >= 1);
  TANDEM_CHECK(options_.vocab >= 1);
  update_metrics();
}

StepScheduler::~StepScheduler() {
  // Sequences still here own blocks; give them back so the pool stays
  // consistent for whoever inspects it after us.
  for (auto& s : running_) {
    if (!s->blocks.empty()) pool_.release(s->blocks);
  }
}

void StepScheduler::enqueue(std::unique_ptr<Sequence> seq) {
  TANDEM_CHECK(seq && seq->state == SequenceState::kWaiting);
  TANDEM_CHECK_MSG(by_id_.emplace(seq->id(), seq.get()).second, "duplicate request id in a worker");
  waiting_.push_back(std::move(seq));
  update_metrics();
}

void StepScheduler::request_cancel(const std::string& id) {
  auto it = by_id_.find(id);
  if (it != by_id_.end()) it->second->cancel_requested = true;
}

int64_t StepScheduler::load_tokens() const {
  int64_t total = 0;
  for (const auto& s : waiting_) total += s->num_tokens();
  for (const auto& s : running_) total += s->num_tokens();
  return total;
}

namespace {

PendingWork pending_work(const Sequence& s, int max_context) {
  PendingWork w;
  w.prefill_tokens = s.state == SequenceState::kDecoding ? 0 : s.num_uncomputed();
  if (!s.handoff) {
    w.decode_tokens = std::max(0, std::min(s.request.stop.max_tokens - s.num_output(), max_context - s.num_tokens()));
  }
  return w;
}

}  // namespace

void StepScheduler::backlog(WorkerBacklog& out) const {
  out.max_running = options_.max_running;
  out.running.clear();
  out.waiting.clear();
  for (const auto& s : running_) out.running.push_back(pending_work(*s, options_.max_context));
  for (const auto& s : waiting_) out.waiting.push_back(pending_work(*s, options_.max_context));
}

std::vector<const Sequence*> StepScheduler::running() const {
  std::vector<const Sequence*> out;
  for (const auto& s : running_) out.push_back(s.get());
  return out;
}

std::vector<const Sequence*> StepScheduler::waiting() const {
  std::vector<const Sequence*> out;
  for (const auto& s : waiting_) out.push_back(s.get());
  return out;
}

void StepScheduler::attach_tiers(kv::TierCache* tiers, engine::Runner* runner) {
  TANDEM_CHECK(tiers != nullptr && runner != nullptr && pool_.prefix_caching());
  TANDEM_CHECK(runner->block_tokens() == pool_.block_tokens());
  tiers_ = tiers;
  tier_runner_ = runner;
}

// ---- reap -------------------------------------------------------------------

void StepScheduler::reap(Clock::time_point now) {
  std::vector<Sequence*> doomed;
  for (const auto& s : running_) {
    if (s->cancel_seen() || now >= s->request.deadline) doomed.push_back(s.get());
  }
  for (const auto& s : waiting_) {
    if (s->cancel_seen() || now >= s->request.deadline) doomed.push_back(s.get());
  }
  // The deadline is the server's own limit on the request: it ends as a
  // length limit does, so OpenAI clients see "length".
  for (Sequence* s : doomed) {
    finish(*s, s->cancel_seen() ? FinishReason::kCancelled : FinishReason::kLength, {}, std::nullopt);
  }
}

// ---- schedule ---------------------------------------------------------------

bool StepScheduler::grow_blocks(Sequence& seq, int positions) {
  const int need = pool_.blocks_for(positions) - static_cast<int>(seq.blocks.size());
  if (need <= 0) return true;
  kv::BlockPool::Plan plan = pool_.plan();
  if (plan.add({{}, need}) < 0) return false;
  std::vector<kv::BlockId> ids = pool_.commit(std::move(plan))[0];
  seq.blocks.insert(seq.blocks.end(), ids.begin(), ids.end());
  return true;
}

Sequence* StepScheduler::preempt_youngest(StepPlan& plan, int& budget) {
  TANDEM_CHECK(!running_.empty());
  std::unique_ptr<Sequence> victim = std::move(running_.back());
  running_.pop_back();
  Sequence* v = victim.get();
  auto chunk =
      std::find_if(plan.chunks.begin(), plan.chunks.end(), [v](const ScheduledChunk& c) { return c.seq == v; });
  if (chunk != plan.chunks.end()) {
    budget += chunk->count;
    plan.num_tokens -= chunk->count;
    plan.chunks.erase(chunk);
  }
  pool_.release(v->blocks);
  v->blocks.clear();
  v->hashes.clear();
  v->num_computed = 0;
  v->handed_over_at.reset();  // it recomputes: no longer a hand-off's first step
  v->set_state(SequenceState::kPreempted);
  waiting_.push_front(std::move(victim));
  ++plan.num_preempted;
  ++preemptions_;
  if (metrics_) metrics_->add_preemption();
  spdlog::debug("[scheduler] worker={} req={} preempted ({} tokens to recompute)", options_.worker, v->id(),
                v->num_tokens());
  return v;
}

bool StepScheduler::admit_front(StepPlan& plan, int& budget, Clock::time_point now) {
  Sequence& seq = *waiting_.front();
  const int bt = pool_.block_tokens();
  // Always compute the last token: its logits give the next token.
  const int max_blocks = (seq.num_tokens() - 1) / bt;
  const kv::PrefixMatch hit = pool_.match_prefix(seq.root, seq.tokens, max_blocks);
  // The blocks that follow the device hit in the tiers below it.
  std::vector<kv::BlockHash> lower;
  if (tiers_) {
    kv::BlockHash parent = hit.hashes.empty() ? seq.root : hit.hashes.back();
    for (int i = static_cast<int>(hit.blocks.size()); i < max_blocks; ++i) {
      const auto tokens =
          std::span<const int32_t>(seq.tokens).subspan(static_cast<size_t>(i * bt), static_cast<size_t>(bt));
      const kv::BlockHash h = kv::chain_hash(parent, tokens);
      if (!tiers_->find(h, parent, tokens)) break;
      lower.push_back(h);
      parent = h;
    }
  }
  const int device_blocks = static_cast<int>(hit.blocks.size());
  int cached = (device_blocks + static_cast<int>(lower.size())) * bt;
  int n = std::min(seq.num_tokens() - cached, budget);
  const int fresh = pool_.blocks_for(cached + n) - device_blocks;
  kv::BlockPool::Plan p = pool_.plan();
  if (p.add({hit.blocks, fresh}) < 0) return false;
  std::vector<kv::BlockId> ids = pool_.commit(std::move(p))[0];
  seq.blocks = hit.blocks;
  seq.blocks.insert(seq.blocks.end(), ids.begin(), ids.end());
  seq.hashes = hit.hashes;
  int tier_tokens[3] = {device_blocks * bt, 0, 0};
  if (tiers_) {
    for (kv::BlockHash h : hit.hashes) tiers_->touch(h);
    // Load the lower-tier blocks into the first fresh blocks; they are stored
    // in the pool (and so announced) once the first chunk has run.
    size_t loaded = 0;
    for (; loaded < lower.size(); ++loaded) {
      const int i = device_blocks + static_cast<int>(loaded);
      const kv::BlockHash parent = i == 0 ? seq.root : (loaded == 0 ? hit.hashes.back() : lower[loaded - 1]);
      const auto tokens =
          std::span<const int32_t>(seq.tokens).subspan(static_cast<size_t>(i * bt), static_cast<size_t>(bt));
      const int32_t id = ids[loaded];
      kv::KvTier from = kv::KvTier::kHost;
      const bool ok = tiers_->onboard(
          lower[loaded], parent, tokens,
          [&](std::span<const std::byte> bytes) {
            return tier_runner_->import_blocks(std::span<const int32_t>(&id, 1), bytes);
          },
          &from);
      if (!ok) break;
      tier_tokens[static_cast<int>(from)] += bt;
    }
    if (loaded < lower.size()) {
      // The hit ends at the block that did not load; what follows is computed
      // (the blocks already allocated cover it: fewer positions, same budget).
      cached = (device_blocks + static_cast<int>(loaded)) * bt;
      n = std::min(seq.num_tokens() - cached, n);
    }
  }
  seq.num_computed = cached;
  if (!seq.scheduled_once) {
    seq.scheduled_once = true;
    seq.queue_seconds = std::chrono::duration<double>(now - seq.submitted).count();
    seq.cached_tokens = cached;
    if (metrics_ && pool_.prefix_caching()) metrics_->add_prefix_lookup(seq.num_prompt, cached);
    if (tiers_) {
      for (kv::KvTier t : {kv::KvTier::kDevice, kv::KvTier::kHost, kv::KvTier::kDisk}) {
        tiers_->count_hit(t, tier_tokens[static_cast<int>(t)]);
      }
    }
  }
  seq.set_state(SequenceState::kPrefilling);
  seq.admit_order = next_admit_order_++;
  running_.push_back(std::move(waiting_.front()));
  waiting_.pop_front();
  plan.chunks.push_back({&seq, cached, n, cached + n == seq.num_tokens()});
  plan.num_tokens += n;
  budget -= n;
  return true;
}

StepPlan StepScheduler::schedule(Clock::time_point now) {
  StepPlan plan;
  int budget = options_.max_batch_tokens;
  // Capacity for the running set: decodes first, then prefill chunks, both
  // oldest first.
  std::vector<Sequence*> order;
  for (const auto& s : running_) {
    if (s->state == SequenceState::kDecoding) order.push_back(s.get());
  }
  for (const auto& s : running_) {
    if (s->state == SequenceState::kPrefilling) order.push_back(s.get());
  }
  for (Sequence* seq : order) {
    if (seq->state == SequenceState::kPreempted) continue;  // a victim of an earlier one
    if (budget == 0) break;
    const int n = std::min(seq->num_uncomputed(), budget);
    TANDEM_CHECK(n >= 1);
    bool scheduled = false;
    while (true) {
      if (grow_blocks(*seq, seq->num_computed + n)) {
        scheduled = true;
        break;
      }
      if (preempt_youngest(plan, budget) == seq) break;
    }
    if (!scheduled) continue;
    plan.chunks.push_back({seq, seq->num_computed, n, seq->num_computed + n == seq->num_tokens()});
    plan.num_tokens += n;
    budget -= n;
  }
  // Admission, unless this step already had to preempt.
  if (plan.num_preempted == 0) {
    while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < options_.max_running) {
      if (!admit_front(plan, budget, now)) break;
    }
  }
  update_metrics();
  return plan;
}

// ---- build_batch --------------------------------------------------------------

engine::StepBatch StepScheduler::build_batch(const StepPlan& plan) {
  engine::StepBatch batch;
  batch.seqs.reserve(plan.chunks.size());
  for (const ScheduledChunk& c : plan.chunks) {
    engine::SequenceStep s;
    s.tokens =
        std::span<const int32_t>(c.seq->tokens).subspan(static_cast<size_t>(c.start), static_cast<size_t>(c.count));
    s.start_pos = c.start;
    s.block_table = c.seq->blocks;
    s.want_logits = c.want_logits;
    batch.seqs.push_back(s);
  }
  return batch;
}

// ---- apply / fail -------------------------------------------------------------

void StepScheduler::store_full_blocks(Sequence& seq) {
  const int bt = pool_.block_tokens();
  const size_t full = std::min(static_cast<size_t>(seq.num_computed / bt), seq.blocks.size());
  while (seq.hashes.size() < full) {
    const size_t i = seq.hashes.size();
    const kv::BlockHash parent = i == 0 ? seq.root : seq.hashes[i - 1];
    const auto tokens =
        std::span<const int32_t>(seq.tokens).subspan(i * static_cast<size_t>(bt), static_cast<size_t>(bt));
    const kv::BlockHash h = pool_.store(seq.blocks[i], parent, tokens);
    seq.hashes.push_back(h);
    if (tiers_) {
      // Write-through to the host tier (nothing when it holds the block).
      const int32_t id = seq.blocks[i];
      tiers_->offload(h, parent, tokens, [&](std::span<std::byte> slot) {
        return tier_runner_->export_blocks(std::span<const int32_t>(&id, 1), slot);
      });
    }
  }
}

template <class NextToken>
size_t StepScheduler::apply_rows(const StepPlan& plan, NextToken&& next_token) {
  size_t row = 0;
  for (const ScheduledChunk& c : plan.chunks) {
    Sequence& s = *c.seq;
    TANDEM_CHECK(s.is_running() && s.num_computed == c.start);
    s.num_computed += c.count;
    store_full_blocks(s);
    if (!c.want_logits) continue;
    SampledToken tok = next_token(s, row);
    ++row;
    if (s.request.constraint && !accept_constrained(s, tok, row - 1)) continue;
    TANDEM_CHECK_MSG(tok.token >= 0 && tok.token < options_.vocab, "sampler returned an id outside the vocabulary");
    const int32_t id = tok.token;
    s.tokens.push_back(id);
    s.pending.push_back(std::move(tok));
    s.set_state(SequenceState::kDecoding);
    const StopDecision d = check_stop(s.request.stop, id, s.num_output(), s.num_tokens(), options_.max_context);
    if (d.reason != FinishReason::kNone) {
      finish(s, d.reason, {}, d.stop_token);
    } else if (s.request.constraint && s.request.constraint->finished()) {
      finish(s, FinishReason::kStop, {}, std::nullopt);  // the structured output is complete
    }
  }
  return row;
}

bool StepScheduler::accept_constrained(Sequence& s, const SampledToken& tok, size_t row) {
  const bool none_allowed = (row < no_token_.size() && no_token_[row] != 0) || tok.token == engine::kNoAllowedToken;
  if (none_allowed) {
    finish(s, FinishReason::kError,
           Status(ErrorKind::kInvalidRequest,
                  "structured output: no token can continue the output the grammar allows after " +
                      std::to_string(s.num_output()) +
                      " generated tokens (the request's format cannot be completed "
                      "with this model's vocabulary)"),
           std::nullopt);
    return false;
  }
  if (tok.token < 0 || tok.token >= options_.vocab || !s.request.constraint->accept(tok.token)) {
    spdlog::error("[scheduler] worker={} req={} sampled token {} that its grammar does not allow", options_.worker,
                  s.id(), tok.token);
    finish(s, FinishReason::kError,
           Status(ErrorKind::kInternal, "structured output: the sampler returned token " + std::to_string(tok.token) +
                                            ", which the grammar does not allow"),
           std::nullopt);
    return false;
  }
  return true;
}

void StepScheduler::apply(const StepPlan& plan, std::span<const float> logits) {
  TANDEM_CHECK(static_cast<bool>(sampler_));
  const size_t vocab = static_cast<size_t>(options_.vocab);
  const size_t words = (vocab + 31) / 32;
  no_token_.clear();
  const size_t rows = apply_rows(plan, [&](const Sequence& s, size_t row) {
    TANDEM_CHECK((row + 1) * vocab <= logits.size());
    const std::vector<int32_t> suppressed = suppressed_tokens(s.request.stop, s.num_output());
    engine::SampleInput in;
    in.logits = logits.subspan(row * vocab, vocab);
    in.params = &s.request.sampling;
    in.prompt = s.prompt();
    in.output = s.output();
    in.seed = s.seed;
    in.suppressed = suppressed;
    no_token_.resize(row + 1, 0);
    if (s.request.constraint) {
      masks_.assign(words, 0u);
      no_token_[row] = s.request.constraint->fill_next_token_mask(masks_) ? 0 : 1;
      in.allowed = masks_;
    }
    return sampler_(in);
  });
  TANDEM_CHECK(rows * vocab == logits.size());
}

void StepScheduler::apply(const StepPlan& plan, std::span<SampledToken> tokens) {
  // no_token_ was filled by fill_masks (run()'s hook) for this plan's rows.
  const size_t rows = apply_rows(plan, [&](const Sequence&, size_t row) {
    TANDEM_CHECK(row < tokens.size());
    return std::move(tokens[row]);
  });
  TANDEM_CHECK(rows == tokens.size());
}

std::vector<engine::SampleRow> StepScheduler::sample_rows(const StepPlan& plan, int vocab,
                                                          std::vector<std::vector<int32_t>>& suppressed,
                                                          std::vector<uint32_t>& masks) {
  size_t n = 0;
  size_t constrained = 0;
  for (const ScheduledChunk& c : plan.chunks) {
    n += c.want_logits ? 1 : 0;
    constrained += c.want_logits && c.seq->request.constraint ? 1 : 0;
  }
  const size_t words = (static_cast<size_t>(vocab) + 31) / 32;
  suppressed.resize(n);               // sized before any span into it is taken
  masks.resize(constrained * words);  // likewise
  size_t next_mask = 0;
  std::vector<engine::SampleRow> rows;
  rows.reserve(n);
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.want_logits) continue;
    const Sequence& s = *c.seq;
    std::vector<int32_t>& sup = suppressed[rows.size()];
    sup = suppressed_tokens(s.request.stop, s.num_output());
    engine::SampleRow r;
    r.params = &s.request.sampling;
    r.prompt = s.prompt();
    r.output = s.output();
    r.seed = s.seed;
    r.suppressed = sup;
    if (s.request.constraint) {
      r.allowed = std::span<const uint32_t>(masks).subspan(next_mask * words, words);
      ++next_mask;
    }
    rows.push_back(r);
  }
  return rows;
}

void StepScheduler::fill_masks(const StepPlan& plan, std::span<const engine::SampleRow> rows,
                               std::vector<uint32_t>& masks, std::vector<uint8_t>& no_token) {
  no_token.assign(rows.size(), 0);
  size_t row = 0;
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.want_logits) continue;
    TANDEM_CHECK(row < rows.size());
    const std::span<const uint32_t> allowed = rows[row].allowed;
    if (c.seq->request.constraint) {
      TANDEM_CHECK(!allowed.empty() && allowed.data() >= masks.data() &&
                   allowed.data() + allowed.size() <= masks.data() + masks.size());
      const std::span<uint32_t> mask(masks.data() + (allowed.data() - masks.data()), allowed.size());
      std::fill(mask.begin(), mask.end(), 0u);
      no_token[row] = c.seq->request.constraint->fill_next_token_mask(mask) ? 0 : 1;
    }
    ++row;
  }
}

void StepScheduler::fail(const StepPlan& plan, const Status& error) {
  for (const ScheduledChunk& c : plan.chunks) {
    if (c.seq->state != SequenceState::kFinished) finish(*c.seq, FinishReason::kError, error, std::nullopt);
  }
}

void StepScheduler::finish(Sequence& seq, FinishReason reason, Status error, std::optional<int32_t> stop_token) {
  if (reason == FinishReason::kError && seq.handoff && !seq.cancel_seen()) {
    // A remote prefill that failed here: the decode worker prefills it locally.
    spdlog::warn("[scheduler] worker={} req={} prefill failed ({}); handing it over without KV", options_.worker,
                 seq.id(), error.message());
    Handoff h;
    h.from = options_.worker;
    h.seq = detach(seq);
    handoffs_.push_back(std::move(h));
    return;
  }
  if (!seq.blocks.empty()) pool_.release(seq.blocks);
  seq.blocks.clear();
  seq.hashes.clear();
  seq.set_state(SequenceState::kFinished);
  seq.finish = reason;
  seq.error = std::move(error);
  seq.stop_token = stop_token;
  std::unique_ptr<Sequence> owner = take(running_, &seq);
  if (!owner) owner = take(waiting_, &seq);
  TANDEM_CHECK(owner != nullptr);
  by_id_.erase(seq.id());
  finished_.push_back(std::move(owner));
}

std::unique_ptr<Sequence> StepScheduler::detach(Sequence& seq, bool keep_blocks) {
  if (!seq.blocks.empty() && !keep_blocks) pool_.release(seq.blocks);
  seq.blocks.clear();
  seq.hashes.clear();
  seq.num_computed = 0;
  seq.set_state(SequenceState::kMigrating);
  std::unique_ptr<Sequence> owner = take(running_, &seq);
  if (!owner) owner = take(waiting_, &seq);
  TANDEM_CHECK(owner != nullptr);
  by_id_.erase(seq.id());
  return owner;
}

// ---- hand-off (disaggregated serving) ---------------------------------------------

void StepScheduler::hand_off(engine::Runner& runner) {
  std::vector<Sequence*> ready;
  for (const auto& s : running_) {
    if (s->handoff && s->state == SequenceState::kDecoding) ready.push_back(s.get());
  }
  const auto prefilled_at = Clock::now();
  for (Sequence* s : ready) {
    TANDEM_CHECK(s->pending.empty());  // the first token was published
    Handoff h;
    h.from = options_.worker;
    h.handed_over_at = prefilled_at;
    const int positions = s->num_computed;
    const int first = std::clamp(s->handoff_skip_blocks, 0, pool_.blocks_for(positions));
    const std::vector<int32_t> ids(s->blocks.begin() + first, s->blocks.begin() + pool_.blocks_for(positions));
    const auto t0 = Clock::now();
    Result<std::unique_ptr<engine::KvBlob>> blob =
        runner.export_blob(ids, give_back_ ? engine::BlobMode::kBorrow : engine::BlobMode::kCopy);
    h.export_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (blob.ok() && *blob != nullptr && (*blob)->num_blocks() == static_cast<int>(ids.size())) {
      h.kv = std::move(blob).value();
      h.kv_positions = positions;
      h.kv_first_block = first;
    } else {
      spdlog::warn("[scheduler] worker={} req={} KV export failed ({}); the decode worker recomputes", options_.worker,
                   s->id(), blob.ok() ? "the runner returned a blob of another size" : blob.status().message());
    }
    // A borrowing blob reads this pool in place: the blocks stay held until the lease comes back.
    const bool lend = h.kv != nullptr && h.kv->borrows_source() && give_back_;
    if (lend) {
      lent_blocks_ += static_cast<int>(s->blocks.size());
      h.lease = std::make_unique<BlockLease>(s->blocks, give_back_);
    } else if (h.kv != nullptr && h.kv->borrows_source()) {
      h.kv.reset();  // not asked for: never hand out a view of blocks released below
      h.kv_positions = 0;
    }
    h.seq = detach(*s, lend);
    handoffs_.push_back(std::move(h));
  }
  if (!ready.empty()) update_metrics();
}

void StepScheduler::release_lent(const std::vector<int32_t>& blocks) {
  TANDEM_CHECK(static_cast<int>(blocks.size()) <= lent_blocks_);
  lent_blocks_ -= static_cast<int>(blocks.size());
  pool_.release(blocks);
  update_metrics();
}

std::vector<Handoff> StepScheduler::take_handoffs() {
  std::vector<Handoff> out;
  out.swap(handoffs_);
  return out;
}

StepScheduler::AdoptResult StepScheduler::adopt(Handoff&& handoff, engine::Runner& runner) {
  AdoptResult r;
  std::unique_ptr<Sequence> seq = std::move(handoff.seq);
  TANDEM_CHECK(seq && seq->state == SequenceState::kMigrating && seq->blocks.empty());
  TANDEM_CHECK_MSG(by_id_.emplace(seq->id(), seq.get()).second, "duplicate request id in a worker");
  seq->handoff = nullptr;
  if (handoff.kv_positions > 0) {
    const int bt = pool_.block_tokens();
    const int n_blocks = pool_.blocks_for(handoff.kv_positions);
    const int first = handoff.kv_first_block;
    TANDEM_CHECK(first >= 0 && first <= n_blocks);
    TANDEM_CHECK(handoff.kv != nullptr && handoff.kv->num_blocks() == n_blocks - first);
    const kv::PrefixMatch hit = pool_.match_prefix(seq->root, seq->tokens, handoff.kv_positions / bt);
    const int cached = static_cast<int>(hit.blocks.size());
    kv::BlockPool::Plan plan = pool_.plan();
    if (cached < first) {
      spdlog::info(
          "[scheduler] worker={} req={} {} of the {} leading blocks {} did not send are no longer cached "
          "here; prefilling locally",
          options_.worker, seq->id(), first - cached, first, handoff.from);
      r.missing_prefix = true;
    } else if (plan.add({hit.blocks, n_blocks - cached}) >= 0) {
      const std::vector<kv::BlockId> fresh = pool_.commit(std::move(plan))[0];
      const auto t0 = Clock::now();
      const Status st = runner.import_blob(fresh, *handoff.kv, cached - first);
      handoff.kv.reset();     // a device blob's staging memory goes back now...
      handoff.lease.reset();  // ...and borrowed blocks to the prefill worker
      r.seconds = handoff.export_seconds + std::chrono::duration<double>(Clock::now() - t0).count();
      std::vector<kv::BlockId> table = hit.blocks;
      table.insert(table.end(), fresh.begin(), fresh.end());
      if (st.ok()) {
        seq->blocks = std::move(table);
        seq->hashes = hit.hashes;
        seq->num_computed = handoff.kv_positions;
        seq->set_state(SequenceState::kDecoding);
        seq->admit_order = next_admit_order_++;
        seq->handed_over_at = handoff.handed_over_at;
        store_full_blocks(*seq);
        r.with_kv = true;
        r.imported_blocks = static_cast<int>(fresh.size());
        r.cached_blocks = cached;
        r.bytes = fresh.size() * runner.block_bytes();
        running_.push_back(std::move(seq));
        update_metrics();
        return r;
      }
      spdlog::warn("[scheduler] worker={} req={} KV import from {} failed ({}); prefilling locally", options_.worker,
                   seq->id(), handoff.from, st.message());
      r.import_failed = true;
      pool_.release(table);
    } else {
      r.no_room = true;
    }
  }
  handoff.kv.reset();
  handoff.lease.reset();
  seq->set_state(SequenceState::kPreempted);
  waiting_.push_front(std::move(seq));
  update_metrics();
  return r;
}

// ---- publish ------------------------------------------------------------------

namespace {

TokenEvent take_event(Sequence& s, const std::string& worker) {
  TokenEvent e;
  e.tokens = std::move(s.pending);
  s.pending.clear();
  if (!s.first_event_sent) {
    s.first_event_sent = true;
    e.prompt_tokens = s.num_prompt;
    e.cached_tokens = s.cached_tokens;
    e.queue_seconds = s.queue_seconds;
    e.worker = worker;
  }
  return e;
}

void deliver(Sequence& s, TokenEvent&& e) {
  try {
    s.request.sink(std::move(e));
  } catch (const std::exception& ex) {
    spdlog::error("[scheduler] req={} token sink threw: {}", s.id(), ex.what());
  } catch (...) {
    spdlog::error("[scheduler] req={} token sink threw", s.id());
  }
}

}  // namespace

void StepScheduler::publish() {
  for (const auto& s : running_) {
    if (!s->pending.empty()) deliver(*s, take_event(*s, options_.worker));
  }
  for (const auto& s : finished_) {
    TokenEvent e = take_event(*s, options_.worker);
    e.finish = s->finish;
    e.error = s->error;
    e.stop_token = s->stop_token;
    deliver(*s, std::move(e));
  }
  finished_.clear();
  update_metrics();
}

// ---- whole iteration ------------------------------------------------------------

Status StepScheduler::run(const StepPlan& plan, engine::Runner& runner) {
  TANDEM_CHECK(!plan.empty());
  const engine::StepBatch batch = build_batch(plan);
  size_t rows = 0;
  int decodes = 0;
  int prefill_tokens = 0;
  for (const ScheduledChunk& c : plan.chunks) {
    rows += c.want_logits ? 1 : 0;
    if (c.seq->state == SequenceState::kDecoding) {
      ++decodes;
    } else {
      prefill_tokens += c.count;
    }
  }
  const auto now = [this] { return options_.step_clock ? options_.step_clock() : Clock::now(); };
  const auto t0 = now();
  const auto handed_over_seen = Clock::now();  // wall clock, like handed_over_at
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.seq->handed_over_at) continue;
    if (metrics_) {
      metrics_->observe_handoff(std::chrono::duration<double>(handed_over_seen - *c.seq->handed_over_at).count());
    }
    c.seq->handed_over_at.reset();
  }
  Status status;
  if (sampler_) {
    status = runner.step(batch, logits_);
    if (status.ok() && logits_.size() != rows * static_cast<size_t>(options_.vocab)) {
      status = Status(ErrorKind::kInternal, "runner returned " + std::to_string(logits_.size()) + " logits, expected " +
                                                std::to_string(rows) + " rows of " + std::to_string(options_.vocab));
    }
  } else {
    const std::vector<engine::SampleRow> sample_in = sample_rows(plan, options_.vocab, suppressed_, masks_);
    no_token_.clear();
    engine::BeforeSampling fill;
    if (!masks_.empty()) fill = [&] { fill_masks(plan, sample_in, masks_, no_token_); };
    status = runner.step_and_sample(batch, sample_in, sampled_, fill);
    if (status.ok() && sampled_.size() != rows) {
      status = Status(ErrorKind::kInternal, "runner sampled " + std::to_string(sampled_.size()) + " tokens, expected " +
                                                std::to_string(rows));
    }
  }
  const double seconds = std::chrono::duration<double>(now() - t0).count();
  if (status.ok()) {
    rates_.observe(decodes, prefill_tokens, seconds);
    if (sampler_) {
      apply(plan, std::span<const float>(logits_));
    } else {
      apply(plan, std::span<SampledToken>(sampled_));
    }
  } else {
    fail(plan, status);
  }
  if (metrics_) metrics_->observe_step(seconds, plan.num_tokens);
  return status;
}

Status StepScheduler::iterate(engine::Runner& runner, Clock::time_point now, const IterationHooks& hooks) {
  reap(now);
  const StepPlan plan = schedule(now);
  if (hooks.planned) hooks.planned();
  Status status;
  if (!plan.empty()) status = run(plan, runner);
  if (!status.ok() && hooks.failed) hooks.failed(status);
  publish();  // updates the queue and KV gauges
  hand_off(runner);
  return status;
}

void StepScheduler::finish_all(FinishReason reason, const Status& error) {
  std::vector<Sequence*> all;
  for (const auto& s : running_) all.push_back(s.get());
  for (const auto& s : waiting_) all.push_back(s.get());
  for (Sequence* s : all) finish(*s, reason, error, std::nullopt);
  publish();
  update_metrics();
}

void StepScheduler::update_metrics() {
  if (!metrics_) return;
  metrics_->set_queue(num_running(), num_waiting());
  metrics_->set_kv(pool_.num_held(), pool_.num_blocks());
}

}  // namespace tandem::scheduler
