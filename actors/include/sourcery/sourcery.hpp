// Everything Sourcery offers a service, in one include. Start here:
//
//   backend.hpp        the container that owns the runtime (in_memory(), on(engine))
//   event_store.hpp    append, read, snapshot, delete; async forms and result<T>
//   events.hpp         events, stream ids, tenant ids, positions, filters
//   registry.hpp       event types under stable names; JSON through Boost.Describe
//   subscriptions.hpp  pull and push subscriptions over the global log
//   subscription_groups.hpp  persistent subscription groups (consumer groups)
//   listeners.hpp      in-transaction listeners
//   outbox.hpp         publishing to the outside world, dead letters
//   encryption.hpp     encrypted fields, per-subject keys, crypto-shredding
//   errors.hpp         the typed errors every call may throw
//   metrics.hpp        backend.metrics() snapshots, the Prometheus text format
//   settings.hpp       runtime settings (backend.configure)
//
// Also: es/aggregate.hpp, es/repository.hpp, es/projector.hpp (event
// sourcing), push_protocol.hpp (push subscriptions to your own actors),
// container.hpp (providers), rocksdb_backend.hpp and postgres_backend.hpp
// (the durable engines, each in its own target). Writing an engine:
// storage/engine.hpp. Anything under detail/ is the library's own.
#pragma once

#include <sourcery/backend.hpp>
#include <sourcery/container.hpp>
#include <sourcery/encryption.hpp>
#include <sourcery/errors.hpp>
#include <sourcery/es/aggregate.hpp>
#include <sourcery/es/projector.hpp>
#include <sourcery/es/repository.hpp>
#include <sourcery/event_store.hpp>
#include <sourcery/events.hpp>
#include <sourcery/listeners.hpp>
#include <sourcery/metrics.hpp>
#include <sourcery/outbox.hpp>
#include <sourcery/push_protocol.hpp>
#include <sourcery/registry.hpp>
#include <sourcery/settings.hpp>
#include <sourcery/storage/in_memory.hpp>
#include <sourcery/subscriptions.hpp>
#include <sourcery/version.hpp>
