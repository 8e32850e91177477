// Everything Sourcery offers, in one include.
#pragma once

#include <sourcery/aggregate.hpp>
#include <sourcery/backend.hpp>
#include <sourcery/codec.hpp>
#include <sourcery/container.hpp>
#include <sourcery/encryption.hpp>
#include <sourcery/encryption_spec.hpp>
#include <sourcery/errors.hpp>
#include <sourcery/event_store.hpp>
#include <sourcery/events.hpp>
#include <sourcery/filters.hpp>
#include <sourcery/listeners.hpp>
#include <sourcery/outbox.hpp>
#include <sourcery/projector.hpp>
#include <sourcery/push_protocol.hpp>
#include <sourcery/registry.hpp>
#include <sourcery/repository.hpp>
#include <sourcery/result.hpp>
#include <sourcery/serde.hpp>
#include <sourcery/settings.hpp>
#include <sourcery/storage/engine.hpp>
#include <sourcery/storage/in_memory.hpp>
#include <sourcery/stream_id.hpp>
#include <sourcery/subscriptions.hpp>
#include <sourcery/tenant_id.hpp>
#include <sourcery/values.hpp>
