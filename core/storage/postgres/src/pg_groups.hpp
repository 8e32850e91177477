// The PostgreSQL engine's subscription groups (R-SUB-GROUP, R-SUB-GROUP-NODES):
// rows of the `sub_groups` and `sub_group_entries` tables, shared by every
// node on the database, with claims and leases as the outbox has them
// (pg_outbox.hpp).
//
// A group row holds its checkpoint and its frontier (how far its records
// were read from the log into entries). An entry row is one record read and
// not settled: pending (0), held (1: member, lease_until), waiting for its
// retry (2: lease_until is when it is due) or parked (3). A claim runs in one
// transaction that locks the group row (claims of one group are serialised;
// claims of different groups are not): leases and retries that ran out make
// their rows pending again, the member's other claims are renewed, more
// records are read into entries, pending rows are claimed in position order
// (with per-stream order: only those with no earlier unsettled row of their
// stream), and the checkpoint advances. So a node that stops renewing loses
// its claims to the other nodes' members once its leases end. An ack deletes
// its row; an entry is only changed by the member that holds it.
//
// Wake-ups (notify_change) are of this node's changes only: a member waiting
// on another node notices an ack there with its next claim (or the log
// growing, or a lease coming due).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include "connection.hpp"

#include <sourcery/storage/group_store.hpp>
#include <sourcery/storage/log.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace sourcery::storage::postgres_detail {

class pg_groups final : public group_store {
public:
  pg_groups(std::shared_ptr<pool> connections, std::string schema, const storage::log& log);

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

private:
  /// Throws unknown_group unless `group` exists.
  void check_exists(connection& c, const std::string& group) const;
  /// Runs and drops this node's wake-ups of `group`.
  void changed(const std::string& group);

  std::shared_ptr<pool> pool_;
  const std::string schema_;
  const storage::log& log_;

  std::mutex wake_mutex_;
  std::uint64_t next_wake_ = 0; // GUARDED_BY(wake_mutex_)
  std::map<std::uint64_t, std::pair<std::string, std::function<void()>>> wakes_; // GUARDED_BY
};

} // namespace sourcery::storage::postgres_detail
