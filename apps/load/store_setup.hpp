// Opening the storage a scenario chooses (storage.*, SPEC §15 R-ST2).
#pragma once

#include "scenario.hpp"

#include <sourcery/backend.hpp>
#include <sourcery/storage/postgres.hpp>
#include <sourcery/storage/rocksdb.hpp>

#include <memory>

namespace harness {

sourcery::storage::rocksdb_options rocksdb_options_of(const storage_settings& s);
sourcery::storage::postgres_options postgres_options_of(const storage_settings& s);

/// Makes storage.path ready for a fresh store: an absent or empty folder is
/// fine; one holding a Sourcery store is removed when storage.wipe is set and
/// refused otherwise; anything else is refused. Refusals throw setting_error
/// naming storage.path. No-op for in_memory.
void prepare_fresh_store(const storage_settings& s);

/// A backend on the engine `sc.storage` names (the RocksDB store at
/// storage.path opened, or created, as it is), with `sc.runtime`.
sourcery::backend open_backend(const scenario& sc);

/// The RocksDB engine at storage.path, without a runtime (the crash
/// scenario's checker). Throws what open_rocksdb_engine throws.
std::shared_ptr<sourcery::storage::engine> open_engine(const storage_settings& s);

} // namespace harness
