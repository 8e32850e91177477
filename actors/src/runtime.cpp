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
  return registry_->from_parts(rec.type->name, rec.data(), rec.context(), rec.id,
                               timestamp::from_micros(rec.created_us), rec.opt_version(),
                               *rec.stream);
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
