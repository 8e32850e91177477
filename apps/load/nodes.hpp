// A nodes run (SPEC §16, R-N1–R-N3): `--harness.nodes=N` with the postgres
// engine. The harness starts N node processes on one database (this program
// again, with node_child_flag, like the crash scenario's children), gives
// node k the writers w with w % N == k, and verifies across the nodes: each
// node's push subscriptions received every node's events exactly once, in
// position order; every outbox entry was published by exactly one node or
// dead-lettered, and the nodes' counts add up; positions are 1..total
// without gaps; every stream holds versions 1..n. Exit code 0 verified, 1
// not.
#pragma once

#include "scenario.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace harness {

/// The command-line flag that makes the harness node k (0-based) of a nodes
/// run (not a setting: the parent adds it).
inline constexpr const char* node_child_flag = "--node-child=";

/// The parent: starts sc.nodes nodes, collects their reports, verifies,
/// prints the report and writes it as JSON. `argv` is the harness's own
/// command line, passed on to each node with node_child_flag.
int run_nodes(const scenario& sc, const std::vector<std::string>& argv);

/// Node `node`: writes with its writers, reports to file descriptor 3, reads
/// the run's total from stdin once every node wrote, then waits for its
/// subscriptions and the (shared) outbox and reports them.
int run_node_child(const scenario& sc, std::uint32_t node);

} // namespace harness
