// Child processes of the harness (the crash scenario's children, a nodes
// run's nodes): this program again, with extra flags, and pipes to talk
// over. Fixed-size messages smaller than PIPE_BUF go child -> parent, so a
// killed child never leaves half a message.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace harness {

/// A running child, the read end of its report pipe and (when asked for)
/// the write end of its stdin.
struct child_process {
  pid_t pid = -1;
  int from_child = -1;
  int to_child = -1; // -1 unless spawned with a stdin pipe
};

/// fork+exec of this program with `args` (argv[0] included); the child's
/// file descriptor `report_fd` is the write end of a new pipe, and with
/// `stdin_pipe` its stdin is the read end of another. Throws on failure.
child_process spawn_child(const std::vector<std::string>& args, int report_fd,
                          bool stdin_pipe = false);

/// "killed by signal 9", "exited with code 1", …
std::string describe_status(int status);

} // namespace harness
