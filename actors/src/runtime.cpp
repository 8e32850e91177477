#include "runtime.hpp"

#include <sourcery/tenant_id.hpp>

#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <thread>

namespace sourcery::detail {

namespace {

void apply_options(caf::actor_system_config& cfg, const runtime_options& o) {
  if (o.scheduler_policy != "sharing" && o.scheduler_policy != "stealing")
    throw invalid_argument("scheduler policy must be 'sharing' or 'stealing', got '"
                           + o.scheduler_policy + "'");
  cfg.set("scheduler.policy", caf::atom_from_string(o.scheduler_policy));
  auto threads = o.scheduler_threads ? o.scheduler_threads
                                     : std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", threads);
  if (o.max_throughput)
    cfg.set("scheduler.max-throughput", o.max_throughput);
  cfg.set("logger.console", caf::atom("none"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
}

} // namespace

runtime::runtime(const runtime_options& options, std::shared_ptr<event_registry> registry)
  : registry_(std::move(registry)) {
  apply_options(config_, options);
  system_ = std::make_unique<caf::actor_system>(config_);
}

runtime::~runtime() {
  {
    std::lock_guard lock(tenants_mutex_);
    for (auto& [id, slot] : tenants_)
      caf::anon_send_exit(slot.actor, caf::exit_reason::user_shutdown);
    tenants_.clear();
  }
  log_.clear_waiters();
  system_->await_all_actors_done();
  system_.reset();
}

tenant_slot& runtime::tenant(const std::string& id) {
  std::lock_guard lock(tenants_mutex_);
  if (auto it = tenants_.find(id); it != tenants_.end())
    return it->second;
  validate_tenant_id(id);
  auto& slot = tenants_[id];
  slot.id = &tenants_.find(id)->first;
  slot.actor = spawn_tenant_storage(*this, slot.id);
  return slot;
}

std::size_t runtime::tenant_count() const {
  std::lock_guard lock(tenants_mutex_);
  return tenants_.size();
}

wrapped_event<> runtime::decode_wrapped(const log_record& rec) const {
  if (rec.type->encryption)
    return event_registry::with_metadata(
      decode_encrypted(*rec.type, rec.data(), *rec.stream, *rec.tenant), rec.context(), rec.id,
      timestamp::from_micros(rec.created_us), rec.opt_version(), *rec.stream);
  return registry_->from_parts(rec.type->name, rec.data(), rec.context(), rec.id,
                               timestamp::from_micros(rec.created_us), rec.opt_version(),
                               *rec.stream);
}

wrapped_event<> runtime::decode_snapshot(const raw_event& raw, const stream_id& stream,
                                         const std::string& tenant) const {
  const auto& type = registry_->get(std::string_view(raw.name));
  if (!type.encryption)
    return registry_->from_raw(raw, stream);
  return event_registry::with_metadata(decode_encrypted(type, raw.data, stream, tenant),
                                       raw.context, raw.id, raw.created_at, raw.version, stream);
}

namespace {

std::shared_ptr<const field_encryption> configured(std::shared_ptr<const field_encryption> e,
                                                   const event_type& type) {
  if (!e)
    throw encryption_not_configured(
      "event '" + type.name
      + "' has encrypted fields but no encryption is configured; call "
        "backend.with_encryption(strategy, key_storage) first (nothing is stored in plain text)");
  return e;
}

} // namespace

raw_event runtime::encode(const wrapped_event<>& e, const event_type& type,
                          const stream_id& stream, const std::string& tenant) const {
  if (!type.encryption)
    return event_registry::to_raw(e, type);
  auto encryption = configured(encryption_.load(), type);
  auto data = event_registry::encode_value(e, type);
  auto* fields = data.if_object();
  if (!fields)
    throw invalid_argument("event '" + type.name
                           + "' has encrypted fields, so its JSON must be an object");
  encryption->encrypt(*fields, *type.encryption, stream, tenant);
  return event_registry::to_raw(e, type, boost::json::serialize(data));
}

any_event runtime::decode_encrypted(const event_type& type, std::string_view data,
                                    const stream_id& stream, const std::string& tenant) const {
  auto encryption = configured(encryption_.load(), type);
  boost::json::value json;
  try {
    json = serde::parse(data);
  } catch (const serde::decode_failure& f) {
    throw deserialization_error(type.name, stream.to_string(), f.field, f.what());
  }
  if (auto* fields = json.if_object())
    encryption->decrypt(*fields, *type.encryption, type.name, stream, tenant);
  return event_registry::decode(type, json, stream);
}

void runtime::set_encryption(std::shared_ptr<const field_encryption> encryption) {
  encryption_.store(std::move(encryption));
}

recorded_event runtime::decode(const log_record& rec) const {
  return recorded_event{decode_wrapped(rec), *rec.stream, rec.pos, *rec.tenant};
}

settings runtime::current_settings() const {
  std::lock_guard lock(settings_mutex_);
  return settings_;
}

void runtime::configure(const settings& s) {
  s.validate();
  std::lock_guard lock(settings_mutex_);
  settings_ = s;
}

} // namespace sourcery::detail
