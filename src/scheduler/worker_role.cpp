#include "scheduler/worker_role.h"

namespace tandem::scheduler {

const char* worker_role_name(WorkerRole role) {
  switch (role) {
    case WorkerRole::kAggregated: return "aggregated";
    case WorkerRole::kPrefill: return "prefill";
    case WorkerRole::kDecode: return "decode";
  }
  return "unknown";
}

std::optional<WorkerRole> worker_role_from_name(std::string_view name) {
  for (WorkerRole r : {WorkerRole::kAggregated, WorkerRole::kPrefill, WorkerRole::kDecode}) {
    if (name == worker_role_name(r)) return r;
  }
  return std::nullopt;
}

}  // namespace tandem::scheduler
