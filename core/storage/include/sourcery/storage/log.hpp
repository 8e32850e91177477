// The global log (R-P1, R-SUB-ORDER): every committed event of every tenant
// at its position, and wake-ups for "the log passed position p". Readers
// (subscriptions, the crash check) use it; appends go through the tenant's
// `stream_store`.
//
// Thread-safety: every member may be called from any thread, any number at
// once. Memory: see record.hpp.
#pragma once

#include <sourcery/storage/record.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace sourcery::storage {

/// Called once, from any thread, when the log has a position above the one
/// a wake-up was registered for.
using wake_fn = std::function<void()>;

class log {
public:
  virtual ~log() = default;

  /// The last committed position; 0 when nothing was committed. Every record
  /// up to it is readable.
  virtual position last_position() const = 0;

  /// Appends to `out` up to `max` records with positions above `after`, in
  /// position order, without gaps, none above last_position() at the call.
  virtual void read(position after, std::size_t max, record_batch& out) const = 0;

  /// Calls `wake` once, as soon as last_position() > `after` (at once if it
  /// already is), from the committing thread or this one. Returns an id for
  /// `cancel`.
  virtual std::uint64_t notify_after(position after, wake_fn wake) = 0;
  /// Drops a wake-up that has not run; no-op for one that ran or an unknown id.
  virtual void cancel(std::uint64_t id) = 0;
  /// Drops every wake-up (at shutdown).
  virtual void cancel_all() = 0;
};

} // namespace sourcery::storage
