#include "durable_outbox.hpp"

#include <rocksdb/write_batch.h>

#include <algorithm>

namespace sourcery::storage::rocksdb_detail {

namespace {

std::unique_ptr<rocksdb::Iterator> scan(const store& s, family f,
                                        const rocksdb::ReadOptions& ro) {
  return std::unique_ptr<rocksdb::Iterator>(s.db->NewIterator(ro, s.cf(f)));
}

} // namespace

std::size_t durable_outbox::shard_of(std::string_view tenant, std::size_t shards) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : tenant)
    h = (h ^ c) * 1099511628211ull;
  return h % shards;
}

std::size_t durable_outbox::shard_of(std::string_view tenant) const noexcept {
  return shard_of(tenant, shards_.size());
}

durable_outbox::durable_outbox(store& s, std::size_t shards, std::function<position()> last)
  : store_(s), last_(std::move(last)), shards_(std::max<std::size_t>(1, shards)) {
  auto it = scan(store_, family::outbox, {});
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto index = get_u32(it->key().data());
    if (it->key().size() != 12 || index >= shards_.size())
      throw storage_corrupt("an outbox entry has a malformed key");
    ++shards_[index].pending;
  }
  check(it->status(), "reading the outbox");
  auto dead = scan(store_, family::dead, {});
  for (dead->SeekToFirst(); dead->Valid(); dead->Next())
    ++dead_;
  check(dead->status(), "reading the dead letters");
}

void durable_outbox::reshard(store& s, std::size_t from, std::size_t to) {
  rocksdb::WriteBatch batch;
  if (from != 0) {
    auto it = scan(s, family::outbox, {});
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto pos = get_u64(it->key().data() + 4);
      auto rec = s.record_at(pos);
      auto shard = static_cast<std::uint32_t>(shard_of(rec->view().tenant, to));
      batch.Delete(s.cf(family::outbox), it->key());
      batch.Put(s.cf(family::outbox), outbox_key(shard, pos), it->value());
    }
    check(it->status(), "reading the outbox");
  }
  std::string count;
  put_u32(count, static_cast<std::uint32_t>(to));
  batch.Put(s.cf(family::meta), "outbox_shards", count);
  check(s.db->Write(s.commit_write, &batch), "re-sharding the outbox");
}

void durable_outbox::added(std::span<const std::unique_ptr<pending_commit>> group) noexcept {
  std::lock_guard lock(mutex_);
  for (const auto& c : group)
    for (std::size_t i = 0; i < c->records.size() && i < c->to_outbox.size(); ++i)
      if (c->to_outbox[i])
        ++shards_[c->outbox_shard].pending;
}

std::vector<durable_outbox::candidate> durable_outbox::candidates(std::size_t index,
                                                                  std::size_t limit) const {
  const auto& s = shards_[index];
  std::vector<candidate> out;
  for (auto it = s.ready.begin(); it != s.ready.end() && out.size() < limit; ++it)
    out.push_back({it->first, it->second, false});
  auto last = last_();
  if (s.cursor <= last) {
    auto lower = outbox_key(static_cast<std::uint32_t>(index), s.cursor);
    auto upper = outbox_key(static_cast<std::uint32_t>(index), last + 1);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    auto it = scan(store_, family::outbox, ro);
    std::size_t fresh = 0;
    for (it->Seek(lower); it->Valid() && fresh < limit; it->Next(), ++fresh)
      out.push_back({get_u64(it->key().data() + 4), decode_attempts(it->value().ToStringView()),
                     true});
    check(it->status(), "reading the outbox");
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.pos < b.pos; });
  if (out.size() > limit)
    out.resize(limit);
  return out;
}

std::vector<std::shared_ptr<const stored_record>>
durable_outbox::records_of(std::span<const candidate> cs) const {
  std::vector<std::shared_ptr<const stored_record>> out;
  out.reserve(cs.size());
  if (cs.empty())
    return out;
  auto [lo, hi] = std::minmax_element(cs.begin(), cs.end(),
                                      [](const auto& a, const auto& b) { return a.pos < b.pos; });
  // A backlog's entries lie close together in the log: one sequential read
  // of the range (a few blocks) instead of a point lookup per entry.
  if (hi->pos - lo->pos < 4 * cs.size()) {
    auto range = store_.records(lo->pos, hi->pos);
    for (const auto& c : cs)
      out.push_back(range[c.pos - lo->pos]);
  } else {
    for (const auto& c : cs)
      out.push_back(store_.record_at(c.pos));
  }
  return out;
}

outbox_claim durable_outbox::claim_of(std::size_t index, const candidate& c,
                                      std::shared_ptr<const stored_record> rec) {
  auto& s = shards_[index];
  if (c.fresh)
    s.cursor = std::max(s.cursor, c.pos + 1);
  else
    s.ready.erase(c.pos);
  s.in_flight.insert(c.pos);
  return outbox_claim{index, rec->view(), c.attempts, c.pos, rec};
}

std::vector<outbox_claim> durable_outbox::claim(std::size_t index, std::size_t limit) {
  if (index >= shards_.size())
    throw invalid_argument("outbox shard " + std::to_string(index) + " does not exist");
  std::lock_guard lock(mutex_);
  std::vector<outbox_claim> out;
  auto cs = candidates(index, limit);
  auto records = records_of(cs);
  for (std::size_t i = 0; i < cs.size(); ++i)
    out.push_back(claim_of(index, cs[i], std::move(records[i])));
  return out;
}

std::vector<outbox_claim> durable_outbox::claim_all(std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::size_t, candidate>> all;
  for (std::size_t i = 0; i < shards_.size(); ++i)
    for (const auto& c : candidates(i, limit))
      all.emplace_back(i, c);
  std::sort(all.begin(), all.end(),
            [](auto& a, auto& b) { return a.second.pos < b.second.pos; });
  if (all.size() > limit)
    all.resize(limit);
  std::vector<candidate> cs;
  for (const auto& [i, c] : all)
    cs.push_back(c);
  auto records = records_of(cs);
  std::vector<outbox_claim> out;
  for (std::size_t k = 0; k < all.size(); ++k)
    out.push_back(claim_of(all[k].first, all[k].second, std::move(records[k])));
  return out;
}

outbox_outcome durable_outbox::report(const outbox_claim& c, const std::string* failure,
                                      const outbox_policy& policy) {
  outbox_attempt a{&c, failure};
  return report_all(std::span(&a, 1), policy).front();
}

std::vector<outbox_outcome> durable_outbox::report_all(std::span<const outbox_attempt> attempts,
                                                       const outbox_policy& policy) {
  std::unique_lock lock(mutex_);
  for (const auto& a : attempts)
    if (!shards_[a.claim->shard].in_flight.contains(static_cast<position>(a.claim->handle)))
      throw invalid_argument("outbox entry at position " + std::to_string(a.claim->handle)
                             + " is not claimed");
  // One write for them all: each report would otherwise wait for its own
  // turn in RocksDB's write queue, behind the appends' fsync'd commits.
  rocksdb::WriteBatch batch;
  std::vector<outbox_outcome> out;
  out.reserve(attempts.size());
  for (const auto& [c, failure] : attempts) {
    auto pos = static_cast<position>(c->handle);
    auto key = outbox_key(static_cast<std::uint32_t>(c->shard), pos);
    auto tries = c->attempts + 1;
    if (!failure) {
      out.push_back(outbox_outcome::done);
      batch.Delete(store_.cf(family::outbox), key);
    } else if (tries >= policy.attempts) {
      out.push_back(outbox_outcome::dead);
      batch.Delete(store_.cf(family::outbox), key);
      batch.Put(store_.cf(family::dead), position_key(pos), encode_dead(tries, *failure));
    } else {
      out.push_back(outbox_outcome::retry);
      batch.Put(store_.cf(family::outbox), key, encode_attempts(tries));
    }
  }
  auto status = store_.db->Write(store_.state_write, &batch);
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    const auto& c = *attempts[i].claim;
    auto& s = shards_[c.shard];
    auto pos = static_cast<position>(c.handle);
    s.in_flight.erase(pos);
    if (!status.ok()) {
      s.ready.emplace(pos, c.attempts); // pending again, as it was
      continue;
    }
    if (attempts[i].failure)
      ++failures_;
    switch (out[i]) {
    case outbox_outcome::done:
      ++published_;
      --s.pending;
      break;
    case outbox_outcome::dead:
      ++dead_;
      --s.pending;
      break;
    case outbox_outcome::retry:
      if (policy.hold_for_retry)
        s.held.emplace(pos, c.attempts + 1);
      else
        s.ready.emplace(pos, c.attempts + 1);
      break;
    }
    if (s.pending == 0)
      empty_.notify_all();
  }
  check(status, "recording outbox outcomes");
  return out;
}

std::optional<outbox_claim> durable_outbox::claim_held(std::size_t index, position pos) {
  std::lock_guard lock(mutex_);
  auto& s = shards_.at(index);
  auto it = s.held.find(pos);
  if (it == s.held.end())
    return std::nullopt;
  candidate c{pos, it->second, false};
  s.held.erase(it);
  s.ready.emplace(pos, c.attempts); // claim_of() takes it from `ready`
  return claim_of(index, c, store_.record_at(pos));
}

void durable_outbox::release_held(std::size_t index) {
  std::lock_guard lock(mutex_);
  auto& s = shards_.at(index);
  for (auto& [pos, attempts] : s.held)
    s.ready.emplace(pos, attempts);
  s.held.clear();
}

std::vector<dead_entry> durable_outbox::dead_letters() const {
  std::lock_guard lock(mutex_);
  std::vector<dead_entry> out;
  auto it = scan(store_, family::dead, {});
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto rec = store_.record_at(get_u64(it->key().data()));
    auto [attempts, error] = decode_dead(it->value().ToStringView());
    out.push_back(dead_entry{rec->view(), attempts, std::move(error), rec});
  }
  check(it->status(), "reading the dead letters");
  return out;
}

std::size_t durable_outbox::requeue(std::optional<position> at) {
  std::lock_guard lock(mutex_);
  std::vector<position> moved;
  rocksdb::WriteBatch batch;
  auto it = scan(store_, family::dead, {});
  for (at ? it->Seek(position_key(*at)) : it->SeekToFirst(); it->Valid(); it->Next()) {
    auto pos = get_u64(it->key().data());
    if (at && pos != *at)
      break;
    auto shard = static_cast<std::uint32_t>(shard_of(store_.record_at(pos)->view().tenant));
    batch.Delete(store_.cf(family::dead), it->key());
    batch.Put(store_.cf(family::outbox), outbox_key(shard, pos), encode_attempts(0));
    moved.push_back(pos);
  }
  check(it->status(), "reading the dead letters");
  it.reset();
  check(store_.db->Write(store_.state_write, &batch), "requeueing dead letters");
  for (auto pos : moved) {
    auto& s = shards_[shard_of(store_.record_at(pos)->view().tenant)];
    if (pos < s.cursor) // else the scan finds it
      s.ready.emplace(pos, 0);
    ++s.pending;
  }
  dead_ -= moved.size();
  return moved.size();
}

std::size_t durable_outbox::purge(std::optional<position> at) {
  std::lock_guard lock(mutex_);
  std::size_t removed = 0;
  rocksdb::WriteBatch batch;
  auto it = scan(store_, family::dead, {});
  for (at ? it->Seek(position_key(*at)) : it->SeekToFirst(); it->Valid(); it->Next()) {
    if (at && get_u64(it->key().data()) != *at)
      break;
    batch.Delete(store_.cf(family::dead), it->key());
    ++removed;
  }
  check(it->status(), "reading the dead letters");
  it.reset();
  check(store_.db->Write(store_.state_write, &batch), "purging dead letters");
  dead_ -= removed;
  return removed;
}

std::vector<pending_entry> durable_outbox::pending_entries() const {
  std::vector<pending_entry> out;
  auto it = scan(store_, family::outbox, {});
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out.push_back({get_u64(it->key().data() + 4), decode_attempts(it->value().ToStringView())});
  check(it->status(), "reading the outbox");
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.position < b.position; });
  return out;
}

void durable_outbox::restore(position pos, std::uint32_t attempts,
                             const std::string* last_error) {
  if (pos == 0 || pos > last_())
    throw invalid_argument("no pending, unclaimed outbox entry at position "
                           + std::to_string(pos));
  std::lock_guard lock(mutex_);
  auto index = shard_of(store_.record_at(pos)->view().tenant);
  auto key = outbox_key(static_cast<std::uint32_t>(index), pos);
  std::string value;
  auto s = store_.db->Get(rocksdb::ReadOptions(), store_.cf(family::outbox), key, &value);
  auto& sh = shards_[index];
  if (s.IsNotFound() || sh.in_flight.contains(pos) || sh.held.contains(pos))
    throw invalid_argument("no pending, unclaimed outbox entry at position "
                           + std::to_string(pos));
  check(s, "reading an outbox entry");
  rocksdb::WriteBatch batch;
  if (last_error) {
    batch.Delete(store_.cf(family::outbox), key);
    batch.Put(store_.cf(family::dead), position_key(pos), encode_dead(attempts, *last_error));
  } else {
    batch.Put(store_.cf(family::outbox), key, encode_attempts(attempts));
  }
  check(store_.db->Write(store_.commit_write, &batch), "restoring an outbox entry");
  auto ready = sh.ready.find(pos);
  if (last_error) {
    if (ready != sh.ready.end())
      sh.ready.erase(ready);
    --sh.pending;
    ++dead_;
  } else if (ready != sh.ready.end()) {
    ready->second = attempts;
  }
}

std::size_t durable_outbox::total_pending() const {
  std::size_t n = 0;
  for (const auto& s : shards_)
    n += s.pending;
  return n;
}

outbox_counts durable_outbox::counts() const {
  std::lock_guard lock(mutex_);
  return outbox_counts{total_pending(), dead_, published_, failures_};
}

bool durable_outbox::wait_until_empty(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return empty_.wait_for(lock, timeout, [&] { return total_pending() == 0; });
}

} // namespace sourcery::storage::rocksdb_detail
