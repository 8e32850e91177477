// The verification of a durable run after closing and reopening its store
// (SPEC §13, R-ST4): what the run acknowledged must read back.
#pragma once

#include "report.hpp"
#include "scenario.hpp"
#include "stream_check.hpp"

#include <sourcery/sourcery.hpp>

#include <cstdint>
#include <vector>

namespace harness {

/// What the run acknowledged.
struct acknowledged_run {
  std::uint64_t events = 0; // committed events: positions 1..events
  std::vector<std::vector<stream_slot>> streams; // per writer, with their final versions
  std::int64_t shred_count = 0;
  std::vector<sourcery::position> dead; // positions of the dead letters, sorted
};

/// Reopens the store at sc.storage.path — the caller has dropped every
/// handle of the run, so its engine is closed — and checks: the last
/// position equals `run.events`; the global log reads positions 1..events
/// without gaps; every stream holds versions 1..n as acknowledged (shredded
/// subjects still masked); with the outbox, nothing is pending and exactly
/// the run's dead letters remain. Closes the store again before returning.
/// A store that cannot be reopened is one failed check.
std::vector<check> verify_reopened(const scenario& sc, const acknowledged_run& run);

} // namespace harness
