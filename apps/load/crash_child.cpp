// The crash child: appends from several writers to several tenants' streams
// with the outbox on and a publisher that fails now and then, and reports
// every acknowledgement and every successful publish to the parent.
#include "crash.hpp"
#include "crash_wire.hpp"
#include "store_setup.hpp"

#include <sourcery/sourcery.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>
#include <unistd.h>

namespace harness {

namespace {

/// Writes one message; a parent that went away ends the child.
void tell_parent(const crash_message& m) {
  for (;;) {
    auto n = ::write(crash_pipe_fd, &m, sizeof m);
    if (n == static_cast<ssize_t>(sizeof m))
      return;
    if (n < 0 && errno == EINTR)
      continue;
    std::_Exit(3);
  }
}

struct child_stream {
  std::uint32_t tenant, index;
  sourcery::stream_id id;
  std::uint64_t submitted = 0; // the version after every submitted append
};

} // namespace

int run_crash_child(const scenario& sc, std::uint32_t child, std::int64_t appends) {
  auto backend = open_backend(sc);
  backend.configure(sc.sourcery);
  backend.registry().add<crash_event>("crash_event");
  backend.with_outbox(); // every event passes the filter
  std::vector<sourcery::event_store> stores;
  for (std::int64_t t = 0; t < sc.tenants; ++t)
    stores.push_back(backend.in_tenant_mode(crash_tenant(static_cast<std::uint32_t>(t))).event_store());

  // Continue each stream where the store left it.
  std::vector<std::vector<child_stream>> streams_of_writer(static_cast<std::size_t>(sc.writers));
  std::size_t k = 0;
  for (std::uint32_t t = 0; t < sc.tenants; ++t)
    for (std::uint32_t s = 0; s < sc.streams_per_tenant; ++s, ++k) {
      child_stream cs{t, s, sourcery::stream_id::named(crash_stream_name(s), crash_category)};
      auto events = stores[t].load_stream(cs.id);
      cs.submitted = events.empty() ? 0 : events.back().version.value_or(0);
      streams_of_writer[k % streams_of_writer.size()].push_back(std::move(cs));
    }

  if (sc.outbox)
    backend.outbox().start([&](const sourcery::recorded_event& r) {
      thread_local std::mt19937_64 rng(std::random_device{}());
      thread_local std::uniform_real_distribution<double> unit(0, 1);
      if (unit(rng) < sc.outbox_failure)
        throw std::runtime_error("simulated broker failure");
      // Told before the entry is finished: the parent may count as
      // published an entry the store still holds, never the reverse.
      crash_message m;
      m.kind = crash_message::published;
      m.first = r.position;
      tell_parent(m);
    });

  std::atomic<std::uint64_t> next_commit{static_cast<std::uint64_t>(child) << 32};
  std::atomic<std::int64_t> budget{appends > 0 ? appends : std::numeric_limits<std::int64_t>::max()};
  std::atomic<bool> failed{false};
  std::string payload(static_cast<std::size_t>(std::max<std::int64_t>(1, sc.payload_bytes - 40)), 'x');
  auto write = [&](std::size_t w) {
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<std::int64_t> size_of(1, sc.batch);
    std::mutex m;
    std::condition_variable cv;
    std::int64_t in_flight = 0;
    auto& streams = streams_of_writer[w];
    for (std::size_t next = 0; budget-- > 0 && !failed; ++next) {
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return in_flight < sc.in_flight; });
        ++in_flight;
      }
      auto& slot = streams[next % streams.size()];
      auto n = static_cast<std::uint32_t>(size_of(rng));
      auto commit = next_commit++;
      std::vector<sourcery::wrapped_event<>> events;
      for (std::uint32_t i = 0; i < n; ++i)
        events.push_back(sourcery::wrap(crash_event{commit, i, n, payload}));
      auto expected = slot.submitted;
      slot.submitted += n;
      stores[slot.tenant].append_async(
        slot.id, std::move(events), expected,
        [&, tenant = slot.tenant, index = slot.index, n](sourcery::result<sourcery::append_receipt> r) {
          if (r) {
            crash_message msg;
            msg.kind = crash_message::acknowledged;
            msg.tenant = tenant;
            msg.stream = index;
            msg.events = n;
            msg.first = r.value().first_position;
            msg.last = r.value().last_position;
            msg.version = r.value().version.value_or(0);
            tell_parent(msg);
          } else if (!failed.exchange(true)) {
            try {
              std::rethrow_exception(r.exception());
            } catch (const std::exception& e) {
              std::cerr << "crash child " << child << ": append failed: " << e.what() << "\n";
            }
          }
          std::lock_guard lock(m);
          --in_flight;
          cv.notify_all();
        });
    }
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return in_flight == 0; });
  };
  std::vector<std::thread> writers;
  for (std::size_t w = 0; w < streams_of_writer.size(); ++w)
    writers.emplace_back(write, w);
  for (auto& t : writers)
    t.join();
  if (sc.outbox) {
    backend.outbox().wait_until_empty(std::chrono::seconds(60));
    backend.outbox().stop();
  }
  return failed ? 1 : 0;
}

} // namespace harness
