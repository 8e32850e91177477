// What an operator's tool (sourcery-admin) needs of a store beyond the parts
// the runtime uses (R-ADM1): the store's format, its size, the outbox's
// pending entries and every projector cursor listed, and an outbox entry's
// state set when a store is moved between engines. Everything else a tool
// reads — events, streams, snapshots, dead letters — it reads through the
// runtime's own parts (log, stream_store, outbox_store).
//
// An engine that offers it returns it from `engine::admin()`; the in-memory,
// RocksDB and PostgreSQL engines do.
//
// Thread-safety: as the engine's parts. `restore_outbox_entry` is for a store
// no publisher is using (an import); the listings may run beside a service.
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/storage/cursor_store.hpp>
#include <sourcery/storage/stream_store.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sourcery::storage {

/// An outbox entry still to publish, with its failed attempts.
struct pending_entry {
  sourcery::position position = 0;
  std::uint32_t attempts = 0;
};

class store_admin {
public:
  virtual ~store_admin() = default;

  /// The version of the store's format as stored (R-ST6).
  virtual std::uint32_t format_version() const = 0;

  /// Bytes the store's files take; none where the engine cannot tell.
  virtual std::optional<std::uint64_t> bytes_on_disk() const = 0;

  /// Every pending outbox entry (claimed and held ones too) with the failed
  /// attempts stored for it, in position order.
  virtual std::vector<pending_entry> pending_outbox() const = 0;

  /// Every projector cursor with its version, in no particular order. The
  /// stream ids carry no name (a cursor is keyed by UUID and category).
  virtual std::vector<std::pair<cursor_key, version>> cursors() const = 0;

  /// Sets the pending entry at `pos` to `attempts` failed attempts, or —
  /// when `last_error` is given — moves it to the dead letters with
  /// `attempts` and that error. Throws `invalid_argument` when there is no
  /// pending, unclaimed entry at `pos`.
  virtual void restore_outbox_entry(position pos, std::uint32_t attempts,
                                    const std::string* last_error) = 0;

  /// The latest snapshot of `stream` in `streams` (a stream_store of this
  /// engine); none when it has none or is absent. The default reads the
  /// stream; an engine may look the snapshot up alone.
  virtual std::optional<raw_event> snapshot(const stream_store& streams,
                                            const stream_id& stream) const {
    return streams.read(stream, std::nullopt, std::nullopt).snapshot;
  }

  /// The positions the stream's index holds — of the events a read of the
  /// whole stream returns after its snapshot — in version order. The default
  /// reads the stream; an engine may read its index alone.
  virtual std::vector<position> indexed(const stream_store& streams,
                                        const stream_id& stream) const {
    std::vector<position> out;
    for (const auto& r : streams.read(stream, std::nullopt, std::nullopt).events.records)
      out.push_back(r.position);
    return out;
  }
};

} // namespace sourcery::storage
