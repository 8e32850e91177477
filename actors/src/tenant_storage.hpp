// The tenant storage actor: one per tenant, spawned on first use by the
// backend's wiring. It is handed its tenant's streams (from the engine) and
// the commit path, nothing else.
#pragma once

#include "commit_path.hpp"
#include "tenant_protocol.hpp"

#include <memory>

namespace caf {
class actor_system;
}

namespace sourcery::detail {

tenant_storage_actor spawn_tenant_storage(caf::actor_system& system,
                                          std::shared_ptr<storage::stream_store> streams,
                                          const commit_path& commits);

} // namespace sourcery::detail
