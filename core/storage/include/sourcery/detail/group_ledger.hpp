// The group ledger: a `storage::group_store` over an engine's log, kept in
// this process (R-SUB-GROUP). The in-memory engine uses it as it is; a
// durable engine gives it a `group_journal` that writes down, after every
// change, what must survive a restart — the checkpoint, the attempts of
// records that failed, the parked records — and restores the groups from it
// when it opens.
//
// Claims and leases live in the process: records in a member's hands when
// the process ends are offered again after a restart (at least once).
//
// Thread-safe: one mutex guards every group. The journal and the filter are
// called with it held; the log is read with it held.
#pragma once

#include <sourcery/storage/group_store.hpp>
#include <sourcery/storage/log.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace sourcery::storage {

/// A record a group keeps across a restart: one that failed, one replayed
/// from the parked list, a parked one, or one acked above the checkpoint
/// (acked out of order: not to be offered again).
struct group_kept_entry {
  position pos = 0;
  std::uint32_t attempts = 0;
  bool parked = false;
  bool acked = false;
  std::string last_error;
};

/// What a durable engine writes for a group.
class group_journal {
public:
  virtual ~group_journal() = default;
  /// Replaces what is kept of group `spec.name`: its spec, its checkpoint
  /// and its kept entries (in position order). Throws on a storage error;
  /// the ledger's change is then undone.
  virtual void save(const group_spec& spec, position checkpoint,
                    std::span<const group_kept_entry> kept) = 0;
};

class group_ledger final : public group_store {
public:
  /// `journal` may be null (nothing kept) and must outlive the ledger.
  explicit group_ledger(const storage::log& log, group_journal* journal = nullptr);
  ~group_ledger() override;

  /// Restores a group written by the journal, before any other call.
  void restore(const group_spec& spec, position checkpoint, std::vector<group_kept_entry> kept);

  void open(const group_spec& spec) override;
  std::vector<std::string> groups() const override;
  std::vector<group_claim> claim(const std::string& group, const std::string& member,
                                 std::size_t limit, const record_filter& accept,
                                 const group_policy& policy) override;
  void ack(const std::string& group, const std::string& member, position pos) override;
  nack_outcome nack(const std::string& group, const std::string& member, position pos,
                    const std::string& error, const group_policy& policy) override;
  void renew(const std::string& group, const std::string& member,
             const group_policy& policy) override;
  void leave(const std::string& group, const std::string& member) override;
  group_status status(const std::string& group) const override;
  std::vector<parked_record> parked(const std::string& group) const override;
  std::size_t replay(const std::string& group, std::optional<position> at) override;
  std::size_t purge(const std::string& group, std::optional<position> at) override;
  std::optional<std::chrono::milliseconds> next_due(const std::string& group) const override;
  std::uint64_t notify_change(const std::string& group, std::function<void()> changed) override;
  void cancel_wake(std::uint64_t id) override;

  struct state; // one group

private:
  state& find(const std::string& group) const; // throws unknown_group
  void save(state& g); // with mutex_ held

  const storage::log& log_;
  group_journal* journal_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<state>> groups_; // GUARDED_BY(mutex_)
  std::uint64_t next_wake_ = 0;                          // GUARDED_BY(mutex_)
};

} // namespace sourcery::storage
