// The backend: the container that provides every part (SPEC §9). It starts
// the runtime, whose wiring (wiring.cpp) spawns and wires the actors, and
// hands each facade the parts it uses.
#include <sourcery/backend.hpp>
#include <sourcery/storage/in_memory.hpp>
#include <sourcery/events.hpp>

#include "runtime.hpp"

namespace sourcery {

using detail::runtime;

namespace {

const std::string no_encryption =
  "no encryption is configured: call backend.with_encryption(strategy, key_storage)";

/// The encryption the container provides, or null when none is configured.
std::shared_ptr<const field_encryption> provided_encryption(container& c) {
  std::shared_ptr<encryption_strategy> strategy;
  std::shared_ptr<key_storage> keys;
  try {
    strategy = c.get<encryption_strategy>();
    keys = c.get<key_storage>();
  } catch (const no_provider_configured&) {
    return nullptr;
  }
  return std::make_shared<const field_encryption>(std::move(strategy), std::move(keys));
}

std::shared_ptr<runtime> start_runtime(container& c) {
  auto rt = runtime::make(*c.get<runtime_options>(), c.get<storage::engine>(),
                          c.get<event_registry>());
  rt->codec().set_encryption(provided_encryption(c));
  const std::string running = "the runtime already runs with it; provide it before the "
                              "backend's first use";
  c.seal<event_registry>(running + " (register types on backend.registry() instead)");
  c.seal<storage::engine>(running);
  c.seal<runtime_options>(running);
  c.seal<encryption_strategy>("the runtime already runs; call backend.with_encryption(...)");
  c.seal<key_storage>("the runtime already runs; call backend.with_encryption(...)");
  return rt;
}

/// The runtime's wiring, sharing ownership of the runtime.
std::shared_ptr<const detail::wiring> wiring_of(const std::shared_ptr<runtime>& rt) {
  return {rt, &rt->wiring()};
}

} // namespace

backend backend::in_memory(runtime_options options) {
  return on(storage::make_in_memory_engine(), std::move(options));
}

backend backend::on(std::shared_ptr<storage::engine> engine, runtime_options options) {
  if (!engine)
    throw invalid_argument("backend::on needs a storage engine");
  options.validate(); // here, not at the runtime's lazy start
  auto c = std::make_shared<container>();
  c->provide<tenant_binding>(tenant_binding{default_tenant});
  c->provide<runtime_options>(std::move(options));
  c->provide<storage::engine>(std::move(engine));
  c->provide<event_registry>(singleton([](container&) { return std::make_shared<event_registry>(); }));
  c->provide<runtime>(singleton([](container& c) { return start_runtime(c); }));
  c->provide<sourcery::event_store>(factory([](container& c) {
    auto rt = c.get<runtime>();
    auto slot = rt->tenants().get(c.get<tenant_binding>()->id); // lives as long as the runtime
    return sourcery::event_store(std::shared_ptr<detail::tenant_slot>(rt, slot.get()),
                                 rt->codec(), rt->engine()->log());
  }));
  c->provide<listeners>(factory([](container& c) { return listeners(c.get<runtime>()->listeners()); }));
  // No encryption until with_encryption() (or both providers below replaced
  // before the first use).
  c->provide<encryption_strategy>(not_configured{no_encryption});
  c->provide<key_storage>(not_configured{no_encryption});
  c->provide<encryption_keys>(factory([](container& c) {
    auto encryption = c.get<runtime>()->codec().encryption();
    if (!encryption)
      throw encryption_not_configured(no_encryption);
    return encryption->keys_of(c.get<tenant_binding>()->id);
  }));
  return backend(std::move(c));
}

backend backend::in_tenant_mode(const std::string& tenant) const {
  validate_tenant_id(tenant);
  services_->get<runtime>(); // start it, so that the copy shares it
  auto c = std::make_shared<container>(services_->copy());
  c->provide<tenant_binding>(tenant_binding{tenant});
  return backend(std::move(c));
}

backend& backend::configure(const settings& s) {
  services_->get<runtime>()->configure(s);
  return *this;
}

settings backend::current_settings() {
  return services_->get<runtime>()->settings().get();
}

backend& backend::with_encryption(std::shared_ptr<encryption_strategy> strategy,
                                  std::shared_ptr<key_storage> keys) {
  if (!strategy || !keys)
    throw invalid_argument("with_encryption needs a strategy and a key storage");
  auto rt = services_->get<runtime>();
  services_->replace_sealed<encryption_strategy>(strategy);
  services_->replace_sealed<key_storage>(keys);
  rt->codec().set_encryption(std::make_shared<const field_encryption>(strategy, keys));
  return *this;
}

backend& backend::with_encryption() {
  // AES-256-GCM where the CPU has AES instructions (about 3x faster per value
  // here, which the 50%-of-plain-append target needs), XChaCha20-Poly1305
  // elsewhere; both libsodium AEADs with fresh random nonces. Keys live in
  // the storage engine (durable engines keep them across restarts).
  std::shared_ptr<encryption_strategy> strategy;
  if (aes256gcm_strategy::available())
    strategy = std::make_shared<aes256gcm_strategy>();
  else
    strategy = std::make_shared<xchacha20poly1305_strategy>();
  return with_encryption(std::move(strategy), services_->get<runtime>()->engine()->keys());
}

const std::string& backend::tenant_id() {
  return services_->get<tenant_binding>()->id;
}

event_registry& backend::registry() {
  return *services_->get<event_registry>();
}

sourcery::event_store backend::event_store() {
  return *services_->get<sourcery::event_store>();
}

listeners backend::in_transaction() {
  return *services_->get<listeners>();
}

encryption_keys backend::encryption() {
  return *services_->get<encryption_keys>();
}

backend& backend::with_outbox(outbox_filter filter) {
  services_->get<runtime>()->outbox().enable(std::move(filter));
  return *this;
}

sourcery::outbox backend::outbox() {
  auto rt = services_->get<runtime>();
  return sourcery::outbox(std::shared_ptr<detail::outbox_lifecycle>(rt, &rt->outbox()),
                          rt->codec(), *rt->engine(), rt->settings());
}

sourcery::subscriber backend::subscriber() {
  return sourcery::subscriber(wiring_of(services_->get<runtime>()), std::nullopt);
}

sourcery::subscriber backend::tenant_subscriber() {
  return sourcery::subscriber(wiring_of(services_->get<runtime>()), tenant_id());
}

caf::actor_system& backend::actor_system() {
  return services_->get<runtime>()->system();
}

runtime_stats backend::stats() {
  auto rt = services_->get<runtime>();
  return runtime_stats{rt->tenants().size(), rt->engine()->log().last_position(),
                       rt->engine()->memory_bytes(), rt->tenants().active(),
                       rt->tenants().spawns()};
}

metrics_snapshot backend::metrics() {
  return services_->get<runtime>()->metrics();
}

std::optional<std::string> backend::metrics_address() {
  return services_->get<runtime>()->metrics_address();
}

std::shared_ptr<storage::engine> backend::engine() {
  return services_->get<runtime>()->engine();
}

} // namespace sourcery
