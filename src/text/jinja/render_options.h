// jinja::RenderOptions: per-render limits and the injectable clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace tandem::text::jinja {

struct RenderLimits {
  size_t max_output_bytes = 16u << 20;       // rendered text (and any intermediate string)
  uint64_t max_loop_iterations = 1'000'000;  // all for-loop iterations of one render
  int max_call_depth = 64;                   // nested macro calls
  int64_t max_range = 100'000;               // range() length, as Jinja's sandbox (MAX_RANGE)
};

struct RenderOptions {
  RenderLimits limits;
  // The time strftime_now() formats (in the process's local time zone, as
  // Python's datetime.now()). Unset: the current time.
  std::optional<std::chrono::system_clock::time_point> now;
};

}  // namespace tandem::text::jinja
