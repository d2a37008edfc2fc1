// histogram_quantile_cli Q BOUNDS COUNTS: prints metrics::histogram_quantile's
// estimate (%.17g) or "none". BOUNDS and COUNTS are comma-separated; COUNTS are
// per bucket (not cumulative), one more than BOUNDS (the +Inf bucket last).
// tests/reference/metrics/ checks it against Prometheus's own
// histogram_quantile (promtool). Exit status 2 on malformed arguments.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/histogram_quantile.h"

namespace {

template <class T>
bool split(const char* text, std::vector<T>& out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::stringstream v(item);
    T x{};
    if (!(v >> x) || !v.eof()) return false;
    out.push_back(x);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  if (argc != 4 || !split(argv[2], bounds) || !split(argv[3], counts)) {
    std::fprintf(stderr, "usage: histogram_quantile_cli Q BOUND,... COUNT,...\n");
    return 2;
  }
  const auto q = tandem::metrics::histogram_quantile(std::strtod(argv[1], nullptr), bounds, counts);
  if (q) {
    std::printf("%.17g\n", *q);
  } else {
    std::printf("none\n");
  }
  return 0;
}
