#include "reopen_check.hpp"

#include "domain.hpp"
#include "store_setup.hpp"

#include <algorithm>
#include <string>

namespace harness {

namespace {

const std::string after = "after reopening: ";

/// Reads the global log from the engine and checks positions 1..expected.
check log_is_gap_free(sourcery::storage::engine& engine, std::uint64_t expected) {
  sourcery::position next = 1;
  std::string problem;
  while (problem.empty()) {
    sourcery::storage::record_batch batch;
    engine.log().read(next - 1, 65'536, batch);
    if (batch.records.empty())
      break;
    for (const auto& r : batch.records)
      if (problem.empty() && r.position != next++)
        problem = "position " + std::to_string(r.position) + " where " + std::to_string(next - 1)
                  + " was expected";
  }
  auto read = next - 1;
  if (problem.empty() && read != expected)
    problem = "read " + std::to_string(read) + " positions, expected " + std::to_string(expected);
  return {after + "the global log reads positions 1..N without gaps", problem.empty(),
          problem.empty() ? std::to_string(read) + " events" : problem};
}

} // namespace

std::vector<check> verify_reopened(const scenario& sc, const acknowledged_run& run) {
  std::vector<check> checks;
  try {
    auto backend = open_backend(sc);
    set_up_domain(backend, sc);
    auto engine = backend.engine();
    auto last = engine->log().last_position();
    checks.push_back({after + "the last position is the acknowledged count", last == run.events,
                      std::to_string(last) + " (acknowledged " + std::to_string(run.events) + ")"});
    checks.push_back(log_is_gap_free(*engine, run.events));

    std::vector<sourcery::event_store> stores;
    for (std::int64_t t = 0; t < sc.tenants; ++t)
      stores.push_back(backend.in_tenant_mode("tenant-" + std::to_string(t)).event_store());
    std::size_t masked_seen = 0, clear_seen = 0;
    auto streams = verify_streams(stores, run.streams, run.shred_count, masked_seen, clear_seen);
    streams.name = after + streams.name;
    checks.push_back(streams);
    if (sc.encrypted_share > 0)
      checks.push_back({after + "shredded subjects still read as masks, others in clear",
                        (run.shred_count == 0 || masked_seen > 0) && clear_seen > 0,
                        std::to_string(masked_seen) + " masked, " + std::to_string(clear_seen)
                          + " readable encrypted events"});
    if (sc.outbox) {
      auto box = backend.outbox();
      auto counts = box.counts();
      std::vector<sourcery::position> dead;
      for (const auto& d : box.dead_letters())
        dead.push_back(d.event.position);
      std::sort(dead.begin(), dead.end());
      checks.push_back({after + "no outbox entry pending, the run's dead letters remain",
                        counts.pending == 0 && dead == run.dead,
                        std::to_string(counts.pending) + " pending, " + std::to_string(dead.size())
                          + " dead letters (the run left " + std::to_string(run.dead.size()) + ")"});
    }
  } catch (const std::exception& e) {
    checks.push_back({after + "the store opens again", false, e.what()});
  }
  return checks;
}

} // namespace harness
