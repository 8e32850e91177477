// The RocksDB engine (R-ST1–R-ST6): the global log, each tenant's streams,
// the outbox, cursors and the format in one RocksDB database; data-subject
// keys in a file beside it (key_file.hpp says why).
//
// Key layout. Integers are big-endian and fixed-width (u32, u64), so
// RocksDB's bytewise order is numeric order; strings are u32-length-
// prefixed, so no key is a prefix of another of its kind. One column
// family per kind:
//
//   default (meta)  "format"          → "sourcery-rocksdb" u32 format_version
//                   "outbox_shards"   → u32
//                   "retired" tenant subject key-id → "" (key_file.hpp)
//   log             u64 position      → record: u8 layout (1), tenant,
//                                       stream (uuid, category?, name?),
//                                       event uuid, u64 created µs,
//                                       u64 version (0 = versionless),
//                                       type, data, context
//   streams         stream key        → u8 versionless, u64 current
//                                       (versioned: last version;
//                                       versionless: event count)
//   index           stream key, u64 n → u64 position (n = the event's
//                                       version, or its number on a
//                                       versionless stream)
//   snapshots       stream key        → the latest snapshot (raw event)
//   outbox          u32 shard, u64 position → u32 failed attempts
//   dead            u64 position      → u32 attempts, last error
//   cursors         projection, stream key → u64 version
//   meta "group/" name  a subscription group (durable_groups.hpp)
//
// where stream key = tenant, uuid[16], u8 has-category [, category]. One
// append is one WriteBatch holding its records, index entries, outbox
// entries and the stream's new state (R-ST1); concurrent appends share a
// batch (commit_queue.hpp). A snapshot or a deletion is one batch too: the
// snapshot (or nothing) plus a range deletion of the stream's index entries
// it replaces; records stay in the log (R-ES4).
//
// Memory (R-ST5): one LRU cache of cache_mb × 3/4 holds RocksDB's data,
// index and filter blocks and is charged for the memtables (a
// WriteBufferManager); recent records (cache_mb × 1/4) are kept decoded in
// a ring. Stream states are read from RocksDB on each append (point lookups
// that hit the memtable or the block cache); nothing else grows with the
// data: no per-stream or per-event state is kept in RAM beyond a memtable's
// insert hints (one per stream written since its last flush: its splice in
// the memtable's arena, a map entry on the heap).
#include <sourcery/storage/rocksdb.hpp>
#include <sourcery/detail/completion_latch.hpp>
#include <sourcery/detail/instruments.hpp>

#include "commit_queue.hpp"
#include "durable_groups.hpp"
#include "durable_outbox.hpp"
#include "files.hpp"
#include "key_file.hpp"
#include "store.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/metadata.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <condition_variable>

namespace sourcery::storage {

namespace rocksdb_detail {

namespace {

namespace fs = std::filesystem;

/// RocksDB's info log would add (and rotate) LOG files in the folder; a
/// store that is refused must be left as it was, so nothing is logged.
class silent_logger final : public rocksdb::Logger {
public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

/// The part of a key before its trailing big-endian counter (u64): a
/// stream's index entries share it (stream key, then n), as do a shard's
/// outbox entries (shard, then position). Counter 0 is out of its domain:
/// no entry has it, and the range deletions of a stream's index entries
/// start there — RocksDB 7.8 keeps one hint per prefix for a memtable's
/// entries and its range deletions alike, and a hint used in the wrong one
/// breaks its skip list (seen as an assertion in Debian's build).
class counter_prefix final : public rocksdb::SliceTransform {
public:
  explicit counter_prefix(const char* name) : name_(name) {}
  const char* Name() const override { return name_; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), key.size() - 8};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() > 8 && get_u64(key.data() + key.size() - 8) != 0;
  }

private:
  const char* name_;
};

/// The whole key: a stream's state is rewritten on each of its appends, and
/// each new version goes beside the previous one (RocksDB's own example).
class whole_key final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "sourcery.stream_state"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return key; }
  bool InDomain(const rocksdb::Slice&) const override { return true; }
};

struct tuned {
  rocksdb::DBOptions db;
  rocksdb::ColumnFamilyOptions cf;      // families read by point lookups of keys that may be absent
  rocksdb::ColumnFamilyOptions scanned; // families of keys that exist or are iterated: no filter
  rocksdb::ColumnFamilyOptions index;   // scanned, keys counting on per stream
  rocksdb::ColumnFamilyOptions outbox;  // scanned, keys counting on per shard
  rocksdb::ColumnFamilyOptions streams; // point lookups, each key rewritten often
  std::shared_ptr<rocksdb::Cache> cache;
};

tuned make_options(const rocksdb_options& o) {
  tuned t;
  auto total = std::max<std::size_t>(o.cache_mb, 4) << 20;
  t.cache = rocksdb::NewLRUCache(total / 4 * 3);
  t.db.info_log = std::make_shared<silent_logger>();
  t.db.write_buffer_manager =
    std::make_shared<rocksdb::WriteBufferManager>(total / 4, t.cache);
  t.db.max_total_wal_size = 64 << 20;
  t.db.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  t.db.paranoid_checks = true;
  t.db.max_background_jobs = 2;
  t.db.keep_log_file_num = 1;
  // RocksDB's default keeps every table file open, so memory grows with the
  // data: positions are appended in order, so flushed files move down the
  // levels without being merged (jemalloc's allocated bytes rose ~6 KB per
  // file over a soak). Bounded here (R-ST5).
  t.db.max_open_files = static_cast<int>(std::clamp<std::size_t>(o.max_open_tables, 64, 1 << 20));
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = t.cache;
  table.cache_index_and_filter_blocks = true;
  t.cf.write_buffer_size = std::min<std::size_t>(total / 8, 32 << 20);
  t.cf.compression = rocksdb::kLZ4Compression;
  // Compaction output files of at most 16 MB: what a compaction holds while
  // it writes one (index and filter builders) stays small (R-ST5).
  t.cf.target_file_size_base = 16 << 20;
  t.scanned = t.cf;
  // Positions in the log always exist, and the index, outbox and dead
  // letters are only iterated: a Bloom filter would never answer "absent"
  // there, while building one buffers a hash of every key of an output file
  // during compactions — tens of MB, the largest transient seen in a soak.
  // Blocks of 16 KB, not 4: a subscription catching up reads the log in
  // order, and each block costs a lookup, a read and a decompression of its
  // own (callgrind, 50,000 records: 15% fewer instructions per record read).
  auto scanned_table = table;
  scanned_table.block_size = 16 << 10;
  t.scanned.table_factory.reset(rocksdb::NewBlockBasedTableFactory(scanned_table));
  // Inserting into a memtable (a skip list) searches it from the top for
  // each key: with a batch's index entries spread over many streams, that
  // was the writer's largest cost. A hint per stream (per shard) — where its
  // last key went — makes each insert start beside its predecessor. Hints
  // work only for inserts by one thread, which is how the commit queue
  // writes anyway.
  t.db.allow_concurrent_memtable_write = false;
  t.index = t.scanned;
  t.index.memtable_insert_with_hint_prefix_extractor =
    std::make_shared<counter_prefix>("sourcery.index_stream");
  t.outbox = t.scanned;
  t.outbox.memtable_insert_with_hint_prefix_extractor =
    std::make_shared<counter_prefix>("sourcery.outbox_shard");
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  t.streams = t.cf;
  t.streams.memtable_insert_with_hint_prefix_extractor = std::make_shared<whole_key>();
  return t;
}

std::vector<rocksdb::ColumnFamilyDescriptor> descriptors(const tuned& t) {
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (std::size_t i = 0; i < family_count; ++i) {
    auto f = static_cast<family>(i);
    bool scanned = f == family::log || f == family::dead;
    out.emplace_back(family_names[i], f == family::index     ? t.index
                                      : f == family::outbox  ? t.outbox
                                      : f == family::streams ? t.streams
                                      : scanned              ? t.scanned
                                                             : t.cf);
  }
  return out;
}

bool empty_folder(const fs::path& p) {
  std::error_code ec;
  return !fs::exists(p, ec) || (fs::is_directory(p, ec) && fs::is_empty(p, ec));
}

/// Present while a new store is being created: a folder that still holds it
/// was interrupted (a crash) before the store was ever opened, so it holds
/// nothing acknowledged and is created afresh.
constexpr const char* creating_marker = "SOURCERY-CREATING";

bool unfinished_creation(const fs::path& folder) {
  std::error_code ec;
  return fs::is_directory(folder, ec) && fs::exists(folder / creating_marker, ec);
}

void clear_folder(const fs::path& folder) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.path().filename() == creating_marker)
      continue; // last, so that a crash here is still an unfinished creation
    fs::remove_all(entry.path(), ec);
    if (ec)
      throw storage_unavailable("cannot clear the unfinished store in " + folder.string() + ": "
                                + ec.message());
  }
  if (ec)
    throw storage_unavailable("cannot read " + folder.string() + ": " + ec.message());
}

/// Checks an existing folder without writing to it: a Sourcery store of a
/// known format whose files open cleanly (R-ST6). Opens the database
/// read-only with every table file opened and its size checked.
void check_existing(const fs::path& folder, const tuned& t) {
  auto where = folder.string();
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw storage_corrupt(where + " is not a folder");
  if (!fs::exists(folder / "CURRENT", ec))
    throw storage_corrupt(where + " is not a Sourcery store (it holds other files)");
  key_file::check(folder);

  rocksdb::DBOptions dbo = t.db;
  dbo.max_open_files = -1; // open (and check) every table file now
  std::vector<std::string> names;
  auto s = rocksdb::DB::ListColumnFamilies(dbo, where, &names);
  if (!s.ok())
    throw storage_corrupt(where + " is not a readable Sourcery store: " + s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names)
    cfs.emplace_back(n, t.cf);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(dbo, where, cfs, &handles, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("No such file") == std::string::npos)
      throw storage_unavailable("cannot read the store in " + where + ": " + s.ToString());
    throw storage_corrupt("the store in " + where + " is damaged: " + s.ToString());
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  // Damage is reported before foreignness: a garbled MANIFEST lists no families.
  for (auto* want : family_names)
    if (std::find(names.begin(), names.end(), want) == names.end()) {
      for (auto* h : handles)
        db->DestroyColumnFamilyHandle(h);
      db->Close();
      throw storage_corrupt(where + " is not a Sourcery store (no column family '"
                            + want + "')");
    }
  std::string format;
  s = db->Get(rocksdb::ReadOptions(), handles[0], "format", &format);
  auto close = [&] {
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
    db->Close();
  };
  close();
  if (s.IsNotFound())
    throw storage_corrupt(where + " is not a Sourcery store (no format key)");
  if (!s.ok())
    throw storage_corrupt("the store in " + where + " is damaged: " + s.ToString());
  if (format.size() != format_magic.size() + 4
      || std::string_view(format).substr(0, format_magic.size()) != format_magic)
    throw storage_corrupt(where + " is not a Sourcery store (unknown format key)");
  auto version = get_u32(format.data() + format_magic.size());
  if (version > format_version)
    throw storage_version_mismatch("the store in " + where + " has format version "
                                   + std::to_string(version) + "; this build reads up to "
                                   + std::to_string(format_version));
}

/// Opens the database for writing, creating it when `create`.
void open_database(store& st, const fs::path& folder, const tuned& t, bool create) {
  rocksdb::DBOptions dbo = t.db;
  dbo.create_if_missing = create;
  dbo.create_missing_column_families = create;
  dbo.error_if_exists = create;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(dbo, folder.string(), descriptors(t), &st.families, &raw);
  if (!s.ok()) {
    if (s.IsCorruption())
      throw storage_corrupt("the store in " + folder.string() + " is damaged: " + s.ToString());
    throw storage_unavailable("cannot open the store in " + folder.string() + ": "
                              + s.ToString());
  }
  st.db.reset(raw);
  std::string format(format_magic);
  put_u32(format, format_version);
  std::string stored;
  // An older format (checked readable before) is marked current: from now
  // on this build may write records older builds cannot read.
  if (!create) {
    check(st.db->Get(rocksdb::ReadOptions(), st.cf(family::meta), "format", &stored),
          "reading the format");
  }
  if (stored != format) {
    rocksdb::WriteOptions synced;
    synced.sync = true;
    check(st.db->Put(synced, st.cf(family::meta), "format", format), "writing the format");
  }
}

/// Opens the database without writing to it (rocksdb_options::read_only);
/// `check_existing` has checked it is a store of a known format.
void open_database_read_only(store& st, const fs::path& folder, const tuned& t) {
  rocksdb::DBOptions dbo = t.db;
  dbo.max_open_files = -1; // every table file open now: a writer's compactions cannot take them
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(dbo, folder.string(), descriptors(t), &st.families, &raw);
  if (!s.ok()) {
    if (s.IsCorruption())
      throw storage_corrupt("the store in " + folder.string() + " is damaged: " + s.ToString());
    throw storage_unavailable("cannot open the store in " + folder.string() + ": "
                              + s.ToString());
  }
  st.db.reset(raw);
}

position last_stored_position(const store& st) {
  std::unique_ptr<rocksdb::Iterator> it(
    st.db->NewIterator(rocksdb::ReadOptions(), st.cf(family::log)));
  it->SeekToLast();
  check(it->status(), "reading the log");
  return it->Valid() ? get_u64(it->key().data()) : 0;
}

std::size_t stored_shards(const store& st) {
  std::string value;
  auto s = st.db->Get(rocksdb::ReadOptions(), st.cf(family::meta), "outbox_shards", &value);
  if (s.IsNotFound())
    return 0;
  check(s, "reading the outbox shard count");
  return value.size() == 4 ? get_u32(value.data()) : 0;
}

class rocksdb_engine;

/// Thrown by a repeated append's read of stored events (R-ES6) after it
/// waited for the stream's appends in flight: the check starts again.
struct written_meanwhile {};

/// One tenant's streams. Appends to one stream are checked and sequenced one
/// at a time, each against the stream as the appends before it leave it —
/// written or still queued (`in_flight_`) — so a caller can pipeline appends
/// to one stream while the writer fsyncs; appends to different streams
/// share batches.
class rocksdb_streams final : public stream_store, private commit_owner {
public:
  rocksdb_streams(std::string tenant, store& st, commit_queue& commits, durable_outbox& outbox)
    : tenant_(std::move(tenant)), store_(st), commits_(commits), outbox_(outbox) {}

  const std::string& tenant() const noexcept override { return tenant_; }

  append_receipt append(const stream_id& id, expected_version expected,
                        std::span<const raw_event> events, std::span<const char> to_outbox,
                        const commit_hook& hook) override {
    std::optional<append_receipt> receipt;
    std::exception_ptr error;
    completion_latch written;
    append_async(id, expected, events, to_outbox, hook,
                 [&](std::optional<append_receipt> r, std::exception_ptr e) {
                   receipt = std::move(r);
                   error = std::move(e);
                   written.release();
                 });
    written.wait();
    if (error)
      std::rethrow_exception(error);
    return *receipt;
  }

  void append_async(const stream_id& id, expected_version expected,
                    std::span<const raw_event> events, std::span<const char> to_outbox,
                    const commit_hook& hook, append_done done) override {
    std::unique_ptr<pending_commit> c;
    try {
      auto key = stream_key(tenant_, id);
      std::unique_lock lock(mutex_);
      c = std::make_unique<pending_commit>();
      std::optional<stream_info> current;
      append_check check;
      for (;;) {
        released_.wait(lock, [&] { return !exclusive(key); });
        c->epoch = commits_.epoch();
        auto pending = in_flight_.find(key);
        current = pending != in_flight_.end() && pending->second.epoch == c->epoch
                    ? std::optional<stream_info>(pending->second.state)
                    : state(key);
        try {
          // On a conflict the stored events are read (R-ES6). Those of
          // appends still in flight are not readable yet: then wait until
          // the stream's appends are written, and check again.
          check = check_append(current, expected, events, id, tenant_,
                               [&](version first, version stop) {
                                 if (in_flight_.contains(key)) {
                                   released_.wait(lock,
                                                  [&] { return !in_flight_.contains(key); });
                                   throw written_meanwhile{};
                                 }
                                 return read(id, first, stop).events;
                               });
          break;
        } catch (const written_meanwhile&) {
        }
      }
      if (check.repeated) { // nothing to write: answered here, once
        lock.unlock();
        c.reset();
        auto answer = std::move(done);
        answer(*check.repeated, nullptr);
        return;
      }
      const auto& versions = check.versions;
      c->records.reserve(events.size());
      for (std::size_t i = 0; i < events.size(); ++i) {
        auto r = std::make_shared<stored_record>();
        r->bytes = encode_record(tenant_, id, events[i], versions[i]);
        r->decode(&id);
        c->records.push_back(std::move(r));
      }
      stream_info after{current ? current->versionless : !expected.is_versioned(),
                        (current ? current->current : 0) + events.size()};
      c->first_number = (current ? current->current : 0) + 1;
      c->state = encode_state(after);
      c->stream_key = key;
      c->to_outbox.assign(to_outbox.begin(), to_outbox.end());
      c->outbox_shard = static_cast<std::uint32_t>(outbox_.shard_of(tenant_));
      // Positions are added once sequenced (written() below).
      c->receipt.last_position = events.size() - 1;
      if (!after.versionless)
        c->receipt.version = after.current;
      c->owner = this;
      c->done = std::move(done);
      auto epoch = c->epoch;
      commits_.submit(std::move(c), hook); // moves `c` only once it is queued
      auto& entry = in_flight_[key];
      entry.state = after;
      entry.epoch = epoch;
      ++entry.count;
    } catch (...) {
      // Not queued (`c` kept), or failed before: nobody else answers it.
      auto& answer = c && c->done ? c->done : done;
      if (answer)
        answer(std::nullopt, std::current_exception());
    }
  }

  std::optional<stream_info> info(const stream_id& id) const override {
    return state(stream_key(tenant_, id));
  }

  stream_read read(const stream_id& id, std::optional<version> start,
                   std::optional<version> stop) const override {
    stream_read out;
    auto key = stream_key(tenant_, id);
    // One consistent view of state, snapshot and index.
    const rocksdb::Snapshot* snap = store_.db->GetSnapshot();
    struct release {
      rocksdb::DB* db;
      const rocksdb::Snapshot* s;
      ~release() { db->ReleaseSnapshot(s); }
    } guard{store_.db.get(), snap};
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    auto current = state(key, ro);
    if (!current)
      return out;
    auto in_range = [&](std::optional<version> v) {
      if (!v)
        return true;
      return (!start || *v >= *start) && (!stop || *v < *stop);
    };
    std::string value;
    auto s = store_.db->Get(ro, store_.cf(family::snapshots), key, &value);
    if (s.ok()) {
      auto snapshot = decode_snapshot(value);
      if (in_range(snapshot.version))
        out.snapshot = std::move(snapshot);
    } else if (!s.IsNotFound()) {
      check(s, "reading a snapshot");
    }
    // Versioned streams: index numbers are versions, so the range bounds the
    // scan; versionless ones read whole.
    std::uint64_t from = 0, to = UINT64_MAX;
    if (!current->versionless) {
      from = start.value_or(0);
      to = stop.value_or(UINT64_MAX);
    }
    auto lower = index_key(key, from);
    auto upper = index_key(key, to);
    rocksdb::Slice upper_slice(upper);
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(store_.db->NewIterator(ro, store_.cf(family::index)));
    std::vector<std::string> positions;
    for (it->Seek(lower); it->Valid(); it->Next())
      positions.push_back(it->value().ToString());
    check(it->status(), "reading a stream's index");
    it.reset();
    auto owner = std::make_shared<std::vector<std::shared_ptr<const stored_record>>>();
    owner->reserve(positions.size());
    std::vector<rocksdb::Slice> keys(positions.begin(), positions.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    if (!keys.empty())
      store_.db->MultiGet(ro, store_.cf(family::log), keys.size(), keys.data(), values.data(),
                          statuses.data());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      check(statuses[i], "reading a stream's events");
      owner->push_back(decode_record(get_u64(positions[i].data()), values[i].ToString()));
    }
    out.events.records.reserve(owner->size());
    for (const auto& r : *owner)
      r->view_into(out.events.records);
    out.events.owner = std::move(owner);
    return out;
  }

  void save_snapshot(const stream_id& id, raw_event snapshot) override {
    auto key = stream_key(tenant_, id);
    exclusive_use busy(*this, key);
    auto current = state(key);
    check_snapshot(current, snapshot, id, tenant_);
    rocksdb::WriteBatch batch;
    batch.Put(store_.cf(family::snapshots), key, encode_snapshot(snapshot));
    batch.DeleteRange(store_.cf(family::index), index_key(key, 0),
                      index_key(key, current->current + 1));
    check(store_.db->Write(store_.commit_write, &batch), "saving a snapshot");
  }

  void remove(const stream_id& id) override {
    auto key = stream_key(tenant_, id);
    exclusive_use busy(*this, key);
    if (!state(key))
      return;
    rocksdb::WriteBatch batch;
    batch.Delete(store_.cf(family::streams), key);
    batch.Delete(store_.cf(family::snapshots), key);
    batch.DeleteRange(store_.cf(family::index), index_key(key, 0), index_key(key, UINT64_MAX));
    check(store_.db->Write(store_.commit_write, &batch), "deleting a stream");
  }

private:
  /// commit_owner: the writer's answer for one append of this tenant.
  void written(pending_commit& c, const std::string& error) noexcept override {
    if (!error.empty()) {
      c.done(std::nullopt, std::make_exception_ptr(storage_unavailable(error)));
    } else {
      c.receipt.first_position = c.records.front()->pos;
      c.receipt.last_position += c.records.front()->pos;
      c.done(c.receipt, nullptr);
    }
    finished(c.stream_key); // after `done`: a snapshot waiting for the stream sees it answered
  }

  std::optional<stream_info> state(const std::string& key,
                                   const rocksdb::ReadOptions& ro = {}) const {
    std::string value;
    auto s = store_.db->Get(ro, store_.cf(family::streams), key, &value);
    if (s.IsNotFound())
      return std::nullopt;
    check(s, "reading a stream's state");
    return decode_state(value);
  }

  /// Called by the writer when an append of `key` is written or failed.
  void finished(const std::string& key) {
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(key);
      if (--it->second.count == 0)
        in_flight_.erase(it);
    }
    released_.notify_all();
  }

  bool exclusive(const std::string& key) const {
    auto it = in_flight_.find(key);
    return it != in_flight_.end() && it->second.exclusive;
  }

  /// A snapshot or a deletion has the stream to itself: it waits until no
  /// append of the stream is in flight, and appends wait for it.
  class exclusive_use {
  public:
    exclusive_use(rocksdb_streams& s, const std::string& key) : s_(s), key_(key) {
      std::unique_lock lock(s_.mutex_);
      s_.released_.wait(lock, [&] { return !s_.in_flight_.contains(key_); });
      s_.in_flight_[key_].exclusive = true;
    }
    ~exclusive_use() {
      {
        std::lock_guard lock(s_.mutex_);
        s_.in_flight_.erase(key_);
      }
      s_.released_.notify_all();
    }
    exclusive_use(const exclusive_use&) = delete;
    exclusive_use& operator=(const exclusive_use&) = delete;

  private:
    rocksdb_streams& s_;
    const std::string& key_;
  };

  /// A stream with appends in flight (or used exclusively): its state after
  /// the last of them, in the epoch it was read in.
  struct in_flight_stream {
    stream_info state;
    std::uint64_t epoch = 0;
    std::size_t count = 0;
    bool exclusive = false;
  };

  const std::string tenant_;
  store& store_;
  commit_queue& commits_;
  durable_outbox& outbox_;
  // Serialises checking and sequencing of appends (so the streams' states
  // between check and write); holds only streams with appends in flight.
  std::mutex mutex_;
  std::condition_variable released_;
  std::unordered_map<std::string, in_flight_stream> in_flight_; // GUARDED_BY(mutex_)
};

/// The global log: records read from the `log` family through the record
/// cache, up to the commit queue's published position; wake-ups run by the
/// commit queue.
class rocksdb_log final : public storage::log {
public:
  rocksdb_log(const store& st, commit_queue& commits) : store_(st), commits_(commits) {}

  position last_position() const override { return commits_.last(); }

  void read(position after, std::size_t max, record_batch& out) const override {
    auto last = commits_.last();
    if (after >= last || max == 0)
      return;
    store_.read_log(after + 1, after + std::min<std::uint64_t>(max, last - after), out);
  }

  std::uint64_t notify_after(position after, wake_fn wake) override {
    return commits_.wake_ups().notify_after(after, std::move(wake));
  }
  void cancel(std::uint64_t id) override { commits_.wake_ups().cancel(id); }
  void cancel_all() override { commits_.wake_ups().cancel_all(); }

private:
  const store& store_;
  commit_queue& commits_;
};

/// Projector cursors in the `cursors` family.
class rocksdb_cursors final : public cursor_store {
public:
  explicit rocksdb_cursors(const rocksdb_detail::store& st) : store_(st) {}

  std::optional<version> load(const cursor_key& key) const override {
    std::string value;
    auto s = store_.db->Get(rocksdb::ReadOptions(), store_.cf(family::cursors),
                            cursor_store_key(key), &value);
    if (s.IsNotFound())
      return std::nullopt;
    check(s, "reading a cursor");
    return get_u64(value.data());
  }
  void store(const cursor_key& key, version v) override {
    check(store_.db->Put(store_.state_write, store_.cf(family::cursors), cursor_store_key(key),
                         position_key(v)),
          "storing a cursor");
  }

private:
  const rocksdb_detail::store& store_;
};

/// The operator's part: the format, the folder's size, the outbox's entries
/// and the cursors, read from the database.
class rocksdb_admin final : public store_admin {
public:
  rocksdb_admin(const store& st, durable_outbox& outbox, fs::path folder)
    : store_(st), outbox_(outbox), folder_(std::move(folder)) {}

  std::uint32_t format_version() const override {
    std::string format;
    check(store_.db->Get(rocksdb::ReadOptions(), store_.cf(family::meta), "format", &format),
          "reading the format");
    if (format.size() != format_magic.size() + 4)
      throw storage_corrupt("the store's format key is malformed");
    return get_u32(format.data() + format_magic.size());
  }

  std::optional<std::uint64_t> bytes_on_disk() const override {
    std::uint64_t total = 0;
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(folder_, ec))
      if (entry.is_regular_file(ec))
        total += entry.file_size(ec);
    return total;
  }

  std::vector<pending_entry> pending_outbox() const override {
    return outbox_.pending_entries();
  }

  std::vector<std::pair<cursor_key, version>> cursors() const override {
    std::vector<std::pair<cursor_key, version>> out;
    std::unique_ptr<rocksdb::Iterator> it(
      store_.db->NewIterator(rocksdb::ReadOptions(), store_.cf(family::cursors)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      byte_reader r(it->key().ToStringView());
      auto projection = std::string(r.string());
      auto tenant = std::string(r.string());
      auto id = r.id();
      std::optional<std::string> category;
      if (r.u8() != 0)
        category = std::string(r.string());
      cursor_key key{std::move(projection), std::move(tenant), stream_id(id, std::move(category))};
      if (it->value().size() != 8)
        throw storage_corrupt("a cursor's value is malformed");
      out.emplace_back(std::move(key), get_u64(it->value().data()));
    }
    check(it->status(), "reading the cursors");
    return out;
  }

  void restore_outbox_entry(position pos, std::uint32_t attempts,
                            const std::string* last_error) override {
    outbox_.restore(pos, attempts, last_error);
  }

  /// One point lookup, no events read.
  std::optional<raw_event> snapshot(const stream_store& streams,
                                    const stream_id& stream) const override {
    std::string value;
    auto s = store_.db->Get(rocksdb::ReadOptions(), store_.cf(family::snapshots),
                            stream_key(streams.tenant(), stream), &value);
    if (s.IsNotFound())
      return std::nullopt;
    check(s, "reading a snapshot");
    return decode_snapshot(value);
  }

  /// The index entries alone, no record read.
  std::vector<position> indexed(const stream_store& streams,
                                const stream_id& stream) const override {
    auto key = stream_key(streams.tenant(), stream);
    auto lower = index_key(key, 0);
    auto upper = index_key(key, UINT64_MAX);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(store_.db->NewIterator(ro, store_.cf(family::index)));
    std::vector<position> out;
    for (it->Seek(lower); it->Valid(); it->Next()) {
      if (it->value().size() != 8)
        throw storage_corrupt("an index entry is malformed");
      out.push_back(get_u64(it->value().data()));
    }
    check(it->status(), "reading a stream's index");
    return out;
  }

private:
  const store& store_;
  durable_outbox& outbox_;
  const fs::path folder_;
};

class rocksdb_engine final : public engine {
public:
  rocksdb_engine(const fs::path& folder, const rocksdb_options& o) {
    auto t = make_options(o);
    if (o.read_only) {
      open_read_only(folder, o, t);
      return;
    }
    bool create = empty_folder(folder);
    if (!create && unfinished_creation(folder)) {
      clear_folder(folder);
      create = true;
    }
    if (create) {
      std::error_code ec;
      fs::create_directories(folder, ec);
      if (ec)
        throw storage_unavailable("cannot create " + folder.string() + ": " + ec.message());
      write_synced(folder / creating_marker, "");
      sync_folder(folder);
    } else {
      check_existing(folder, t);
    }
    cache_ = t.cache;
    store_.commit_write.sync = o.durability == rocksdb_options::durability::full;
    store_.state_write.sync = false;
    store_.cache = std::make_unique<record_cache>(std::max<std::size_t>(o.cache_mb, 4) << 18);
    open_database(store_, folder, t, create);
    keys_ = std::make_shared<key_file>(folder, store_);

    auto stored = stored_shards(store_);
    auto shards = o.outbox_shards ? o.outbox_shards
                  : stored        ? stored
                                  : std::max(1u, std::thread::hardware_concurrency());
    if (shards != stored)
      durable_outbox::reshard(store_, stored, shards);
    commits_ = std::make_unique<commit_queue>(
      store_, last_stored_position(store_),
      [this](std::span<const std::unique_ptr<pending_commit>> group) { published(group); });
    log_ = std::make_unique<rocksdb_log>(store_, *commits_);
    outbox_ = std::make_unique<durable_outbox>(store_, shards,
                                               [this] { return commits_->last(); });
    admin_ = std::make_unique<rocksdb_admin>(store_, *outbox_, folder);
    group_journal_ = std::make_unique<durable_groups>(store_);
    groups_ = std::make_unique<group_ledger>(*log_, group_journal_.get());
    group_journal_->restore_into(*groups_);
    if (create) { // complete: from now on the folder is a store
      std::error_code ec;
      fs::remove(folder / creating_marker, ec);
      if (ec)
        throw storage_unavailable("cannot finish creating the store in " + folder.string() + ": "
                                  + ec.message());
      sync_folder(folder);
    }
  }

  ~rocksdb_engine() override {
    groups_.reset();
    commits_->wake_ups().cancel_all();
    commits_.reset(); // writes what is queued; its callbacks use the tenants and the outbox
    tenants_.clear();
    admin_.reset();
    outbox_.reset();
  }

  std::string_view name() const noexcept override { return "rocksdb"; }

  void checkpoint(const std::string& dest) {
    if (read_only_)
      throw invalid_argument("a store opened read-only cannot take a checkpoint");
    rocksdb::Checkpoint* raw = nullptr;
    check(rocksdb::Checkpoint::Create(store_.db.get(), &raw), "starting a checkpoint");
    std::unique_ptr<rocksdb::Checkpoint> cp(raw);
    // The write-ahead log is flushed into the copy (log_size_for_flush 0):
    // every acknowledged append is in it.
    check(cp->CreateCheckpoint(dest, 0), "writing a checkpoint to " + dest);
    // Keys after the records: a key stored for an event in the copy is in
    // the copy's keys file; one shredded meanwhile is not (R-EN).
    keys_->copy_to(fs::path(dest));
    sync_folder(dest);
  }

  storage::log& log() noexcept override { return *log_; }

  std::shared_ptr<stream_store> streams(const std::string& tenant) override {
    std::lock_guard lock(tenants_mutex_);
    auto& slot = tenants_[tenant];
    if (!slot)
      slot = std::make_shared<rocksdb_streams>(tenant, store_, *commits_, *outbox_);
    return slot;
  }

  outbox_store& outbox() noexcept override { return *outbox_; }
  cursor_store& cursors() noexcept override { return cursors_; }
  /// None for a store opened read-only.
  group_store* groups() noexcept override { return groups_.get(); }
  std::shared_ptr<key_storage> keys() override { return keys_; }

  std::size_t memory_bytes() const override {
    return store_.cache->bytes() + cache_->GetUsage();
  }

  void collect_metrics(std::vector<metric_family>& out) const override {
    using sourcery::detail::single;
    sourcery::detail::add_commit_metrics(out, commits_->group_events(), commits_->write_time());
    auto property = [&](const char* name) {
      std::uint64_t v = 0;
      store_.db->GetAggregatedIntProperty(name, &v);
      return static_cast<double>(v);
    };
    std::vector<rocksdb::LiveFileMetaData> files;
    store_.db->GetLiveFilesMetaData(&files);
    out.push_back(single("sourcery_rocksdb_record_cache_bytes",
                         "Bytes of recent records the engine keeps for subscriptions",
                         metric_type::gauge, static_cast<double>(store_.cache->bytes())));
    out.push_back(single("sourcery_rocksdb_block_cache_bytes", "Bytes in RocksDB's block cache",
                         metric_type::gauge, static_cast<double>(cache_->GetUsage())));
    out.push_back(single("sourcery_rocksdb_memtable_bytes",
                         "Bytes in RocksDB's memtables, all column families", metric_type::gauge,
                         property("rocksdb.cur-size-all-mem-tables")));
    out.push_back(single("sourcery_rocksdb_table_files", "Live SST files", metric_type::gauge,
                         static_cast<double>(files.size())));
    out.push_back(single("sourcery_rocksdb_table_bytes", "Bytes of live SST files",
                         metric_type::gauge, property("rocksdb.live-sst-files-size")));
  }

  store_admin* admin() noexcept override { return admin_.get(); }

private:
  void open_read_only(const fs::path& folder, const rocksdb_options& o, const tuned& t) {
    read_only_ = true;
    if (empty_folder(folder))
      throw storage_unavailable("there is no store in " + folder.string()
                                + " (the folder is absent or empty)");
    check_existing(folder, t);
    cache_ = t.cache;
    store_.cache = std::make_unique<record_cache>(std::max<std::size_t>(o.cache_mb, 4) << 18);
    open_database_read_only(store_, folder, t);
    keys_ = std::make_shared<key_file>(folder, store_);
    auto shards = std::max<std::size_t>(1, stored_shards(store_));
    commits_ = std::make_unique<commit_queue>(
      store_, last_stored_position(store_),
      [this](std::span<const std::unique_ptr<pending_commit>> group) { published(group); });
    log_ = std::make_unique<rocksdb_log>(store_, *commits_);
    outbox_ = std::make_unique<durable_outbox>(store_, shards,
                                               [this] { return commits_->last(); });
    admin_ = std::make_unique<rocksdb_admin>(store_, *outbox_, folder);
  }

  void published(std::span<const std::unique_ptr<pending_commit>> group) noexcept {
    for (const auto& c : group)
      store_.cache->add(c->records);
    outbox_->added(group);
  }

  bool read_only_ = false;
  std::shared_ptr<rocksdb::Cache> cache_;
  store store_;
  std::shared_ptr<key_file> keys_;
  rocksdb_cursors cursors_{store_};
  std::unique_ptr<commit_queue> commits_;
  std::unique_ptr<rocksdb_log> log_;
  std::unique_ptr<durable_groups> group_journal_;
  std::unique_ptr<group_ledger> groups_; // over log_, writing to group_journal_
  std::unique_ptr<durable_outbox> outbox_;
  std::unique_ptr<rocksdb_admin> admin_;

  std::mutex tenants_mutex_;
  std::unordered_map<std::string, std::shared_ptr<rocksdb_streams>> tenants_; // GUARDED_BY
};

} // namespace

} // namespace rocksdb_detail

std::shared_ptr<engine> open_rocksdb_engine(const std::string& path, rocksdb_options options) {
  return std::make_shared<rocksdb_detail::rocksdb_engine>(path, options);
}

void checkpoint_rocksdb(engine& e, const std::string& dest) {
  auto* r = dynamic_cast<rocksdb_detail::rocksdb_engine*>(&e);
  if (!r)
    throw invalid_argument("checkpoint_rocksdb needs a RocksDB engine, not " + std::string(e.name()));
  r->checkpoint(dest);
}

} // namespace sourcery::storage
