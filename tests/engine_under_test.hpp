// The storage engine the conformance suites run on (R-ST1: one suite, every
// engine). Chosen by the environment variable SOURCERY_TEST_ENGINE, which
// tests/CMakeLists.txt sets for each registered run: "in_memory" (the
// default when unset) or any engine compiled into this build. An engine
// that is named but not available fails the run — it is never skipped.
#pragma once

#include <sourcery/storage/engine.hpp>
#include <sourcery/storage/in_memory.hpp>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace test_engine {

inline std::string name() {
  const char* e = std::getenv("SOURCERY_TEST_ENGINE");
  return e && *e ? e : "in_memory";
}

/// A fresh, empty engine of the kind under test.
inline std::shared_ptr<sourcery::storage::engine> make() {
  auto which = name();
  if (which == "in_memory")
    return sourcery::storage::make_in_memory_engine();
  throw std::runtime_error("SOURCERY_TEST_ENGINE=" + which
                           + ": no such engine in this build (known: in_memory)");
}

} // namespace test_engine
