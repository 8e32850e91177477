// The crash scenario (SPEC §15 R-ST7): a child process appends to a RocksDB
// store and reports each acknowledgement through a pipe; the harness kills
// it with SIGKILL at a random moment, reopens the store and checks that
// nothing acknowledged was lost, nothing is half stored, positions are
// gap-free and every stored event has its outbox entry; then the next child
// appends on top. Exit code 0 when every check passed, 1 on any violation.
#pragma once

#include "scenario.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace harness {

/// The command-line flag that makes the harness a crash child (not a
/// setting: the parent adds it), and the one that makes the child append
/// that many times and end normally instead of waiting to be killed.
inline constexpr const char* crash_child_flag = "--crash-child=";
inline constexpr const char* crash_child_appends_flag = "--crash-child-appends=";

/// The parent: sc.crash.kills rounds of spawn, kill, reopen and check, then
/// one round whose child ends normally. `argv` is the harness's own command
/// line, passed on to each child with crash_child_flag.
int run_crash(const scenario& sc, const std::vector<std::string>& argv);

/// The child number `child` (≥ 1): appends to sc.storage until killed (or
/// `appends` appends, then ends normally), reporting to file descriptor 3.
int run_crash_child(const scenario& sc, std::uint32_t child, std::int64_t appends);

} // namespace harness
