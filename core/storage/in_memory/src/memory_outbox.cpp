#include "memory_outbox.hpp"

#include <algorithm>

namespace sourcery::storage::in_memory_detail {

position memory_outbox::shard::peek() const {
  position fresh_pos = fresh < entries.size() ? entries[fresh].rec->pos : 0;
  position ready_pos = ready.empty() ? 0 : ready.begin()->first;
  if (fresh_pos == 0)
    return ready_pos;
  if (ready_pos == 0)
    return fresh_pos;
  return std::min(fresh_pos, ready_pos);
}

outbox_entry* memory_outbox::shard::take() {
  auto next = peek();
  if (next == 0)
    return nullptr;
  outbox_entry* e;
  if (!ready.empty() && ready.begin()->first == next) {
    e = ready.begin()->second;
    ready.erase(ready.begin());
  } else {
    e = &entries[fresh++];
  }
  e->state = entry_state::in_flight;
  return e;
}

void memory_outbox::shard::compact() {
  while (!entries.empty() && entries.front().state == entry_state::done) {
    entries.pop_front();
    --fresh;
  }
}

memory_outbox::memory_outbox(std::size_t shards) {
  shards_.resize(std::max<std::size_t>(1, shards));
  for (auto& s : shards_)
    s = std::make_unique<shard>();
}

std::size_t memory_outbox::shard_of(std::string_view tenant) const noexcept {
  return std::hash<std::string_view>{}(tenant) % shards_.size();
}

void memory_outbox::add(std::span<const mem_record* const> records,
                        std::span<const char> to_outbox) {
  if (records.empty() || to_outbox.empty())
    return;
  // One append is one stream of one tenant: all records go to one shard.
  auto& s = *shards_[shard_of(*records.front()->tenant)];
  std::lock_guard lock(s.mutex);
  for (std::size_t i = 0; i < records.size() && i < to_outbox.size(); ++i)
    if (to_outbox[i]) {
      s.entries.emplace_back(records[i]);
      ++s.pending;
    }
}

outbox_claim memory_outbox::claim_of(std::size_t shard, const outbox_entry* e) {
  return outbox_claim{shard, e->rec->view(), e->attempts, reinterpret_cast<std::uint64_t>(e),
                      nullptr};
}

std::vector<outbox_claim> memory_outbox::claim(std::size_t index, std::size_t limit) {
  if (index >= shards_.size())
    throw invalid_argument("outbox shard " + std::to_string(index) + " does not exist");
  std::vector<outbox_claim> out;
  auto& s = *shards_[index];
  std::lock_guard lock(s.mutex);
  while (out.size() < limit) {
    auto* e = s.take();
    if (!e)
      break;
    out.push_back(claim_of(index, e));
  }
  return out;
}

std::vector<outbox_claim> memory_outbox::claim_all(std::size_t limit) {
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto& s : shards_)
    locks.emplace_back(s->mutex);
  std::vector<outbox_claim> out;
  while (out.size() < limit) {
    std::size_t best = shards_.size();
    position best_pos = 0;
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      auto p = shards_[i]->peek();
      if (p != 0 && (best_pos == 0 || p < best_pos)) {
        best = i;
        best_pos = p;
      }
    }
    if (best == shards_.size())
      break;
    out.push_back(claim_of(best, shards_[best]->take()));
  }
  return out;
}

outbox_outcome memory_outbox::report(const outbox_claim& c, const std::string* failure,
                                    const outbox_policy& policy) {
  auto& s = *shards_[c.shard];
  std::unique_lock lock(s.mutex);
  auto result = report_locked(s, reinterpret_cast<outbox_entry*>(c.handle), failure, policy);
  bool empty = s.pending == 0;
  lock.unlock();
  if (empty)
    settled();
  return result;
}

outbox_outcome memory_outbox::report_locked(shard& s, outbox_entry* e,
                                            const std::string* failure,
                                            const outbox_policy& policy) {
  auto pos = e->rec->pos;
  auto finish = [&] {
    e->state = entry_state::done;
    --s.pending;
    if (auto it = s.requeued.find(pos); it != s.requeued.end() && &it->second == e)
      s.requeued.erase(it);
    else
      s.compact();
  };
  if (!failure) {
    ++s.published;
    finish();
    return outbox_outcome::done;
  }
  ++s.failures;
  ++e->attempts;
  e->last_error = *failure;
  if (e->attempts >= policy.attempts) {
    s.dead.emplace(pos, dead_letter{e->rec, e->attempts, e->last_error});
    finish();
    return outbox_outcome::dead;
  }
  if (policy.hold_for_retry) {
    e->state = entry_state::held;
    s.held.emplace(pos, e);
  } else {
    e->state = entry_state::pending;
    s.ready.emplace(pos, e);
  }
  return outbox_outcome::retry;
}

std::vector<pending_entry> memory_outbox::pending_entries() const {
  std::vector<pending_entry> out;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    for (const auto& e : s->entries)
      if (e.state != entry_state::done)
        out.push_back({e.rec->pos, e.attempts});
    for (const auto& [pos, e] : s->requeued)
      if (e.state != entry_state::done)
        out.push_back({pos, e.attempts});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.position < b.position; });
  return out;
}

void memory_outbox::restore(position pos, std::uint32_t attempts,
                            const std::string* last_error) {
  for (auto& sp : shards_) {
    auto& s = *sp;
    std::unique_lock lock(s.mutex);
    outbox_entry* e = nullptr;
    for (std::size_t i = 0; i < s.entries.size() && !e; ++i) {
      if (s.entries[i].rec->pos != pos)
        continue;
      if (i >= s.fresh) { // never claimed: the entries up to it become ready ones
        for (auto j = s.fresh; j <= i; ++j)
          s.ready.emplace(s.entries[j].rec->pos, &s.entries[j]);
        s.fresh = i + 1;
      }
      e = &s.entries[i];
    }
    auto requeued = s.requeued.find(pos);
    if (!e && requeued != s.requeued.end())
      e = &requeued->second;
    if (!e)
      continue;
    auto ready = s.ready.find(pos);
    if (ready == s.ready.end() || e->state != entry_state::pending)
      break;
    e->attempts = attempts;
    if (!last_error)
      return;
    s.ready.erase(ready);
    e->last_error = *last_error;
    s.dead.emplace(pos, dead_letter{e->rec, attempts, *last_error});
    e->state = entry_state::done;
    --s.pending;
    if (requeued != s.requeued.end() && &requeued->second == e)
      s.requeued.erase(requeued);
    else
      s.compact();
    bool empty = s.pending == 0;
    lock.unlock();
    if (empty)
      settled();
    return;
  }
  throw invalid_argument("no pending, unclaimed outbox entry at position " + std::to_string(pos));
}

std::optional<outbox_claim> memory_outbox::claim_held(std::size_t index, position pos) {
  auto& s = *shards_[index];
  std::lock_guard lock(s.mutex);
  auto it = s.held.find(pos);
  if (it == s.held.end())
    return std::nullopt;
  auto* e = it->second;
  s.held.erase(it);
  e->state = entry_state::in_flight;
  return claim_of(index, e);
}

void memory_outbox::release_held(std::size_t index) {
  auto& s = *shards_[index];
  std::lock_guard lock(s.mutex);
  for (auto& [pos, e] : s.held) {
    e->state = entry_state::pending;
    s.ready.emplace(pos, e);
  }
  s.held.clear();
}

std::vector<dead_entry> memory_outbox::dead_letters() const {
  std::vector<dead_entry> out;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    for (const auto& [pos, d] : s->dead)
      out.push_back({d.rec->view(), d.attempts, d.last_error, nullptr});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.record.position < b.record.position; });
  return out;
}

std::size_t memory_outbox::requeue(std::optional<position> at) {
  std::size_t moved = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    for (auto it = s->dead.begin(); it != s->dead.end();) {
      if (at && it->first != *at) {
        ++it;
        continue;
      }
      auto& e = s->requeued.insert_or_assign(it->first, outbox_entry{it->second.rec}).first->second;
      s->ready.emplace(it->first, &e);
      ++s->pending;
      ++moved;
      it = s->dead.erase(it);
    }
  }
  return moved;
}

std::size_t memory_outbox::purge(std::optional<position> at) {
  std::size_t removed = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    if (at) {
      removed += s->dead.erase(*at);
    } else {
      removed += s->dead.size();
      s->dead.clear();
    }
  }
  return removed;
}

std::size_t memory_outbox::total_pending() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    n += s->pending;
  }
  return n;
}

void memory_outbox::settled() {
  std::lock_guard lock(empty_mutex_);
  empty_cv_.notify_all();
}

bool memory_outbox::wait_until_empty(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(empty_mutex_);
  return empty_cv_.wait_for(lock, timeout, [&] { return total_pending() == 0; });
}

outbox_counts memory_outbox::counts() const {
  outbox_counts c;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    c.pending += s->pending;
    c.dead += s->dead.size();
    c.published += s->published;
    c.failures += s->failures;
  }
  return c;
}

} // namespace sourcery::storage::in_memory_detail
