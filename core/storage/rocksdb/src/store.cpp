#include "store.hpp"

#include <algorithm>

namespace sourcery::storage::rocksdb_detail {

const char* const family_names[family_count] = {"default", "log", "streams", "index",
                                                "snapshots", "outbox", "dead", "cursors"};

void check(const rocksdb::Status& s, std::string_view what) {
  if (s.ok())
    return;
  auto message = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption())
    throw storage_corrupt(message);
  throw storage_unavailable(message);
}

void record_cache::add(std::span<const std::shared_ptr<stored_record>> records) {
  std::lock_guard lock(mutex_);
  for (const auto& r : records) {
    if (!records_.empty() && records_.back()->pos + 1 != r->pos) {
      records_.clear(); // not contiguous: start over (cannot happen in order)
      bytes_ = 0;
    }
    bytes_ += r->footprint();
    records_.push_back(r);
  }
  while (bytes_ > budget_ && !records_.empty()) {
    bytes_ -= records_.front()->footprint();
    records_.pop_front();
  }
}

position record_cache::get(position from, position to,
                           std::vector<std::shared_ptr<const stored_record>>& out) const {
  std::lock_guard lock(mutex_);
  if (records_.empty() || to < records_.front()->pos || from > records_.back()->pos)
    return to + 1;
  auto first = records_.front()->pos;
  auto start = std::max(from, first);
  auto stop = std::min(to, records_.back()->pos);
  for (auto p = start; p <= stop; ++p)
    out.push_back(records_[p - first]);
  return start;
}

std::size_t record_cache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

store::~store() {
  if (!db)
    return;
  // A cleanly closed store keeps its data in table files, not in the WAL.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  db->Flush(flush, families).PermitUncheckedError();
  for (auto* h : families)
    db->DestroyColumnFamilyHandle(h);
  db->Close();
}

std::shared_ptr<const stored_record> store::record_at(position p) const {
  std::vector<std::shared_ptr<const stored_record>> found;
  if (cache->get(p, p, found) == p)
    return found.front();
  std::string value;
  auto s = db->Get(rocksdb::ReadOptions(), cf(family::log), position_key(p), &value);
  if (s.IsNotFound())
    throw storage_corrupt("the log has no record at position " + std::to_string(p));
  check(s, "reading the log");
  return decode_record(p, std::move(value));
}

std::vector<std::shared_ptr<const stored_record>> store::records(position from,
                                                                  position to) const {
  std::vector<std::shared_ptr<const stored_record>> out;
  if (to < from)
    return out;
  std::vector<std::shared_ptr<const stored_record>> cached;
  auto cached_from = cache->get(from, to, cached);
  out.reserve(to - from + 1);
  if (from < cached_from) {
    auto upper = position_key(cached_from);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    ro.fill_cache = to - from < 4096; // a long scan would only evict the hot blocks
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(family::log)));
    // One block holds the records read here, each pointer shares it: one
    // allocation for all of them, not one each. Reserved in full, so the
    // records never move.
    auto block = std::make_shared<std::vector<stored_record>>();
    block->reserve(cached_from - from);
    auto expect = from;
    for (it->Seek(position_key(from)); it->Valid(); it->Next()) {
      auto p = get_u64(it->key().data());
      if (p != expect)
        throw storage_corrupt("the log has no record at position " + std::to_string(expect));
      auto& r = block->emplace_back();
      r.pos = p;
      r.bytes.assign(it->value().data(), it->value().size());
      r.decode();
      out.emplace_back(block, &r);
      ++expect;
    }
    check(it->status(), "reading the log");
    if (expect != cached_from)
      throw storage_corrupt("the log has no record at position " + std::to_string(expect));
  }
  out.insert(out.end(), std::make_move_iterator(cached.begin()),
             std::make_move_iterator(cached.end()));
  return out;
}

} // namespace sourcery::storage::rocksdb_detail
