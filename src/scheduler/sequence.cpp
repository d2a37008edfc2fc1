#include "scheduler/sequence.h"

#include <utility>

#include "common/check.h"

namespace tandem::scheduler {

const char* sequence_state_name(SequenceState state) {
  switch (state) {
    case SequenceState::kWaiting: return "waiting";
    case SequenceState::kPrefilling: return "prefilling";
    case SequenceState::kDecoding: return "decoding";
    case SequenceState::kPreempted: return "preempted";
    case SequenceState::kMigrating: return "migrating";
    case SequenceState::kFinished: return "finished";
  }
  return "unknown";
}

bool sequence_transition_allowed(SequenceState from, SequenceState to) {
  switch (from) {
    case SequenceState::kWaiting:
      return to == SequenceState::kPrefilling || to == SequenceState::kMigrating || to == SequenceState::kFinished;
    case SequenceState::kPrefilling:
      return to == SequenceState::kPrefilling || to == SequenceState::kDecoding || to == SequenceState::kPreempted ||
             to == SequenceState::kMigrating || to == SequenceState::kFinished;
    case SequenceState::kDecoding:
      return to == SequenceState::kDecoding || to == SequenceState::kPreempted || to == SequenceState::kMigrating ||
             to == SequenceState::kFinished;
    case SequenceState::kPreempted:
      return to == SequenceState::kPrefilling || to == SequenceState::kMigrating || to == SequenceState::kFinished;
    case SequenceState::kMigrating:
      return to == SequenceState::kDecoding || to == SequenceState::kPreempted || to == SequenceState::kFinished;
    case SequenceState::kFinished: return false;
  }
  return false;
}

Sequence::Sequence(GenerationRequest req, uint64_t seed_in, kv::BlockHash root_in, Clock::time_point submitted_at)
    : request(std::move(req)), seed(seed_in), root(root_in), submitted(submitted_at) {
  tokens = request.prompt;
  num_prompt = static_cast<int>(tokens.size());
}

void Sequence::set_state(SequenceState to) {
  TANDEM_CHECK_MSG(sequence_transition_allowed(state, to), sequence_state_name(to));
  state = to;
}

}  // namespace tandem::scheduler
