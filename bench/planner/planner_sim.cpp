// planner_sim: the SLA planner against every static role split on the bursty
// trace, in the discrete-event model of scheduler/planner_simulation.h (no
// GPU). Prints one row per configuration and the planner's role changes.
// See bench/planner/README.md.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "scheduler/planner_profile.h"
#include "scheduler/planner_simulation.h"

using namespace tandem::scheduler;

namespace {

bool g_verbose = false;

void row(const char* name, const SimResult& r) {
  std::printf("| %-24s | %5d | %5d | %5d | %5d | %5d | %6.2f | %6.1f | %7.0f | %7.0f | %3d |\n", name, r.requests,
              r.violations, r.refused, r.ttft_violations, r.itl_violations, r.ttft_p95_s, r.tpot_p95_s * 1000,
              r.gpu_seconds, r.busy_gpu_seconds, r.role_changes);
  if (g_verbose) {
    std::printf("|   violations by minute:");
    for (int v : r.violations_by_minute) std::printf(" %d", v);
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string profile_path = "bench/planner/synthetic_profile.json";
  int workers = 4;
  uint64_t seed = 1;
  double ttft_ms = 1000, itl_ms = 50, interval_s = 5;
  bool verbose = false;
  bool router_defaults = false;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--profile"))
      profile_path = next();
    else if (!std::strcmp(argv[i], "--workers"))
      workers = std::atoi(next());
    else if (!std::strcmp(argv[i], "--seed"))
      seed = std::strtoull(next(), nullptr, 10);
    else if (!std::strcmp(argv[i], "--ttft-ms"))
      ttft_ms = std::atof(next());
    else if (!std::strcmp(argv[i], "--itl-ms"))
      itl_ms = std::atof(next());
    else if (!std::strcmp(argv[i], "--interval-s"))
      interval_s = std::atof(next());
    else if (!std::strcmp(argv[i], "--router-defaults"))
      router_defaults = true;
    else if (!std::strcmp(argv[i], "--verbose"))
      verbose = g_verbose = true;
    else {
      std::fprintf(stderr,
                   "usage: planner_sim [--profile FILE] [--workers N] [--seed S] [--ttft-ms T] [--itl-ms T] "
                   "[--interval-s S] [--router-defaults] [--verbose]\n");
      return 2;
    }
  }
  if (workers < 1 || ttft_ms <= 0 || itl_ms <= 0 || interval_s <= 0) {
    std::fprintf(stderr, "planner_sim: --workers >= 1, --ttft-ms, --itl-ms and --interval-s > 0\n");
    return 2;
  }
  auto profile = load_planner_profile(profile_path);
  if (!profile) {
    std::fprintf(stderr, "planner_sim: %s\n", profile.status().message().c_str());
    return 1;
  }
  const PlannerShape& shape = profile->shapes.front();
  const auto trace = make_trace(bursty_trace_options(seed));

  SimOptions o;
  o.workers = workers;
  o.planner.ttft_p95_s = ttft_ms / 1000;
  o.planner.itl_p95_s = itl_ms / 1000;
  o.planner.interval_s = interval_s;
  if (router_defaults) {  // serve's conditional disaggregation defaults instead of "every prompt remote"
    o.max_local_prefill_tokens = 1000;
    o.max_prefill_queue = 2;
  }
  std::printf(
      "profile %s (shape %s), %d workers, %zu requests, TTFT target %.0f ms, TPOT target %.0f ms, seed %llu\n\n",
      profile_path.c_str(), shape.name.c_str(), workers, trace.size(), ttft_ms, itl_ms,
      static_cast<unsigned long long>(seed));
  std::printf("| %-24s | %5s | %5s | %5s | %5s | %5s | %6s | %6s | %7s | %7s | %3s |\n", "configuration", "reqs",
              "viol", "refus", "ttft", "tpot", "TTFTp95", "TPOTp95", "GPU-s", "busy-s", "flips");
  std::printf("|%s|\n", std::string(110, '-').c_str());
  int best_static = -1, best_plain = -1;
  for (bool admission : {false, true}) {
    for (int p = 0; p < workers; ++p) {
      o.use_planner = false;
      o.admission = admission;
      o.static_prefill = p;
      const SimResult r = simulate_planner(trace, shape, o);
      std::string name = p == 0 ? "static " + std::to_string(workers) + " aggregated"
                                : "static " + std::to_string(p) + "P + " + std::to_string(workers - p) + "D";
      if (admission) name += " +adm";
      row(name.c_str(), r);
      if (best_static < 0 || r.violations < best_static) best_static = r.violations;
      if (!admission && (best_plain < 0 || r.violations < best_plain)) best_plain = r.violations;
    }
  }
  o.use_planner = true;
  o.initial_prefill = 0;
  o.admission = false;
  row("planner (roles only)", simulate_planner(trace, shape, o));
  o.admission = true;
  const SimResult planned = simulate_planner(trace, shape, o);
  row("planner", planned);
  auto ratio = [](int a, int b) { return b > 0 ? static_cast<double>(a) / b : 0.0; };
  std::printf("\nplanner violations / best static split (no admission limits, as serve runs today): %d / %d = %.2f\n",
              planned.violations, best_plain, ratio(planned.violations, best_plain));
  std::printf("planner violations / best static split with the planner's admission limits: %d / %d = %.2f\n",
              planned.violations, best_static, ratio(planned.violations, best_static));
  if (verbose) {
    std::printf("\nplanner split changes:\n");
    for (const auto& l : planned.log) std::printf("  %s\n", l.c_str());
  }
  return 0;
}
