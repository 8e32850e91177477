// The failover scenario (SPEC §16, R-N5, R-ES6): `--failover.kills=K` with
// the postgres engine. The harness makes a pg_auto_failover formation — a
// monitor, a primary and its synchronous standby, throwaway clusters in a
// temporary folder (pg_formation.hpp) — and runs `harness.nodes` nodes on
// it: backends of this process, each with its own engine (connections,
// committer, listener), its writers, `harness.subscriptions` push
// subscriptions and the continuous outbox. After each K+1-th share of the
// events is acknowledged it SIGKILLs the primary, waits for the monitor to
// promote the standby and starts the dead server again, which rejoins as
// the standby; so the second kill hits the new primary (failing back).
//
// Writers append with expected versions, one append at a time (going on
// past `harness.events` until the last kill is done); an append
// refused with `storage_unavailable` (its outcome unknown) is tried again
// with the same events and expected version until it is answered.
//
// Verified: every acknowledged append is stored, once, where its receipt
// said (none lost: replication is synchronous); positions are gap-free;
// every stream holds versions 1..n; each subscription saw every event once,
// in order; every outbox entry was published (at least once: a node that
// lost its report publishes again) and none is pending. Reported: the
// longest window with no successful append, per kill and overall, the
// appends refused meanwhile, and what was lost. Exit code 0 verified, 1 not;
// if pg_auto_failover cannot start, 1.
#pragma once

#include "scenario.hpp"

namespace harness {

int run_failover(const scenario& sc);

} // namespace harness
