// Always-on invariant checks (docs/style.md, error tier 3). Never use on user input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define TANDEM_CHECK(cond)                                                          \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#define TANDEM_CHECK_MSG(cond, msg)                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s: %s\n", __FILE__, __LINE__, #cond, (msg)); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)
