#include <sourcery/event_store.hpp>

#include "blocking_wait.hpp"
#include "runtime_metrics.hpp"
#include "tenant_directory.hpp"

#include <sourcery/detail/codec.hpp>
#include <sourcery/storage/log.hpp>

#include <caf/send.hpp>

namespace sourcery {

using namespace detail;

namespace {

std::vector<wrapped_event<>> decode_read(const codec& c, const storage::stream_read& read,
                                         const stream_id& stream, const std::string& tenant) {
  std::vector<wrapped_event<>> out;
  out.reserve(read.events.records.size() + (read.snapshot ? 1 : 0));
  if (read.snapshot)
    out.push_back(c.decode_snapshot(*read.snapshot, stream, tenant));
  for (const auto& rec : read.events.records)
    out.push_back(c.decode_wrapped(rec));
  return out;
}

/// Encodes `events` on the caller's thread and sends them to the tenant's actor.
void send_append(const codec& c, tenant_slot& tenant, const stream_id& stream,
                 const std::vector<wrapped_event<>>& events, expected_version expected,
                 completion<append_receipt> done, bool caller_waits) {
  append_job job{stream, {}, expected, std::move(done), caller_waits};
  auto* metrics = tenant.metrics();
  if (metrics && runtime_metrics::sample_latency())
    job.started = std::chrono::steady_clock::now();
  try {
    job.events.reserve(events.size());
    for (const auto& e : events)
      job.events.push_back(c.encode(e, stream, tenant.id));
  } catch (...) {
    if (metrics)
      metrics->refused(std::current_exception());
    job.done(std::current_exception());
    return;
  }
  tenant.send(append_atom::value, std::move(job));
}

} // namespace

event_store::event_store(std::shared_ptr<tenant_slot> tenant, const codec& codec,
                         const storage::log& log)
  : tenant_(std::move(tenant)), codec_(&codec), log_(&log) {}

const std::string& event_store::tenant_id() const noexcept {
  return tenant_->id;
}

append_receipt event_store::append(const stream_id& stream, std::vector<wrapped_event<>> events,
                                   expected_version expected) {
  return wait_for<append_receipt>([&](callback<append_receipt> done) {
    send_append(*codec_, *tenant_, stream, events, expected,
                completion<append_receipt>(std::move(done)), true);
  });
}

std::vector<wrapped_event<>> event_store::load_stream(const stream_id& stream,
                                                      std::optional<version> start,
                                                      std::optional<version> stop) {
  // Decode on the caller's thread, not on the tenant's actor.
  auto read = wait_for<storage::stream_read>([&](callback<storage::stream_read> done) {
    tenant_->send(load_atom::value,
                   load_job{stream, start, stop, completion<storage::stream_read>(std::move(done))});
  });
  return decode_read(*codec_, read, stream, tenant_id());
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
  auto last = log_->last_position();
  return last == 0 ? std::nullopt : std::optional<sourcery::position>(last);
}

void event_store::append_async(const stream_id& stream, std::vector<wrapped_event<>> events,
                               expected_version expected, callback<append_receipt> done) {
  send_append(*codec_, *tenant_, stream, events, expected,
              completion<append_receipt>(std::move(done)), false);
}

void event_store::load_stream_async(const stream_id& stream, std::optional<version> start,
                                    std::optional<version> stop,
                                    callback<std::vector<wrapped_event<>>> done) {
  // Raw pointers: the runtime outlives its actors (its destructor awaits
  // them), and a shared_ptr released here (tenant_ shares the runtime) could
  // destroy it on an actor thread.
  const codec* c = codec_;
  const tenant_slot* tenant = tenant_.get();
  callback<storage::stream_read> decode = [c, tenant, stream,
                                           done = std::move(done)](result<storage::stream_read> r) {
    std::optional<result<std::vector<wrapped_event<>>>> out;
    try {
      out.emplace(decode_read(*c, r.value(), stream, tenant->id));
    } catch (...) {
      out.emplace(std::current_exception());
    }
    done(std::move(*out)); // exactly once
  };
  tenant_->send(load_atom::value,
                 load_job{stream, start, stop, completion<storage::stream_read>(std::move(decode))});
}

void event_store::save_snapshot_async(const stream_id& stream, wrapped_event<> snapshot,
                                      callback<done_t> done) {
  raw_event raw;
  try {
    raw = codec_->encode(snapshot, stream, tenant_id());
  } catch (...) {
    done(std::current_exception());
    return;
  }
  tenant_->send(snapshot_atom::value,
                 snapshot_job{stream, std::move(raw), completion<done_t>(std::move(done))});
}

void event_store::delete_stream_async(const stream_id& stream, callback<done_t> done) {
  tenant_->send(delete_atom::value,
                 delete_job{stream, completion<done_t>(std::move(done))});
}

} // namespace sourcery
