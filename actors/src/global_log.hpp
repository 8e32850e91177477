// The global log: every committed event of every tenant, in position order,
// without gaps (R-P1, R-SUB-ORDER).
//
// Tenant storage actors commit through `commit`, which is serialised by one
// mutex: positions are assigned, records written and listeners called under
// it, so records are published strictly in position order and a rolled-back
// commit consumes no position. Readers (stream loads, subscription feeds) read
// published records without locking: a record is immutable once `last()`
// covers it and lives as long as the log.
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/registry.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sourcery::detail {

/// One committed event (80 bytes plus its payload in the log's arena).
struct log_record {
  position pos;
  const std::string* tenant;
  const stream_id* stream;
  uuid id;
  std::int64_t created_us;
  std::uint64_t version; // 0 = versionless
  const event_type* type;
  const char* payload; // data, then context
  std::uint32_t data_len;
  std::uint32_t context_len;

  std::string_view data() const noexcept { return {payload, data_len}; }
  std::string_view context() const noexcept { return {payload + data_len, context_len}; }
  std::optional<sourcery::version> opt_version() const noexcept {
    return version == 0 ? std::nullopt : std::optional<sourcery::version>(version);
  }
};

/// What a commit writes for one event.
struct pending_event {
  const raw_event* raw;
  const event_type* type;
  std::uint64_t version; // 0 = versionless
};

/// Called under the commit lock with the records about to be published; may
/// throw to roll the commit back.
using commit_hook = std::function<void(std::span<const log_record* const>)>;

class global_log {
public:
  global_log();
  ~global_log();
  global_log(const global_log&) = delete;
  global_log& operator=(const global_log&) = delete;

  /// Writes `events` of one stream with consecutive positions and publishes
  /// them, unless `hook` throws (then nothing is published, no position is
  /// consumed, and the exception propagates). Returns the records.
  std::vector<const log_record*> commit(const std::string* tenant, const stream_id* stream,
                                        std::span<const pending_event> events,
                                        const commit_hook& hook);

  /// The last published position; 0 when the log is empty.
  position last() const noexcept { return last_.load(std::memory_order_seq_cst); }

  /// The record at `p`. @pre 1 ≤ p ≤ last()
  const log_record& at(position p) const noexcept {
    auto i = p - 1;
    return directory_[i >> chunk_bits].load(std::memory_order_acquire)[i & chunk_mask];
  }

  /// Calls `wake` once, as soon as last() > after (immediately if it already
  /// is), from the committing thread or this one.
  void notify_after(position after, std::function<void()> wake);

  /// Runs `f` while holding the commit lock (no commit runs meanwhile).
  template <class F>
  void under_commit_lock(F&& f) {
    std::lock_guard lock(commit_mutex_);
    f();
  }

  /// Drops every registered wake-up (at shutdown).
  void clear_waiters();

  /// Bytes held by records and payloads.
  std::size_t memory_bytes() const;

private:
  static constexpr unsigned chunk_bits = 14;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
  static constexpr std::size_t chunk_mask = chunk_size - 1;
  static constexpr std::size_t max_chunks = std::size_t{1} << 16;
  static constexpr std::size_t arena_block = std::size_t{1} << 20;

  log_record* slot(position p);
  char* allocate(std::size_t n);
  void wake_waiters();

  std::mutex commit_mutex_;
  std::atomic<position> last_{0};
  std::unique_ptr<std::atomic<log_record*>[]> directory_;

  // Payload arena: bump allocation in blocks, guarded by commit_mutex_.
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cursor_ = nullptr;
  char* block_end_ = nullptr;
  std::atomic<std::size_t> arena_bytes_{0};

  std::mutex waiters_mutex_;
  std::atomic<bool> has_waiters_{false};
  std::vector<std::pair<position, std::function<void()>>> waiters_;
};

} // namespace sourcery::detail
