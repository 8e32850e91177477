#include <sourcery/es/projector.hpp>

#include <sourcery/errors.hpp>

#include <boost/container_hash/hash.hpp>

namespace sourcery {

std::optional<version> in_memory_cursor_storage::load(const cursor_key& key) {
  std::lock_guard lock(mutex_);
  auto it = cursors_.find(key);
  return it == cursors_.end() ? std::nullopt : std::optional<version>(it->second);
}

void in_memory_cursor_storage::store(const cursor_key& key, version v) {
  std::lock_guard lock(mutex_);
  cursors_.insert_or_assign(key, v);
}

projector::projector(std::string name, sourcery::backend backend, handler h,
                     std::shared_ptr<cursor_storage> cursors)
  : name_(std::move(name)), backend_(std::move(backend)), handler_(std::move(h)),
    cursors_(cursors ? std::move(cursors)
                     : std::make_shared<engine_cursor_storage>(backend_.engine())) {
  if (!handler_)
    throw invalid_argument("projector '" + name_ + "' needs a handler and a cursor storage");
}

namespace {

std::string describe(const cursor_key& key) {
  return "stream " + key.stream.to_string()
         + (key.tenant_id.empty() ? "" : " of tenant '" + key.tenant_id + "'");
}

} // namespace

std::size_t projector::project(const recorded_event& e) {
  cursor_key key{name_, e.tenant_id, e.stream_id};
  if (!e.version)
    throw invalid_argument("projection '" + name_ + "' cannot project event '"
                           + std::string(e.event.name()) + "' of " + describe(key)
                           + ": it has no version (versionless stream)");
  auto next = *e.version;
  auto at = cursors_->load(key).value_or(0);
  if (next <= at)
    return 0;
  std::size_t projected = next > at + 1 ? catch_up(key, at, next) : 0;
  hand_over(key, e);
  return projected + 1;
}

std::size_t projector::project(std::span<const recorded_event> events) {
  std::size_t projected = 0;
  for (const auto& e : events)
    projected += project(e);
  return projected;
}

std::optional<version> projector::cursor(const stream_id& stream,
                                         const std::string& tenant) const {
  return cursors_->load(cursor_key{name_, tenant, stream});
}

/// Projects versions cursor+1 … next-1 from the store; checks they are all
/// there before projecting any.
std::size_t projector::catch_up(const cursor_key& key, version cursor, version next) {
  auto store = backend_.in_tenant_mode(key.tenant_id).event_store();
  auto missed = store.load_stream(key.stream, cursor + 1, next);
  bool complete = missed.size() == next - cursor - 1;
  for (std::size_t i = 0; complete && i < missed.size(); ++i)
    complete = missed[i].version == cursor + 1 + i;
  if (!complete)
    throw versioning_mismatch("projection '" + name_ + "' is at version "
                              + std::to_string(cursor) + " of " + describe(key)
                              + ", but the store no longer holds versions "
                              + std::to_string(cursor + 1) + " to " + std::to_string(next - 1));
  for (auto& w : missed)
    hand_over(key, recorded_event{std::move(w), key.stream, 0, key.tenant_id});
  return missed.size();
}

void projector::hand_over(const cursor_key& key, const recorded_event& e) {
  handler_(e);
  cursors_->store(key, *e.version);
}

} // namespace sourcery
