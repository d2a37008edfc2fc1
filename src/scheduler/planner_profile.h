// scheduler::PlannerProfile: what the SLA planner knows of a worker's speed
// before it serves anything (issue #26). A later `tandem profile` measures it
// on the real engine and stores it; until then it is a plain struct loaded
// from a JSON file (load_planner_profile), so the planner, its simulation and
// its tests do not depend on how the figures were obtained.
//
// Per worker shape (role-independent: a worker's speed does not change with
// its role, only what it is given to do):
//   prefill_seconds(tokens)       one step computing `tokens` prompt tokens
//                                 (one prompt or a batch of chunks), seconds;
//                                 TTFT of a lone prompt of L tokens is
//                                 prefill_seconds(L) when L <= max_batch_tokens
//   decode_seconds(batch, ctx)    one decode step of `batch` sequences whose
//                                 mean context is `ctx` tokens, seconds (the
//                                 ITL of every sequence in it)
// Curves are piecewise linear through the measured points, extended past the
// last point along the last segment (and held at the first point below it).
//
// JSON (version 1):
//   {"version": 1, "shapes": [{
//      "name": "h100-8b", "max_batch_tokens": 2048, "max_running": 64,
//      "kv_tokens": 400000,
//      "prefill": {"tokens": [128, 512, 2048], "seconds": [0.013, 0.028, 0.09]},
//      "decode": {"batch": [1, 16, 64], "context": [512, 4096],
//                 "seconds": [[0.007, 0.008], [0.008, 0.010], [0.010, 0.018]]}}]}
// decode.seconds is [batch][context]. Points strictly increase, times are > 0.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tandem::scheduler {

struct PlannerShape {
  std::string name;
  int max_batch_tokens = 2048;                       // tokens per step the worker is configured with
  int max_running = 64;                              // sequences per step
  long long kv_tokens = 0;                           // KV capacity in tokens (0: unknown, not a limit)
  std::vector<double> prefill_tokens, prefill_s;     // same length >= 1
  std::vector<double> decode_batch, decode_context;  // grid axes, >= 1 point each
  std::vector<std::vector<double>> decode_s;         // [batch][context]

  // Seconds for one step computing `tokens` prompt tokens (0 tokens: 0).
  double prefill_seconds(double tokens) const;
  // Seconds for one decode step of `batch` sequences at mean context `ctx`
  // (batch 0: 0). Bilinear over the grid, extended linearly outside it.
  double decode_seconds(double batch, double ctx) const;
  // Prompt tokens per second at full steps (max_batch_tokens per step).
  double prefill_tokens_per_s() const;
};

struct PlannerProfile {
  std::vector<PlannerShape> shapes;
  // The shape called `name`; null when none.
  const PlannerShape* find(std::string_view name) const;
};

// Parses the JSON above. kMalformedFile naming the field at fault (e.g.
// "shapes[0].decode.seconds[2]: expected 3 numbers").
Result<PlannerProfile> parse_planner_profile(std::string_view json);
// Reads and parses `path` (kIo when it cannot be read; the message names it).
Result<PlannerProfile> load_planner_profile(const std::string& path);

}  // namespace tandem::scheduler
