#include <sourcery/event_store.hpp>

#include "blocking_wait.hpp"
#include "runtime.hpp"

#include <caf/send.hpp>

namespace sourcery {

using namespace detail;

namespace {

std::vector<wrapped_event<>> decode_slice(const runtime& rt, const stream_slice& slice,
                                          const std::string& tenant) {
  std::vector<wrapped_event<>> out;
  out.reserve(slice.events.size() + (slice.snapshot ? 1 : 0));
  if (slice.snapshot)
    out.push_back(rt.decode_snapshot(*slice.snapshot, *slice.stream, tenant));
  for (const auto* rec : slice.events)
    out.push_back(rt.decode_wrapped(*rec));
  return out;
}

} // namespace

event_store::event_store(std::shared_ptr<runtime> rt, tenant_slot* tenant)
  : rt_(std::move(rt)), tenant_(tenant) {}

const std::string& event_store::tenant_id() const noexcept {
  return *tenant_->id;
}

append_receipt event_store::append(const stream_id& stream, std::vector<wrapped_event<>> events,
                                   expected_version expected) {
  return wait_for<append_receipt>([&](callback<append_receipt> done) {
    append_async(stream, std::move(events), expected, std::move(done));
  });
}

std::vector<wrapped_event<>> event_store::load_stream(const stream_id& stream,
                                                      std::optional<version> start,
                                                      std::optional<version> stop) {
  // Decode on the caller's thread, not on the tenant's actor.
  auto slice = wait_for<stream_slice>([&](callback<stream_slice> done) {
    caf::anon_send(tenant_->actor, load_atom::value,
                   load_job{stream, start, stop, std::move(done)});
  });
  return decode_slice(*rt_, slice, tenant_id());
}

void event_store::save_snapshot(const stream_id& stream, wrapped_event<> snapshot) {
  wait_for<done_t>([&](callback<done_t> done) {
    save_snapshot_async(stream, std::move(snapshot), std::move(done));
  });
}

void event_store::delete_stream(const stream_id& stream) {
  wait_for<done_t>(
    [&](callback<done_t> done) { delete_stream_async(stream, std::move(done)); });
}

std::optional<position> event_store::position() const {
  auto last = rt_->log().last();
  return last == 0 ? std::nullopt : std::optional<sourcery::position>(last);
}

void event_store::append_async(const stream_id& stream, std::vector<wrapped_event<>> events,
                               expected_version expected, callback<append_receipt> done) {
  append_job job{stream, {}, {}, expected, std::move(done)};
  try {
    job.events.reserve(events.size());
    job.types.reserve(events.size());
    for (const auto& e : events) {
      const auto& type = rt_->registry().get(e.event.type());
      job.types.push_back(&type);
      job.events.push_back(rt_->encode(e, type, stream, tenant_id()));
    }
  } catch (...) {
    job.done(std::current_exception());
    return;
  }
  caf::anon_send(tenant_->actor, append_atom::value, std::move(job));
}

void event_store::load_stream_async(const stream_id& stream, std::optional<version> start,
                                    std::optional<version> stop,
                                    callback<std::vector<wrapped_event<>>> done) {
  // A raw pointer: the runtime outlives its actors (its destructor awaits
  // them), and a shared_ptr released here could destroy it on an actor thread.
  const runtime* rt = rt_.get();
  const auto* tenant = tenant_->id;
  callback<stream_slice> decode = [rt, tenant, done = std::move(done)](result<stream_slice> r) {
    std::optional<result<std::vector<wrapped_event<>>>> out;
    try {
      out.emplace(decode_slice(*rt, r.value(), *tenant));
    } catch (...) {
      out.emplace(std::current_exception());
    }
    done(std::move(*out)); // exactly once
  };
  caf::anon_send(tenant_->actor, load_atom::value,
                 load_job{stream, start, stop, std::move(decode)});
}

void event_store::save_snapshot_async(const stream_id& stream, wrapped_event<> snapshot,
                                      callback<done_t> done) {
  raw_event raw;
  try {
    raw = rt_->encode(snapshot, rt_->registry().get(snapshot.event.type()), stream, tenant_id());
  } catch (...) {
    done(std::current_exception());
    return;
  }
  caf::anon_send(tenant_->actor, snapshot_atom::value,
                 snapshot_job{stream, std::move(raw), std::move(done)});
}

void event_store::delete_stream_async(const stream_id& stream, callback<done_t> done) {
  caf::anon_send(tenant_->actor, delete_atom::value, delete_job{stream, std::move(done)});
}

} // namespace sourcery
