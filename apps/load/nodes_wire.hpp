// What a node of a nodes run tells the parent: one fixed-size message per
// write(2) (smaller than PIPE_BUF), on file descriptor node_pipe_fd. The
// parent answers once, on the node's stdin: "total N\n", the events every
// node committed, when all of them finished writing.
#pragma once

#include <cstdint>

namespace harness {

struct node_message {
  enum kind_t : std::uint32_t {
    published = 1,    // x: a position this node's publisher took (told before it is reported)
    stream = 2,       // a: writer, b: the stream's index among the writer's, x: events appended to it
    written = 3,      // x: events committed, y: appends committed, z: appends failed,
                      // a: append p50 µs, b: append p99 µs, c: writing time in ms
    subscription = 4, // a: its index, x: events received, y: out of order or repeated, z: last position
    outbox = 5,       // x: entries this node published, y: failed attempts, z: publisher calls
  };
  std::uint32_t kind = 0;
  std::uint32_t a = 0, b = 0, c = 0;
  std::uint64_t x = 0, y = 0, z = 0;
};
static_assert(sizeof(node_message) == 40);

inline constexpr int node_pipe_fd = 3;

} // namespace harness
