#pragma once

// FUZZ_CHECK(cond): an invariant of a fuzz target. On failure it prints the
// condition and aborts, which libFuzzer reports as a crash and saves the
// input for (scripts/fuzz.sh keeps it under findings/).

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
