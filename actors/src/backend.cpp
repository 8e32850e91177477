#include <sourcery/backend.hpp>
#include <sourcery/tenant_id.hpp>

#include "runtime.hpp"

namespace sourcery {

using detail::runtime;

backend backend::in_memory(runtime_options options) {
  auto c = std::make_shared<container>();
  c->provide<tenant_binding>(tenant_binding{default_tenant});
  c->provide<runtime_options>(std::move(options));
  c->provide<event_registry>(singleton([](container&) { return std::make_shared<event_registry>(); }));
  c->provide<runtime>(singleton([](container& c) {
    return std::make_shared<runtime>(*c.get<runtime_options>(), c.get<event_registry>());
  }));
  c->provide<sourcery::event_store>(factory([](container& c) {
    auto rt = c.get<runtime>();
    auto* slot = &rt->tenant(c.get<tenant_binding>()->id);
    return sourcery::event_store(std::move(rt), slot);
  }));
  c->provide<listeners>(factory([](container& c) { return listeners(c.get<runtime>()->listeners()); }));
  // No encryption until with_encryption(); the keys come from the runtime, so
  // tenant views copied before it see it too.
  const std::string no_encryption =
    "no encryption is configured: call backend.with_encryption(strategy, key_storage)";
  c->provide<encryption_strategy>(not_configured{no_encryption});
  c->provide<key_storage>(not_configured{no_encryption});
  c->provide<encryption_keys>(factory([no_encryption](container& c) {
    auto encryption = c.get<runtime>()->encryption();
    if (!encryption)
      throw encryption_not_configured(no_encryption);
    return encryption->keys_of(c.get<tenant_binding>()->id);
  }));
  // Build the runtime now, so copies (tenant views) share it.
  c->get<runtime>();
  return backend(std::move(c));
}

backend backend::in_tenant_mode(const std::string& tenant) const {
  validate_tenant_id(tenant);
  auto c = std::make_shared<container>(services_->copy());
  c->provide<tenant_binding>(tenant_binding{tenant});
  return backend(std::move(c));
}

backend& backend::configure(const settings& s) {
  services_->get<runtime>()->configure(s);
  return *this;
}

settings backend::current_settings() {
  return services_->get<runtime>()->current_settings();
}

backend& backend::with_encryption(std::shared_ptr<encryption_strategy> strategy,
                                  std::shared_ptr<key_storage> keys) {
  auto encryption = std::make_shared<const field_encryption>(strategy, keys);
  services_->provide<encryption_strategy>(std::move(strategy));
  services_->provide<key_storage>(std::move(keys));
  services_->get<runtime>()->set_encryption(std::move(encryption));
  return *this;
}

backend& backend::with_encryption() {
  // AES-256-GCM where the CPU has AES instructions (about 3x faster per value
  // here, which the 50%-of-plain-append target needs), XChaCha20-Poly1305
  // elsewhere; both libsodium AEADs with fresh random nonces.
  std::shared_ptr<encryption_strategy> strategy;
  if (aes256gcm_strategy::available())
    strategy = std::make_shared<aes256gcm_strategy>();
  else
    strategy = std::make_shared<xchacha20poly1305_strategy>();
  return with_encryption(std::move(strategy), std::make_shared<in_memory_key_storage>());
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
  services_->get<runtime>()->enable_outbox(std::move(filter));
  return *this;
}

sourcery::outbox backend::outbox() {
  return sourcery::outbox(services_->get<runtime>());
}

sourcery::subscriber backend::subscriber() {
  return sourcery::subscriber(services_->get<runtime>(), std::nullopt);
}

sourcery::subscriber backend::tenant_subscriber() {
  return sourcery::subscriber(services_->get<runtime>(), tenant_id());
}

caf::actor_system& backend::actor_system() {
  return services_->get<runtime>()->system();
}

runtime_stats backend::stats() {
  auto rt = services_->get<runtime>();
  return runtime_stats{rt->tenant_count(), rt->log().last(), rt->log().memory_bytes()};
}

} // namespace sourcery
