// A node of a nodes run: the single-process run's writers, subscriptions and
// continuous outbox on the shared PostgreSQL store, reporting to the parent
// (nodes_wire.hpp) instead of verifying by itself.
#include "domain.hpp"
#include "nodes.hpp"
#include "nodes_wire.hpp"
#include "store_setup.hpp"
#include "writers.hpp"

#include <sourcery/sourcery.hpp>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>

namespace harness {

namespace {

/// Writes one message; a parent that went away ends the node.
void tell_parent(const node_message& m) {
  for (;;) {
    auto n = ::write(node_pipe_fd, &m, sizeof m);
    if (n == static_cast<ssize_t>(sizeof m))
      return;
    if (n < 0 && errno == EINTR)
      continue;
    std::_Exit(3);
  }
}

std::uint32_t micros(double us) {
  return static_cast<std::uint32_t>(std::min(us, 4e9));
}

} // namespace

int run_node_child(const scenario& sc, std::uint32_t node) {
  auto backend = open_backend(sc);
  set_up_domain(backend, sc);
  auto nodes = static_cast<std::size_t>(sc.nodes);

  run_state st(sc, static_cast<std::int64_t>((static_cast<std::size_t>(sc.writers) - node + nodes - 1) / nodes));
  st.stores.reserve(static_cast<std::size_t>(sc.tenants));
  for (std::int64_t t = 0; t < sc.tenants; ++t)
    st.stores.push_back(backend.in_tenant_mode("tenant-" + std::to_string(t)).event_store());
  // The same streams per writer as the single-process run; this node runs
  // the writers w with w % nodes == node.
  st.streams_of_writer.resize(static_cast<std::size_t>(sc.writers));
  for (std::int64_t t = 0; t < sc.tenants; ++t)
    for (std::int64_t s = 0; s < sc.streams_per_tenant; ++s)
      st.streams_of_writer[static_cast<std::size_t>((t * sc.streams_per_tenant + s) % sc.writers)]
        .push_back({static_cast<std::size_t>(t),
                    sourcery::stream_id::named("stream-" + std::to_string(s), "load")});

  std::vector<std::unique_ptr<subscription_check>> checks;
  std::vector<sourcery::push_subscription> subs;
  for (std::int64_t k = 0; k < sc.subscriptions; ++k) {
    checks.push_back(std::make_unique<subscription_check>());
    auto* c = checks.back().get();
    subs.push_back(backend.subscriber().start_from(0).build_push(
      [c](std::span<const sourcery::recorded_event> b) { c->on_batch(b, nullptr); }, 512));
  }
  std::atomic<std::uint64_t> publish_calls{0};
  if (sc.outbox)
    backend.outbox().start([&](const sourcery::recorded_event& r) {
      thread_local std::mt19937_64 rng(std::random_device{}());
      thread_local std::uniform_real_distribution<double> unit(0, 1);
      ++publish_calls;
      if (unit(rng) < sc.outbox_failure)
        throw std::runtime_error("simulated broker failure");
      // Told before the entry is finished (as the crash child does).
      node_message m;
      m.kind = node_message::published;
      m.x = r.position;
      tell_parent(m);
    });

  st.start = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  for (std::size_t w = node; w < static_cast<std::size_t>(sc.writers); w += nodes) {
    auto quota = sc.events / sc.writers + (static_cast<std::int64_t>(w) < sc.events % sc.writers ? 1 : 0);
    writers.emplace_back(run_writer, std::ref(st), w, quota);
  }
  for (auto& w : writers)
    w.join();
  auto write_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - st.start).count();
  for (std::size_t w = node; w < static_cast<std::size_t>(sc.writers); w += nodes)
    for (std::size_t i = 0; i < st.streams_of_writer[w].size(); ++i) {
      node_message m;
      m.kind = node_message::stream;
      m.a = static_cast<std::uint32_t>(w);
      m.b = static_cast<std::uint32_t>(i);
      m.x = st.streams_of_writer[w][i].submitted;
      tell_parent(m);
    }
  for (const auto& e : st.errors)
    std::cerr << "node " << node << ": " << e << "\n";
  {
    node_message m;
    m.kind = node_message::written;
    m.x = st.committed.load();
    m.y = st.appends.load();
    m.z = st.failed_appends.load();
    std::lock_guard lock(st.append_latency.m);
    m.a = micros(st.append_latency.total.quantile_us(0.5));
    m.b = micros(st.append_latency.total.quantile_us(0.99));
    m.c = static_cast<std::uint32_t>(write_ms);
    tell_parent(m);
  }

  // Every node wrote: the parent tells the total to expect.
  std::string word;
  std::uint64_t total = 0;
  if (!(std::cin >> word >> total) || word != "total") {
    std::cerr << "node " << node << ": no total from the parent\n";
    return 1;
  }
  auto catch_up = std::chrono::seconds(120 + static_cast<long>(total / 100'000));
  for (std::size_t k = 0; k < checks.size(); ++k) {
    auto& c = *checks[k];
    c.wait_for(total, catch_up);
    std::lock_guard lock(c.m);
    node_message m;
    m.kind = node_message::subscription;
    m.a = static_cast<std::uint32_t>(k);
    m.x = c.received;
    m.y = c.out_of_order;
    m.z = c.last;
    tell_parent(m);
  }
  for (auto& s : subs)
    s.stop();
  if (sc.outbox) {
    auto box = backend.outbox();
    box.wait_until_empty(catch_up);
    box.stop();
    auto counts = box.counts();
    node_message m;
    m.kind = node_message::outbox;
    m.x = counts.published;
    m.y = counts.failures;
    m.z = publish_calls.load();
    tell_parent(m);
  }
  return 0;
}

} // namespace harness
