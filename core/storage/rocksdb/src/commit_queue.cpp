#include "commit_queue.hpp"

namespace sourcery::storage::rocksdb_detail {

commit_queue::commit_queue(store& s, position last,
                           std::function<void(std::span<pending_commit* const>)> published)
  : store_(s), published_(std::move(published)), last_(last), next_position_(last + 1),
    wake_ups_([this] { return this->last(); }) {}

void commit_queue::commit(pending_commit& c, const commit_hook& hook) {
  {
    std::lock_guard sequence(sequence_mutex_);
    auto first = next_position_;
    if (first + c.records.size() < first || first + c.records.size() > (position{1} << 62))
      throw storage_full("the log cannot take more positions");
    for (std::size_t i = 0; i < c.records.size(); ++i)
      c.records[i]->pos = first + i;
    if (hook) {
      std::vector<record> views;
      views.reserve(c.records.size());
      for (const auto& r : c.records)
        views.push_back(r->view());
      hook(views); // a throw leaves next_position_ untouched
    }
    next_position_ = first + c.records.size();
    std::lock_guard write(write_mutex_);
    queue_.push_back(&c);
  }
  std::unique_lock lock(write_mutex_);
  while (!c.done) {
    if (!leading_)
      lead(lock);
    else
      c.wake.wait(lock);
  }
  if (!c.error.empty())
    throw storage_unavailable(c.error);
}

void commit_queue::lead(std::unique_lock<std::mutex>& lock) {
  leading_ = true;
  std::vector<pending_commit*> group;
  group.swap(queue_);
  bool resume = std::exchange(resume_, false);
  lock.unlock();

  rocksdb::Status status;
  if (resume)
    status = store_.db->Resume();
  if (status.ok()) try {
    rocksdb::WriteBatch batch;
    for (auto* c : group) {
      auto n = c->first_number;
      for (std::size_t i = 0; i < c->records.size(); ++i) {
        const auto& r = *c->records[i];
        auto pos_key = position_key(r.pos);
        batch.Put(store_.cf(family::log), pos_key, r.bytes);
        batch.Put(store_.cf(family::index), index_key(c->stream_key, n + i), pos_key);
        if (i < c->to_outbox.size() && c->to_outbox[i])
          batch.Put(store_.cf(family::outbox), outbox_key(c->outbox_shard, r.pos),
                    encode_attempts(0));
      }
      batch.Put(store_.cf(family::streams), c->stream_key, c->state);
    }
    status = store_.db->Write(store_.commit_write, &batch);
  } catch (const std::exception& e) { // e.g. bad_alloc: the batch is not written
    status = rocksdb::Status::Aborted(e.what());
  }

  if (status.ok()) {
    published_(group); // noexcept
    last_.store(group.back()->records.back()->pos, std::memory_order_seq_cst);
    lock.lock();
    for (auto* c : group)
      c->done = true;
  } else {
    auto error = "writing a commit to RocksDB failed: " + status.ToString();
    // Commits queued behind this batch hold positions after it: fail them
    // too and take their positions back, under the sequencing lock so no new
    // append takes one meanwhile.
    std::lock_guard sequence(sequence_mutex_);
    lock.lock();
    for (auto* c : group) {
      c->error = error;
      c->done = true;
    }
    fail_queued(error);
    next_position_ = last_.load() + 1;
    resume_ = true;
  }
  leading_ = false;
  for (auto* c : group)
    c->wake.notify_one();
  if (!queue_.empty())
    queue_.front()->wake.notify_one(); // the next leader
  if (status.ok()) {
    lock.unlock();
    wake_ups_.published();
    lock.lock();
  }
}

void commit_queue::fail_queued(const std::string& error) {
  for (auto* c : queue_) {
    c->error = error;
    c->done = true;
    c->wake.notify_one();
  }
  queue_.clear();
}


} // namespace sourcery::storage::rocksdb_detail
