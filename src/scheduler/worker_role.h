// scheduler::WorkerRole: what a worker does in disaggregated serving
// (docs/design.md, "Worker roles"). The role is a field the worker's step loop
// reads (Worker::set_role applies a new one between two steps), never a class:
// the planner flips roles at run time without reloading weights.
//
//   kAggregated  prefills and decodes its own requests (the only role before
//                disaggregation; what the flat [engine] devices / workers mean)
//   kPrefill     takes prompts the router sends for remote prefill, computes
//                the prompt and the first token, and hands the sequence with
//                its KV blocks to a decode worker
//   kDecode      continues sequences handed over by prefill workers, and
//                prefills locally the prompts the router keeps local
//                (conditional disaggregation)
#pragma once

#include <optional>
#include <string_view>

namespace tandem::scheduler {

enum class WorkerRole {
  kAggregated,
  kPrefill,
  kDecode,
};

// "aggregated", "prefill", "decode" (config values, /ready, metrics labels).
const char* worker_role_name(WorkerRole role);
// The inverse; nullopt for any other text.
std::optional<WorkerRole> worker_role_from_name(std::string_view name);

}  // namespace tandem::scheduler
