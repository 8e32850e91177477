// The shared backend: the runtime on the PostgreSQL engine, which several
// processes (nodes) may open at once (R-N).
//
//   auto backend = sourcery::postgres_backend("host=db dbname=events");
//
// In the CMake target sourcery::postgres (find_package(sourcery COMPONENTS
// postgres)); a service that does not link it does not link libpq.
#pragma once

#include <sourcery/backend.hpp>
#include <sourcery/storage/postgres.hpp>

#include <string>

namespace sourcery {

/// A backend over the PostgreSQL database `conninfo` names (a libpq
/// connection string; empty = the PG* environment variables), in the schema
/// `storage.schema` (see <sourcery/storage/postgres.hpp>). Throws as
/// storage::open_postgres_engine does.
backend postgres_backend(const std::string& conninfo, const storage::postgres_options& storage = {},
                         runtime_options options = {});

} // namespace sourcery
