// The storage engine the conformance suites run on (R-ST1: one suite, every
// engine). Chosen by the environment variable SOURCERY_TEST_ENGINE, which
// tests/CMakeLists.txt sets for each registered run: "in_memory" (the
// default when unset) or any engine compiled into this build. An engine
// that is named but not available fails the run — it is never skipped.
#pragma once

#include <sourcery/storage/engine.hpp>
#include <sourcery/storage/in_memory.hpp>
#ifdef SOURCERY_TEST_WITH_ROCKSDB
#include <sourcery/storage/rocksdb.hpp>
#endif
#ifdef SOURCERY_TEST_WITH_POSTGRES
#include <sourcery/storage/postgres.hpp>
#endif

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>
#include <memory>
#include <stdexcept>
#include <string>

namespace test_engine {

inline std::string name() {
  const char* e = std::getenv("SOURCERY_TEST_ENGINE");
  return e && *e ? e : "in_memory";
}

/// A fresh, empty engine of the kind under test.
/// A fresh, empty engine of the kind under test. A durable engine lives in
/// a new temporary folder, removed when the engine is released.
inline std::shared_ptr<sourcery::storage::engine> make() {
  auto which = name();
  if (which == "in_memory")
    return sourcery::storage::make_in_memory_engine();
#ifdef SOURCERY_TEST_WITH_ROCKSDB
  if (which == "rocksdb") {
    static std::atomic<int> counter{0};
    auto dir = std::filesystem::temp_directory_path()
               / ("sourcery-conformance-" + std::to_string(::getpid()) + "-"
                  + std::to_string(counter++));
    std::filesystem::remove_all(dir);
    sourcery::storage::rocksdb_options o;
    o.durability = sourcery::storage::rocksdb_options::durability::normal; // faster; same code
    auto engine = sourcery::storage::open_rocksdb_engine(dir.string(), o);
    auto* raw = engine.get();
    // Share ownership: the folder goes when the last user of the engine does.
    return std::shared_ptr<sourcery::storage::engine>(
      raw, [engine = std::move(engine), dir](sourcery::storage::engine*) mutable {
        engine.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      });
  }
#endif
#ifdef SOURCERY_TEST_WITH_POSTGRES
  if (which == "postgres") {
    // A schema of its own in the database the PG* environment variables name
    // (pg_virtualenv sets them; tests/CMakeLists.txt runs these suites in it),
    // dropped when the engine is released.
    static std::atomic<int> counter{0};
    auto schema = "conformance_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    const char* conninfo_env = std::getenv("SOURCERY_TEST_PG_CONNINFO");
    std::string conninfo = conninfo_env ? conninfo_env : "";
    sourcery::storage::drop_postgres_store(conninfo, schema); // a leftover of a killed run
    sourcery::storage::postgres_options o;
    o.schema = schema;
    o.durability = sourcery::storage::postgres_options::durability::normal; // faster; same code
    auto engine = sourcery::storage::open_postgres_engine(conninfo, o);
    auto* raw = engine.get();
    return std::shared_ptr<sourcery::storage::engine>(
      raw, [engine = std::move(engine), conninfo, schema](sourcery::storage::engine*) mutable {
        engine.reset();
        try {
          sourcery::storage::drop_postgres_store(conninfo, schema);
        } catch (const std::exception&) { // the server went away: the cluster is thrown away too
        }
      });
  }
#endif
  throw std::runtime_error("SOURCERY_TEST_ENGINE=" + which
                           + ": no such engine in this build (known: in_memory"
#ifdef SOURCERY_TEST_WITH_ROCKSDB
                             ", rocksdb"
#endif
#ifdef SOURCERY_TEST_WITH_POSTGRES
                             ", postgres"
#endif
                             ")");
}

} // namespace test_engine
