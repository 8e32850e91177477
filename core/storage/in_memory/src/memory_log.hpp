// The in-memory global log: every committed event of every tenant, in
// position order, without gaps (R-P1, R-SUB-ORDER).
//
// Commits are serialised by one mutex: positions are assigned, records
// written and the commit hook (listeners) run under it, so records are
// published strictly in position order and a rolled-back commit consumes no
// position. Readers read published records without locking: a record is
// immutable once `last()` covers it and lives as long as the log.
//
// It is the in-memory engine's `storage::log`.
//
// Records live in chunks of 2^14 found through a two-level directory that
// grows on demand, so the log holds up to 2^46 records; past that a commit
// throws `storage_full`.
#pragma once

#include <sourcery/events.hpp>
#include <sourcery/storage/log.hpp>
#include <sourcery/detail/wake_ups.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sourcery::storage::in_memory_detail {

/// One committed event (88 bytes plus its payload in the log's arena). The
/// tenant, stream and type it points at are owned by the engine.
struct mem_record {
  position pos;
  const std::string* tenant;
  const stream_id* stream;
  const std::string* type;
  uuid id;
  std::int64_t created_us;
  std::uint64_t version; // 0 = versionless
  const char* payload;   // data, then context
  std::uint32_t data_len;
  std::uint32_t context_len;
  std::uint32_t schema; // R-UP1

  record view() const noexcept {
    return record{pos,     *tenant, stream, id, created_us, version, *type,
                  {payload, data_len}, {payload + data_len, context_len}, schema};
  }
  /// Appends the view to `out`, constructed in place: a temporary copied in
  /// made GCC stall on store forwarding five times a record (a 1,000-event
  /// read took 34 µs).
  void view_into(std::vector<record>& out) const {
#ifdef __cpp_aggregate_paren_init
    out.emplace_back(pos, std::string_view(*tenant), stream, id, created_us, version,
                     std::string_view(*type), std::string_view(payload, data_len),
                     std::string_view(payload + data_len, context_len), schema);
#else // clang before 16 (the fuzz build): no aggregate init in emplace_back
    out.push_back(view());
#endif
  }
};

/// What a commit writes for one event.
struct pending_event {
  const raw_event* raw;
  std::uint64_t version; // 0 = versionless
};

class memory_log final : public storage::log {
public:
  memory_log();
  ~memory_log() override;
  memory_log(const memory_log&) = delete;
  memory_log& operator=(const memory_log&) = delete;

  /// Writes `events` of one stream with consecutive positions and publishes
  /// them, unless `inside` throws (then nothing is published, no position is
  /// consumed, and the exception propagates). `inside` runs under the commit
  /// lock with the records about to be published. Returns the records.
  std::vector<const mem_record*> commit(
    const std::string* tenant, const stream_id* stream, std::span<const pending_event> events,
    const std::function<void(std::span<const mem_record* const>)>& inside);

  /// The last published position; 0 when the log is empty.
  position last() const noexcept { return last_.load(std::memory_order_seq_cst); }

  /// The record at `p`. @pre 1 ≤ p ≤ last()
  const mem_record& at(position p) const noexcept {
    auto i = p - 1;
    auto* mid = top_[i >> (chunk_bits + mid_bits)].load(std::memory_order_acquire);
    auto* chunk = mid[(i >> chunk_bits) & mid_mask].load(std::memory_order_acquire);
    return chunk[i & chunk_mask];
  }

  /// The wake-ups, run after each publication.
  storage::wake_ups& wake_ups() noexcept { return wake_ups_; }

  // -- storage::log ---------------------------------------------------------------

  position last_position() const override { return last(); }
  void read(position after, std::size_t max, record_batch& out) const override;
  std::uint64_t notify_after(position after, wake_fn wake) override {
    return wake_ups_.notify_after(after, std::move(wake));
  }
  void cancel(std::uint64_t id) override { wake_ups_.cancel(id); }
  void cancel_all() override { wake_ups_.cancel_all(); }

  /// Runs `f` while holding the commit lock (no commit runs meanwhile).
  template <class F>
  void under_commit_lock(F&& f) {
    std::lock_guard lock(commit_mutex_);
    f();
  }

  /// Bytes held by records and payloads.
  std::size_t memory_bytes() const;

private:
  static constexpr unsigned chunk_bits = 14, mid_bits = 16, top_bits = 16;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
  static constexpr std::size_t chunk_mask = chunk_size - 1;
  static constexpr std::size_t mid_size = std::size_t{1} << mid_bits;
  static constexpr std::size_t mid_mask = mid_size - 1;
  static constexpr std::size_t top_size = std::size_t{1} << top_bits;
  static constexpr std::size_t arena_block = std::size_t{1} << 20;

  using chunk_ptr = std::atomic<mem_record*>;

  mem_record* slot(position p);
  char* allocate(std::size_t n);
  const std::string* intern(const std::string& type);

  std::mutex commit_mutex_;
  std::atomic<position> last_{0};
  std::unique_ptr<std::atomic<chunk_ptr*>[]> top_; // GUARDED_BY(commit_mutex_) for writes
  std::atomic<std::size_t> chunks_{0};

  // Payload arena: bump allocation in blocks. GUARDED_BY(commit_mutex_)
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cursor_ = nullptr;
  char* block_end_ = nullptr;
  std::atomic<std::size_t> arena_bytes_{0};
  std::unordered_set<std::string> types_; // GUARDED_BY(commit_mutex_)

  storage::wake_ups wake_ups_;
};

} // namespace sourcery::storage::in_memory_detail
