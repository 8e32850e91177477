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

runtime_stats backend::stats() {
  auto rt = services_->get<runtime>();
  return runtime_stats{rt->tenant_count(), rt->log().last(), rt->log().memory_bytes()};
}

} // namespace sourcery
