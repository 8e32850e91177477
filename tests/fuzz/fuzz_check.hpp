// What every fuzz target asserts beyond "no crash, no sanitizer report": a
// property that must hold for any input. A violated property aborts, which
// libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                          \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__,      \
                   #condition);                                                        \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)
