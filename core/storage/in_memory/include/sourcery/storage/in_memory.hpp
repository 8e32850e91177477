// The in-memory engine (R-ST2): the embedded default, nothing to install or
// start. Everything lives in RAM for the life of the engine: records are
// never freed (views into them stay valid while the engine lives), so memory
// grows with the events stored. Use a durable engine for long runs.
#pragma once

#include <sourcery/storage/engine.hpp>

#include <cstddef>
#include <memory>

namespace sourcery::storage {

struct in_memory_options {
  /// Outbox shards (one dispatcher each); 0 = one per core.
  std::size_t outbox_shards = 0;
};

/// A new, empty in-memory engine.
std::shared_ptr<engine> make_in_memory_engine(in_memory_options options = {});

} // namespace sourcery::storage
