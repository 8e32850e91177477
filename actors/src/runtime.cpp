#include "runtime.hpp"

#include <sourcery/tenant_id.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serializer.hpp>

#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

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
  // Publishers first, then wake-ups, then the tenants; the tenants' streams
  // (which records point at) are freed only once no actor runs any more.
  halt_dispatchers();
  log_.clear_waiters();
  std::vector<tenant_storage_actor> actors;
  {
    std::lock_guard lock(tenants_mutex_);
    for (auto& [id, slot] : tenants_)
      actors.push_back(slot.actor);
  }
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  actors.clear();
  system_->await_all_actors_done();
  system_.reset();
  tenants_.clear();
}

tenant_slot& runtime::tenant(const std::string& id) {
  std::lock_guard lock(tenants_mutex_);
  if (auto it = tenants_.find(id); it != tenants_.end())
    return it->second;
  validate_tenant_id(id);
  auto& slot = tenants_[id];
  slot.id = &tenants_.find(id)->first;
  spawn_tenant_storage(*this, slot);
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
  // The record knows its type: no registry lookup on the delivery path.
  return event_registry::with_metadata(
    event_registry::decode(*rec.type, rec.data(), *rec.stream), rec.context(), rec.id,
    timestamp::from_micros(rec.created_us), rec.opt_version(), *rec.stream);
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

/// The JSON text of `v`, serialised straight into one growing buffer.
std::string to_text(const boost::json::value& v) {
  boost::json::serializer sr;
  sr.reset(&v);
  std::string out(512, '\0');
  std::size_t length = 0;
  while (!sr.done()) {
    if (out.size() - length < 128)
      out.resize(2 * out.size());
    length += sr.read(out.data() + length, out.size() - length).size();
  }
  out.resize(length);
  return out;
}

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
  // The event's JSON lives only here: allocate it on the stack.
  unsigned char buffer[4096];
  boost::json::monotonic_resource arena(buffer, sizeof buffer);
  auto data = event_registry::encode_value(e, type, &arena);
  auto* fields = data.if_object();
  if (!fields)
    throw invalid_argument("event '" + type.name
                           + "' has encrypted fields, so its JSON must be an object");
  encryption->encrypt(*fields, *type.encryption, stream, tenant);
  return event_registry::to_raw(e, type, to_text(data));
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

std::vector<const log_record*> runtime::commit(const std::string* tenant, const stream_id* stream,
                                               std::span<const pending_event> events) {
  // Runs under the commit lock, where outbox_ and dispatchers_ are set.
  auto hook = [this](std::span<const log_record* const> recs) {
    if (!listeners_->empty())
      listeners_->dispatch(recs, [this](const log_record& r) { return decode(r); });
    if (outbox_) // last: its filter may still throw, but changes nothing before it
      outbox_->add(recs, [this](std::size_t shard) {
        if (dispatching_.load(std::memory_order_acquire))
          kick_if_idle(*dispatchers_[shard]);
      });
  };
  return log_.commit(tenant, stream, events, hook);
}

void runtime::kick_if_idle(dispatcher_slot& slot) {
  if (slot.idle.exchange(false, std::memory_order_seq_cst))
    caf::anon_send(slot.actor, kick_atom::value);
}

void runtime::kick_idle_dispatchers() {
  std::lock_guard lock(dispatchers_mutex_);
  if (dispatching_)
    for (auto& slot : dispatchers_)
      kick_if_idle(*slot);
}

namespace {

/// Starting, stopping or enabling the outbox from a listener (which holds the
/// commit lock) or from the outbox's own publisher would deadlock.
void check_not_reentrant(const char* what) {
  if (in_listener() || in_outbox_publisher())
    throw reentrant_call(std::string(what)
                         + " was called from a listener or an outbox publisher; this would "
                           "deadlock the runtime");
}

} // namespace

void runtime::enable_outbox(outbox_filter filter) {
  check_not_reentrant("with_outbox");
  log_.under_commit_lock([&] {
    if (outbox_)
      throw invalid_argument("the outbox is already on");
    auto shards = std::max(1u, std::thread::hardware_concurrency());
    outbox_ = std::make_unique<outbox_store>(shards, std::move(filter));
    outbox_ptr_.store(outbox_.get(), std::memory_order_release);
  });
}

outbox_store& runtime::outbox_entries() {
  auto* o = outbox();
  if (!o)
    throw invalid_argument("the outbox is off; call backend.with_outbox(filter) first");
  return *o;
}

void runtime::start_dispatchers(outbox_publisher publisher, const continuous_options& options) {
  if (!publisher)
    throw invalid_argument("outbox start needs a publisher");
  if (options.batch == 0)
    throw invalid_argument("continuous_options.batch must be at least 1");
  check_not_reentrant("outbox().start");
  auto& store = outbox_entries();
  std::lock_guard lock(dispatchers_mutex_);
  if (dispatching_)
    throw invalid_argument("the outbox is already publishing continuously; stop() it first");
  auto s = current_settings();
  dispatcher_config config{std::move(publisher), options.batch, s.outbox_attempts,
                           s.outbox_backoff_base, s.outbox_backoff_cap};
  dispatchers_.clear();
  for (std::size_t i = 0; i < store.shard_count(); ++i) {
    dispatchers_.push_back(std::make_unique<dispatcher_slot>());
    dispatchers_.back()->actor = spawn_outbox_dispatcher(*this, i, dispatchers_.back().get(), config);
  }
  // Publish the slots to committers (they read them under the commit lock).
  log_.under_commit_lock([&] { dispatching_.store(true, std::memory_order_release); });
  for (auto& slot : dispatchers_)
    caf::anon_send(slot->actor, kick_atom::value);
}

void runtime::stop_dispatchers() {
  check_not_reentrant("outbox().stop");
  halt_dispatchers();
}

void runtime::halt_dispatchers() {
  std::lock_guard lock(dispatchers_mutex_);
  if (!dispatching_)
    return;
  log_.under_commit_lock([&] { dispatching_.store(false, std::memory_order_release); });
  {
    caf::scoped_actor self{*system_};
    for (auto& slot : dispatchers_) {
      self->monitor(slot->actor);
      self->send_exit(slot->actor, caf::exit_reason::user_shutdown);
    }
    for (std::size_t i = 0; i < dispatchers_.size(); ++i)
      self->receive([](const caf::down_msg&) {});
  }
  for (std::size_t i = 0; i < dispatchers_.size(); ++i)
    outbox_->release_waiting(i);
  dispatchers_.clear();
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
