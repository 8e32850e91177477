#include "store.hpp"

#include <algorithm>
#include <cstring>

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

std::string_view log_run::copy(std::string_view bytes) {
  if (bytes.size() > left_) {
    auto size = std::max(chunk_size, bytes.size());
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    next_ = chunks_.back().get();
    left_ = size;
  }
  char* at = next_;
  std::memcpy(at, bytes.data(), bytes.size());
  next_ += bytes.size();
  left_ -= bytes.size();
  return {at, bytes.size()};
}

void log_run::add(position p, std::string_view value, std::vector<record>& out) {
  auto bytes = copy(value);
  auto f = parse_record(p, bytes);
  if (streams_.empty() || f.stream_bytes != last_stream_) {
    streams_.push_back(stream_of(f));
    last_stream_ = f.stream_bytes;
  }
  out.push_back(record{p, f.tenant, &streams_.back(), f.id, f.created_us, f.version, f.type,
                       f.data, f.context, f.schema});
}

void store::read_log(position from, position to, record_batch& out) const {
  if (to < from)
    return;
  auto cached = std::make_shared<std::vector<std::shared_ptr<const stored_record>>>();
  auto cached_from = cache->get(from, to, *cached);
  out.records.reserve(out.records.size() + (to - from + 1));
  auto keep = [&out](std::shared_ptr<const void> more) {
    if (out.owner) // what earlier reads into `out` hold stays alive too
      out.owner = std::make_shared<std::pair<std::shared_ptr<const void>, std::shared_ptr<const void>>>(
        std::move(out.owner), std::move(more));
    else
      out.owner = std::move(more);
  };
  if (from < cached_from) {
    auto upper = position_key(cached_from);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    bool long_scan = cached_from - from >= 4096;
    ro.fill_cache = !long_scan; // a long scan would only evict the hot blocks
    if (long_scan)
      ro.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(family::log)));
    auto run = std::make_shared<log_run>();
    auto expect = from;
    for (it->Seek(position_key(from)); it->Valid(); it->Next()) {
      auto p = get_u64(it->key().data());
      if (p != expect)
        throw storage_corrupt("the log has no record at position " + std::to_string(expect));
      run->add(p, {it->value().data(), it->value().size()}, out.records);
      ++expect;
    }
    check(it->status(), "reading the log");
    if (expect != cached_from)
      throw storage_corrupt("the log has no record at position " + std::to_string(expect));
    keep(std::move(run));
  }
  if (cached->empty())
    return;
  for (const auto& r : *cached)
    r->view_into(out.records);
  keep(std::move(cached));
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
