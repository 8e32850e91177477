#include "commit_queue.hpp"

#include <rocksdb/write_batch.h>

#include <bit>
#include <string_view>

namespace sourcery::storage::rocksdb_detail {

commit_queue::commit_queue(
  store& s, position last,
  std::function<void(std::span<const std::unique_ptr<pending_commit>>)> published)
  : store_(s), published_(std::move(published)), last_(last), next_position_(last + 1),
    wake_ups_([this] { return this->last(); }), writer_([this] { run(); }) {}

commit_queue::~commit_queue() {
  {
    std::lock_guard lock(write_mutex_);
    stopping_ = true;
  }
  queued_.notify_one();
  writer_.join();
}

position commit_queue::submit(std::unique_ptr<pending_commit>&& c, const commit_hook& hook) {
  std::lock_guard sequence(sequence_mutex_);
  if (c->epoch != epoch_.load(std::memory_order_acquire))
    throw storage_unavailable(
      "an earlier write to RocksDB failed while this append was being prepared");
  auto first = next_position_;
  if (first + c->records.size() < first || first + c->records.size() > (position{1} << 62))
    throw storage_full("the log cannot take more positions");
  for (std::size_t i = 0; i < c->records.size(); ++i)
    c->records[i]->pos = first + i;
  if (hook) {
    std::vector<record> views;
    views.reserve(c->records.size());
    for (const auto& r : c->records)
      r->view_into(views);
    hook(views); // a throw leaves next_position_ untouched
  }
  next_position_ = first + c->records.size();
  bool wake;
  {
    std::lock_guard write(write_mutex_);
    wake = queue_.empty();
    if (wake)
      first_queued_ = clock::now();
    queue_.push_back(std::move(c));
    queued_any_.store(true, std::memory_order_release);
  }
  if (wake)
    queued_.notify_one();
  return first;
}

void commit_queue::run() {
  bool resume = false; // a write failed: ask RocksDB to resume first
  std::unique_lock lock(write_mutex_);
  for (auto idle = clock::now();; idle = clock::now()) {
    if (queue_.empty() && !stopping_) {
      lock.unlock();
      idle_.spin([&] { return queued_any_.load(std::memory_order_acquire); });
      lock.lock();
    }
    queued_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    queued_any_.store(false, std::memory_order_relaxed);
    // How long the writer had nothing to do: until the next append came, not
    // until the writer saw it (a sleeper sees it tens of µs later).
    idle_.took(std::max(first_queued_ - idle, clock::duration::zero()));
    if (queue_.empty())
      return; // stopping, and everything queued is written
    std::vector<std::unique_ptr<pending_commit>> group;
    group.swap(queue_);
    lock.unlock();
    resume = !write(group, resume);
    lock.lock();
  }
}

bool commit_queue::write(std::vector<std::unique_ptr<pending_commit>>& group, bool resume) {
  rocksdb::Status status;
  if (resume)
    status = store_.db->Resume();
  if (status.ok()) try {
    rocksdb::WriteBatch batch;
    std::string index; // one buffer for every index key (they are long)
    const auto no_attempts = encode_attempts(0);
    for (const auto& c : group) {
      auto n = c->first_number;
      for (std::size_t i = 0; i < c->records.size(); ++i) {
        const auto& r = *c->records[i];
        auto pos_key = position_key(r.pos);
        batch.Put(store_.cf(family::log), pos_key, r.bytes);
        index_key(index, c->stream_key, n + i);
        batch.Put(store_.cf(family::index), index, pos_key);
        if (i < c->to_outbox.size() && c->to_outbox[i])
          batch.Put(store_.cf(family::outbox), outbox_key(c->outbox_shard, r.pos), no_attempts);
      }
    }
    // Each stream's state once: the state after its last append in the group
    // holds the ones before (pipelined appends put several appends of one
    // stream in a group: 70% of the states in bench_rocksdb's (a)). An
    // open-addressing table, so no allocation per append.
    std::vector<const pending_commit*> last(std::bit_ceil(group.size() * 2), nullptr);
    const auto mask = last.size() - 1;
    for (const auto& c : group) {
      auto h = std::hash<std::string_view>{}(c->stream_key) & mask;
      while (last[h] && last[h]->stream_key != c->stream_key)
        h = (h + 1) & mask;
      last[h] = c.get(); // a later append of the stream replaces an earlier one
    }
    for (const auto* c : last)
      if (c)
        batch.Put(store_.cf(family::streams), c->stream_key, c->state);
    auto started = clock::now();
    status = store_.db->Write(store_.commit_write, &batch);
    write_time_.observe(clock::now() - started);
  } catch (const std::exception& e) { // e.g. bad_alloc: the batch is not written
    status = rocksdb::Status::Aborted(e.what());
  }

  std::string error;
  if (status.ok()) {
    std::uint64_t events = 0;
    for (const auto& c : group)
      events += c->records.size();
    group_events_.observe(events);
    published_(group); // noexcept
    last_.store(group.back()->records.back()->pos, std::memory_order_seq_cst);
    wake_ups_.published();
  } else {
    error = "writing a commit to RocksDB failed: " + status.ToString();
    // Commits queued behind this batch hold positions after it: fail them
    // too and take their positions back, under the sequencing lock so no new
    // append takes one meanwhile; the new epoch refuses appends prepared
    // against states that counted the failed ones.
    std::lock_guard sequence(sequence_mutex_);
    std::lock_guard write(write_mutex_);
    for (auto& c : queue_)
      group.push_back(std::move(c));
    queue_.clear();
    next_position_ = last_.load() + 1;
    epoch_.fetch_add(1, std::memory_order_acq_rel);
  }
  for (const auto& c : group)
    if (c->owner)
      c->owner->written(*c, error);
  return status.ok();
}

} // namespace sourcery::storage::rocksdb_detail
