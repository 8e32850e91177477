// What a crash child tells the parent, one fixed-size message per write(2)
// (smaller than PIPE_BUF, so a kill never leaves half a message), and the
// event it appends.
#pragma once

#include <boost/describe.hpp>

#include <cstdint>
#include <string>

namespace harness {

struct crash_message {
  enum kind_t : std::uint32_t { acknowledged = 1, published = 2 };
  std::uint32_t kind = 0;
  std::uint32_t tenant = 0; // acknowledged: the stream's tenant and index
  std::uint32_t stream = 0;
  std::uint32_t events = 0; // acknowledged: events in the append
  std::uint64_t first = 0;  // acknowledged: receipt positions; published: the position
  std::uint64_t last = 0;
  std::uint64_t version = 0; // acknowledged: the stream's version afterwards
};
static_assert(sizeof(crash_message) == 40);

/// The file descriptor a child writes its messages to.
inline constexpr int crash_pipe_fd = 3;

/// The event a crash child appends: which commit it belongs to (unique
/// over the whole run) and its place in it, so that the checker can tell a
/// half-stored commit from the stored log alone.
struct crash_event {
  std::uint64_t commit = 0;
  std::uint32_t index = 0;
  std::uint32_t size = 0;
  std::string payload;
};
BOOST_DESCRIBE_STRUCT(crash_event, (), (commit, index, size, payload))

inline std::string crash_tenant(std::uint32_t t) { return "tenant-" + std::to_string(t); }
inline std::string crash_stream_name(std::uint32_t s) { return "stream-" + std::to_string(s); }
inline constexpr const char* crash_category = "crash";

} // namespace harness
