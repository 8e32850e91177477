// The tenant storage actor: one per tenant, spawned on first use by the
// runtime's wiring (wiring.cpp). It is handed its tenant's streams (from the
// engine), the commit path and its directory slot (to passivate itself when
// idle for `idle`; zero = never), nothing else.
#pragma once

#include "commit_path.hpp"
#include "tenant_directory.hpp"
#include "tenant_protocol.hpp"

#include <chrono>
#include <memory>

namespace caf {
class actor_system;
}

namespace sourcery::detail {

tenant_storage_actor spawn_tenant_storage(caf::actor_system& system,
                                          std::shared_ptr<storage::stream_store> streams,
                                          const commit_path& commits, tenant_slot& slot,
                                          std::chrono::milliseconds idle);

} // namespace sourcery::detail
