// sourcery-admin run as an operator runs it (R-ADM1..R-ADM6): real RocksDB
// stores in temporary folders (suite admin_rocksdb), and a move RocksDB →
// PostgreSQL → RocksDB against a real server (suite admin_postgres, run in
// pg_virtualenv by tests/CMakeLists.txt).
#include <sourcery/encryption.hpp>
#include <sourcery/storage/rocksdb.hpp>
#ifdef SOURCERY_TEST_WITH_POSTGRES
#include <sourcery/storage/postgres.hpp>
#endif

#include "layout.hpp" // the RocksDB engine's encodings, to damage a store as a disk would
#include "store.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <rocksdb/db.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <chrono>
#include <csignal>
#include <poll.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace sourcery;
using namespace sourcery::storage;
namespace fs = std::filesystem;
namespace json = boost::json;
namespace layout = sourcery::storage::rocksdb_detail;

namespace {

struct temp_folder {
  temp_folder() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path()
           / ("sourcery-admin-test-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

struct ran {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The folders of `dir`, hidden ones included.
std::vector<std::string> entries_of(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// `file` with its last event line cut in half: an export that breaks after
/// most of the events were imported.
std::string broken_at_the_end(const std::string& file) {
  auto text = slurp(file);
  auto last = text.rfind("{\"kind\":\"event\"");
  BOOST_REQUIRE(last != std::string::npos);
  return text.substr(0, last + (text.size() - last) / 2) + "\n";
}

/// Runs sourcery-admin with `args` (a shell command line's words, quoted by
/// the caller where needed).
ran admin(const std::string& args) {
  static std::atomic<int> counter{0};
  auto base = fs::temp_directory_path()
              / ("sourcery-admin-run-" + std::to_string(::getpid()) + "-"
                 + std::to_string(counter++));
  auto out = base.string() + ".out", err = base.string() + ".err";
  auto command = std::string(SOURCERY_ADMIN_BINARY) + " " + args + " >" + out + " 2>" + err;
  int status = std::system(command.c_str());
  ran r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  BOOST_TEST_MESSAGE("sourcery-admin " << args << " -> " << r.code << "\n" << r.out << r.err);
  return r;
}

std::string on(const std::string& folder) { return "--storage.path=" + folder; }

raw_event event(const std::string& type, const std::string& data) {
  raw_event e;
  e.id = random_uuid();
  e.created_at = timestamp::now();
  e.name = type;
  e.data = data;
  e.context = R"({"correlation_id":null})";
  return e;
}

const stream_id order = stream_id::named("order-1", "order");
const stream_id cart = stream_id::named("cart-7", "cart");
const stream_id audit = stream_id::named("audit");

/// Given a store of two tenants (and the default one): a versioned stream
/// with a snapshot, a second versioned stream, a versionless one, a deleted
/// one; outbox entries of which one is a dead letter and one failed once; a
/// cursor; a data subject's key. 14 events.
void given_store(engine& e) {
  auto acme = e.streams("acme");
  acme->append(order, 0,
               std::vector{event("order_placed", R"({"total":10})"),
                           event("item_added", R"({"sku":"a"})"),
                           event("item_added", R"({"sku":"b"})")},
               std::vector<char>{1, 1, 1}, nullptr);
  acme->save_snapshot(order, event("order_snapshot", R"({"items":2})"));
  acme->append(order, 3, std::vector{event("order_paid", R"({"ok":true})")}, {}, nullptr);
  acme->append(cart, 0, std::vector{event("cart_opened", "{}"), event("cart_closed", "{}")}, {},
               nullptr);
  auto globex = e.streams("globex");
  globex->append(audit, no_versioning,
                 std::vector{event("login", R"({"who":"ann"})"), event("logout", "{}")}, {},
                 nullptr);
  auto gone = stream_id::named("gone");
  globex->append(gone, 0, std::vector{event("made", "{}")}, {}, nullptr);
  globex->remove(gone);
  e.streams("")->append(stream_id::named("plain"), 0,
                        std::vector{event("a", "{}"), event("b", "{}"), event("c", "{}"),
                                    event("d", "{}"), event("e", "{}")},
                        {}, nullptr);
  // Outbox: position 1 dead after 3 attempts, position 2 failed once.
  auto reporter = e.outbox().open(outbox_policy{3, false});
  std::string broken = "broker refused";
  for (int i = 0; i < 3; ++i) {
    auto claims = e.outbox().claim_all(1);
    BOOST_REQUIRE_EQUAL(claims.size(), 1u);
    reporter.report(claims[0], &broken);
  }
  auto claims = e.outbox().claim_all(1);
  BOOST_REQUIRE_EQUAL(claims.size(), 1u);
  BOOST_REQUIRE_EQUAL(claims[0].record.position, 2u);
  reporter.report(claims[0], &broken);
  e.cursors().store(cursor_key{"totals", "acme", order}, 4);
  e.keys()->store("acme", "ann", encryption_key(32, 7));
}

std::string given_rocksdb_store(const temp_folder& dir, const std::string& name = "store") {
  auto path = dir / name;
  auto e = open_rocksdb_engine(path);
  given_store(*e);
  return path;
}

/// Every file of `folder` with its bytes.
std::map<std::string, std::string> contents(const std::string& folder) {
  std::map<std::string, std::string> out;
  for (const auto& f : fs::recursive_directory_iterator(folder))
    if (f.is_regular_file())
      out[f.path().lexically_relative(folder).string()] = slurp(f.path().string());
  return out;
}

/// The store in `folder` opened as RocksDB itself, to damage it.
struct raw_rocksdb {
  explicit raw_rocksdb(const std::string& folder) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto* n : layout::family_names)
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(rocksdb::DBOptions(), folder, cfs, &handles, &raw);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    db.reset(raw);
  }
  ~raw_rocksdb() {
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
  }
  rocksdb::ColumnFamilyHandle* cf(layout::family f) { return handles[std::size_t(f)]; }
  void put(layout::family f, const std::string& k, const std::string& v) {
    BOOST_REQUIRE(db->Put(rocksdb::WriteOptions(), cf(f), k, v).ok());
  }
  void remove(layout::family f, const std::string& k) {
    BOOST_REQUIRE(db->Delete(rocksdb::WriteOptions(), cf(f), k).ok());
  }
  std::string get(layout::family f, const std::string& k) {
    std::string v;
    BOOST_REQUIRE(db->Get(rocksdb::ReadOptions(), cf(f), k, &v).ok());
    return v;
  }
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

/// A copy of `store`, to damage.
std::string copy_of(const temp_folder& dir, const std::string& store, const std::string& name) {
  auto path = dir / name;
  fs::copy(store, path, fs::copy_options::recursive);
  return path;
}

/// sourcery-admin started with `args` (no shell), its standard output read
/// line by line as it comes.
class running_admin {
public:
  explicit running_admin(std::vector<std::string> args) {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv{const_cast<char*>(SOURCERY_ADMIN_BINARY)};
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(SOURCERY_ADMIN_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~running_admin() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }

  /// The next line, waiting for it at most `deadline`; none at the deadline
  /// or the end of the output.
  std::optional<std::string> line(std::chrono::seconds deadline = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (true) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        auto l = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char chunk[4096];
      auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0)
        return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Sends `sig` and returns the exit code.
  int stop(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(admin_rocksdb)

BOOST_AUTO_TEST_CASE(info_tells_what_the_store_holds) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto r = admin("info --json " + on(store));
  BOOST_REQUIRE_EQUAL(r.code, 0);
  auto o = json::parse(r.out).as_object();
  BOOST_TEST(o.at("engine").as_string() == "rocksdb");
  BOOST_TEST(o.at("format_version").as_int64() == 2);
  BOOST_TEST(o.at("last_position").as_int64() == 14);
  BOOST_TEST(o.at("events").as_int64() == 14);
  BOOST_TEST(o.at("tenants").as_int64() == 3);
  BOOST_TEST(o.at("streams").as_int64() == 4);
  BOOST_TEST(o.at("deleted_streams").as_int64() == 1);
  BOOST_TEST(o.at("snapshots").as_int64() == 1);
  BOOST_TEST(o.at("outbox_pending").as_int64() == 2);
  BOOST_TEST(o.at("outbox_dead").as_int64() == 1);
  BOOST_TEST(o.at("cursors").as_int64() == 1);
  BOOST_TEST(o.at("bytes_on_disk").as_int64() > 0);
  auto table = admin("info " + on(store));
  BOOST_REQUIRE_EQUAL(table.code, 0);
  BOOST_TEST(has(table.out, "streams            4 (1 deleted)"));
}

BOOST_AUTO_TEST_CASE(tenants_streams_read_and_log_list_what_was_written) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto tenants = json::parse(admin("tenants --json " + on(store)).out).as_array();
  BOOST_REQUIRE_EQUAL(tenants.size(), 3u);
  BOOST_TEST(tenants[1].at("tenant").as_string() == "acme");
  BOOST_TEST(tenants[1].at("events").as_int64() == 6);
  BOOST_TEST(tenants[1].at("streams").as_int64() == 2);

  auto streams = json::parse(admin("streams --json --tenant=acme " + on(store)).out).as_array();
  BOOST_REQUIRE_EQUAL(streams.size(), 2u);
  BOOST_TEST(streams[0].at("current").as_int64() == 4);
  BOOST_TEST(streams[0].at("snapshot").as_int64() == 3);
  auto carts = json::parse(admin("streams --json --category=cart " + on(store)).out).as_array();
  BOOST_REQUIRE_EQUAL(carts.size(), 1u);

  auto read = admin("read order-1 --tenant=acme --category=order --json " + on(store));
  BOOST_REQUIRE_EQUAL(read.code, 0);
  auto o = json::parse(read.out).as_object();
  BOOST_TEST(o.at("snapshot").at("version").as_int64() == 3);
  BOOST_REQUIRE_EQUAL(o.at("events").as_array().size(), 1u);
  BOOST_TEST(o.at("events").as_array()[0].at("type").as_string() == "order_paid");
  BOOST_TEST(o.at("events").as_array()[0].at("data").at("ok").as_bool());
  auto range = admin("read plain --from=2 --to=3 --json " + on(store));
  BOOST_REQUIRE_EQUAL(range.code, 0);
  auto events = json::parse(range.out).at("events").as_array();
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST(events[0].at("version").as_int64() == 2);
  BOOST_TEST(events[1].at("version").as_int64() == 3);

  auto log = json::parse(admin("log --from=2 --limit=3 --json " + on(store)).out).as_array();
  BOOST_REQUIRE_EQUAL(log.size(), 3u);
  BOOST_TEST(log[0].at("position").as_int64() == 2);
  BOOST_TEST(log[2].at("position").as_int64() == 4);
  auto table = admin("log --limit=2 " + on(store));
  BOOST_TEST(has(table.out, "order_placed"));
}

BOOST_AUTO_TEST_CASE(an_unknown_stream_or_tenant_is_named_with_exit_code_1) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto stream = admin("read nosuch --tenant=acme " + on(store));
  BOOST_TEST(stream.code == 1);
  BOOST_TEST(has(stream.err, "there is no stream"));
  BOOST_TEST(has(stream.err, "tenant 'acme'"));
  auto tenant = admin("read order-1 --tenant=initech " + on(store));
  BOOST_TEST(tenant.code == 1);
  BOOST_TEST(has(tenant.err, "there is no tenant 'initech'"));
  auto deleted = admin("read gone --tenant=globex " + on(store));
  BOOST_TEST(deleted.code == 1);
  BOOST_TEST(has(deleted.err, "was deleted"));
  auto streams = admin("streams --tenant=initech " + on(store));
  BOOST_TEST(streams.code == 1);
}

BOOST_AUTO_TEST_CASE(storage_that_is_absent_foreign_or_locked_gets_exit_code_3_and_a_way_out) {
  temp_folder dir;
  auto missing = admin("info " + on(dir / "nothing"));
  BOOST_TEST(missing.code == 3);
  BOOST_TEST(has(missing.err, "there is no folder"));
  BOOST_TEST(!fs::exists(dir / "nothing"));

  fs::create_directories(dir / "foreign");
  std::ofstream(dir / "foreign/notes.txt") << "hello";
  auto foreign = admin("info " + on(dir / "foreign"));
  BOOST_TEST(foreign.code == 3);
  BOOST_TEST(has(foreign.err, "not a Sourcery store"));

  auto store = given_rocksdb_store(dir);
  auto service = open_rocksdb_engine(store); // holds the LOCK, as a running service does
  auto locked = admin("outbox requeue --all --yes " + on(store));
  BOOST_TEST(locked.code == 3);
  BOOST_TEST(has(locked.err, "in use by another process"));
  BOOST_TEST(has(locked.err, "open it read-only"));
  auto reading = admin("verify " + on(store)); // reads go on meanwhile
  BOOST_TEST(reading.code == 0);
}

BOOST_AUTO_TEST_CASE(bad_usage_gets_exit_code_2) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  BOOST_TEST(admin("info --no-such-option " + on(store)).code == 2);
  BOOST_TEST(admin("").code == 2);
  BOOST_TEST(admin("log --limit=many " + on(store)).code == 2);
  BOOST_TEST(admin("info --storage.engine=oracle " + on(store)).code == 2);
  BOOST_TEST(admin("outbox requeue 1 --all " + on(store)).code == 2);
  BOOST_TEST(admin("--help").code == 0);
}

BOOST_AUTO_TEST_CASE(read_commands_and_dry_runs_modify_no_file) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto before = contents(store);
  std::vector<std::string> commands{
    "info", "tenants", "streams", "read order-1 --tenant=acme --category=order", "log",
    "outbox status", "outbox dead-letters", "verify", "export " + (dir / "x.ndjson"),
    "outbox requeue --all", "outbox purge 1", "shred ann --tenant=acme"};
  for (const auto& command : commands) {
    auto r = admin(command + " " + on(store));
    BOOST_TEST(r.code == 0, command << ": " << r.err);
  }
  BOOST_TEST((contents(store) == before));
}

BOOST_AUTO_TEST_CASE(verify_passes_a_sound_store) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto r = admin("verify " + on(store));
  BOOST_TEST(r.code == 0);
  BOOST_TEST(has(r.out, "ok: 14 events, 5 streams, 1 snapshots, 3 outbox entries, format version 2"));
  auto j = json::parse(admin("verify --json " + on(store)).out).as_object();
  BOOST_TEST(j.at("ok").as_bool());
  BOOST_TEST(j.at("problems").as_array().empty());
}

BOOST_AUTO_TEST_CASE(verify_reports_a_deleted_index_key_with_its_stream) {
  temp_folder dir;
  auto store = copy_of(dir, given_rocksdb_store(dir), "damaged");
  {
    raw_rocksdb db(store);
    db.remove(layout::family::index, layout::index_key(layout::stream_key("acme", cart), 2));
  }
  auto r = admin("verify " + on(store));
  BOOST_TEST(r.code == 1);
  BOOST_TEST(has(r.out, "cart/"), r.out);
  BOOST_TEST(has(r.out, "the index has no entry for event 2"), r.out);
  BOOST_TEST(has(r.out, "position 6: cart/"), r.out);
}

BOOST_AUTO_TEST_CASE(verify_reports_a_hole_in_the_log_at_its_position) {
  temp_folder dir;
  auto store = copy_of(dir, given_rocksdb_store(dir), "damaged");
  {
    raw_rocksdb db(store);
    db.remove(layout::family::log, layout::position_key(4)); // order-1's fourth event
  }
  auto r = admin("verify --json " + on(store));
  BOOST_TEST(r.code == 1);
  auto problems = json::parse(r.out).at("problems").as_array();
  BOOST_REQUIRE(!problems.empty());
  BOOST_TEST(problems[0].at("position").as_int64() == 4);
  BOOST_TEST(has(std::string(problems[0].at("problem").as_string()), "no record at position 4"));
  bool state_named = false; // order-1's state still counts it
  for (const auto& p : problems)
    state_named = state_named
                  || (p.at("stream").is_string()
                      && has(std::string(p.at("stream").as_string()), "order/")
                      && has(std::string(p.at("problem").as_string()),
                             "its state says 4 events, the log holds 3"));
  BOOST_TEST(state_named);
  BOOST_TEST(has(std::string(problems.back().at("problem").as_string()),
                 "the index points event 4 at a position the log does not hold"));
}

BOOST_AUTO_TEST_CASE(verify_reports_a_wrong_version_with_position_and_stream) {
  temp_folder dir;
  auto store = copy_of(dir, given_rocksdb_store(dir), "damaged");
  {
    raw_rocksdb db(store);
    // cart-7's second event (position 6) rewritten as version 5.
    auto e = event("cart_closed", "{}");
    db.put(layout::family::log, layout::position_key(6), layout::encode_record("acme", cart, e, 5));
  }
  auto r = admin("verify " + on(store));
  BOOST_TEST(r.code == 1);
  BOOST_TEST(has(r.out, "position 6: cart/"), r.out);
  BOOST_TEST(has(r.out, "version 5, expected 2"), r.out);
}

BOOST_AUTO_TEST_CASE(verify_reports_a_snapshot_at_a_version_that_never_was) {
  temp_folder dir;
  auto store = copy_of(dir, given_rocksdb_store(dir), "damaged");
  {
    raw_rocksdb db(store);
    auto snap = event("order_snapshot", "{}");
    snap.version = 9;
    db.put(layout::family::snapshots, layout::stream_key("acme", order),
           layout::encode_snapshot(snap));
  }
  auto r = admin("verify " + on(store));
  BOOST_TEST(r.code == 1);
  BOOST_TEST(has(r.out, "order/"), r.out);
  BOOST_TEST(has(r.out, "a snapshot at version 9, which the stream never had"), r.out);
}

BOOST_AUTO_TEST_CASE(verify_reports_an_outbox_entry_pointing_at_no_record) {
  temp_folder dir;
  auto store = copy_of(dir, given_rocksdb_store(dir), "damaged");
  {
    raw_rocksdb db(store);
    db.put(layout::family::outbox, layout::outbox_key(0, 99), layout::encode_attempts(0));
  }
  auto r = admin("verify " + on(store));
  BOOST_TEST(r.code == 1);
  BOOST_TEST(has(r.out, "position 99: an outbox entry points at no stored record"), r.out);
}

BOOST_AUTO_TEST_CASE(verify_reports_a_stream_state_that_disagrees_with_the_log) {
  temp_folder dir;
  auto store = copy_of(dir, given_rocksdb_store(dir), "damaged");
  {
    raw_rocksdb db(store);
    db.put(layout::family::streams, layout::stream_key("", stream_id::named("plain")),
           layout::encode_state(stream_info{false, 7}));
  }
  auto r = admin("verify " + on(store));
  BOOST_TEST(r.code == 1);
  BOOST_TEST(has(r.out, "its state says 7 events, the log holds 5"), r.out);
}

BOOST_AUTO_TEST_CASE(requeue_and_purge_change_only_with_yes) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto dry = admin("outbox requeue 1 " + on(store));
  BOOST_TEST(dry.code == 0);
  BOOST_TEST(has(dry.out, "would requeue 1 dead letters (positions 1); pass --yes"));
  BOOST_TEST(admin("outbox requeue 5 --yes " + on(store)).code == 1); // no dead letter there
  auto done = admin("outbox requeue 1 --yes " + on(store));
  BOOST_TEST(done.code == 0);
  BOOST_TEST(has(done.out, "requeued 1 dead letters"));
  auto status = json::parse(admin("outbox status --json " + on(store)).out).as_object();
  BOOST_TEST(status.at("pending").as_int64() == 3);
  BOOST_TEST(status.at("dead").as_int64() == 0);

  auto again = given_rocksdb_store(dir, "second");
  auto dead = json::parse(admin("outbox dead-letters --json " + on(again)).out).as_array();
  BOOST_REQUIRE_EQUAL(dead.size(), 1u);
  BOOST_TEST(dead[0].at("attempts").as_int64() == 3);
  BOOST_TEST(dead[0].at("last_error").as_string() == "broker refused");
  BOOST_TEST(admin("outbox purge --all --yes " + on(again)).code == 0);
  BOOST_TEST(json::parse(admin("outbox dead-letters --json " + on(again)).out).as_array().empty());
}

BOOST_AUTO_TEST_CASE(shred_deletes_a_subjects_key_only_with_yes) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  BOOST_TEST(has(admin("shred ann --tenant=acme " + on(store)).out, "would shred"));
  BOOST_TEST(admin("shred ann --tenant=acme --yes " + on(store)).code == 0);
  auto e = open_rocksdb_engine(store);
  BOOST_TEST(!e->keys()->get("acme", "ann"));
  e.reset();
  BOOST_TEST(admin("shred ann --tenant=acme --yes " + on(store)).code == 1);
}

BOOST_AUTO_TEST_CASE(an_export_imported_into_an_empty_store_exports_the_same_bytes) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "a.ndjson") + " " + on(store)).code, 0);
  auto imported = admin("import " + (dir / "a.ndjson") + " " + on(dir / "copy"));
  BOOST_REQUIRE_EQUAL(imported.code, 0);
  BOOST_TEST(has(imported.out, "imported 14 events of 5 streams into rocksdb"));
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "b.ndjson") + " " + on(dir / "copy")).code, 0);
  auto a = slurp(dir / "a.ndjson"), b = slurp(dir / "b.ndjson");
  BOOST_TEST(a.size() > 1000u);
  BOOST_TEST((a == b));
  BOOST_TEST(admin("verify " + on(dir / "copy")).code == 0);
  // What the export keeps, as the copy serves it.
  auto copy = open_rocksdb_engine(dir / "copy");
  BOOST_TEST(copy->outbox().dead_letters().at(0).attempts == 3u);
  BOOST_TEST((copy->cursors().load(cursor_key{"totals", "acme", order}) == 4u));
  BOOST_TEST(!copy->streams("globex")->info(stream_id::named("gone")));
  BOOST_TEST((copy->streams("acme")->read(order, std::nullopt, std::nullopt).snapshot->version
              == 3u));
}

// R-ADM2: read shows an encrypted field decrypted with the store's key, and as
// a mask once its subject is shredded; --raw shows the stored ciphertext.
BOOST_AUTO_TEST_CASE(read_decrypts_fields_with_the_stores_keys_and_masks_shredded_ones) {
  temp_folder dir;
  auto path = dir / "store";
  {
    auto e = open_rocksdb_engine(path);
    xchacha20poly1305_strategy strategy;
    auto ann = strategy.generate_key(), bob = strategy.generate_key();
    e->keys()->store("acme", "ann", ann);
    e->keys()->store("acme", "bob", bob);
    auto data = [&](const char* who, const encryption_key& key) {
      return std::string(R"({"who":")") + who + R"(","email":")"
             + strategy.encrypt(std::string("\"") + who + "@example.com\"", key) + R"("})";
    };
    e->streams("acme")->append(
      stream_id::named("people"), 0,
      std::vector{event("registered", data("ann", ann)), event("registered", data("bob", bob))},
      {}, nullptr);
    e->keys()->remove("acme", "bob"); // shredded
  }
  auto read = admin("read people --tenant=acme --json " + on(path));
  BOOST_REQUIRE_EQUAL(read.code, 0);
  auto events = json::parse(read.out).at("events").as_array();
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST(events[0].at("data").at("email").as_string() == "ann@example.com");
  BOOST_TEST(events[1].at("data").at("email").as_string() == "<shredded>");
  BOOST_TEST(events[1].at("data").at("who").as_string() == "bob");
  auto table = admin("read people --tenant=acme " + on(path));
  BOOST_TEST(has(table.out, "ann@example.com"));
  auto raw = admin("read people --tenant=acme --raw --json " + on(path));
  auto stored = json::parse(raw.out).at("events").as_array();
  BOOST_TEST(stored[0].at("data").at("email").as_string().starts_with("xchacha1:"));
  BOOST_TEST(stored[1].at("data").at("email").as_string().starts_with("xchacha1:"));
}

// R-ADM5: keys leave the store only with --with-keys, and come back with an
// import.
BOOST_AUTO_TEST_CASE(an_export_holds_the_keys_only_with_with_keys_and_an_import_restores_them) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "plain.ndjson") + " " + on(store)).code, 0);
  BOOST_TEST(!has(slurp(dir / "plain.ndjson"), R"("kind":"key")"));
  BOOST_REQUIRE_EQUAL(admin("export --with-keys " + (dir / "a.ndjson") + " " + on(store)).code, 0);
  BOOST_TEST(has(slurp(dir / "a.ndjson"),
                 R"({"kind":"key","tenant":"acme","subject":"ann","key":")"
                   "0707070707070707070707070707070707070707070707070707070707070707"
                   R"("})"));
  auto imported = admin("import " + (dir / "a.ndjson") + " " + on(dir / "copy"));
  BOOST_REQUIRE_EQUAL(imported.code, 0);
  BOOST_TEST(has(imported.out, "imported 14 events of 5 streams and 1 key into rocksdb"));
  {
    auto copy = open_rocksdb_engine(dir / "copy");
    BOOST_TEST((copy->keys()->get("acme", "ann") == encryption_key(32, 7)));
  }
  BOOST_REQUIRE_EQUAL(admin("export --with-keys " + (dir / "b.ndjson") + " " + on(dir / "copy")).code,
                      0);
  BOOST_TEST((slurp(dir / "a.ndjson") == slurp(dir / "b.ndjson")));
}

// An export refused (an unknown tenant) leaves the file it would have written
// as it was.
BOOST_AUTO_TEST_CASE(an_export_of_an_unknown_tenant_is_refused_and_leaves_the_file_alone) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  std::ofstream(dir / "kept.ndjson") << "kept\n";
  auto r = admin("export --tenant=nosuch " + (dir / "kept.ndjson") + " " + on(store));
  BOOST_TEST(r.code == 1);
  BOOST_TEST(has(r.err, "there is no tenant 'nosuch'"));
  BOOST_TEST(slurp(dir / "kept.ndjson") == "kept\n");
}

BOOST_AUTO_TEST_CASE(an_import_into_a_store_that_is_not_empty_is_refused_and_changes_nothing) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "a.ndjson") + " " + on(store)).code, 0);
  auto other = given_rocksdb_store(dir, "other");
  auto before = contents(other);
  auto r = admin("import " + (dir / "a.ndjson") + " " + on(other));
  BOOST_TEST(r.code == 1);
  BOOST_TEST(has(r.err, "is not empty"));
  BOOST_TEST((contents(other) == before));
  std::ofstream(dir / "bad.ndjson") << "{\"kind\":\"nonsense\"}\n";
  auto bad = admin("import " + (dir / "bad.ndjson") + " " + on(dir / "fresh"));
  BOOST_TEST(bad.code == 2);
  BOOST_TEST(has(bad.err, "not the header of a sourcery export"));
}

// R-ADM5: event lines are written by hand (the export's hot path); every
// character comes out as Boost.JSON writes it, at every alignment, and reads
// back as it was stored.
BOOST_AUTO_TEST_CASE(an_export_escapes_every_character_as_boost_json_does) {
  temp_folder dir;
  std::string data;
  for (int c = 0; c < 128; ++c)
    data += static_cast<char>(c);
  data += "\xc3\xa9 \xe2\x82\xac \"quoted\" back\\slash";
  data += "x" + data + "yz" + data;
  {
    auto e = open_rocksdb_engine(dir / "store");
    auto ev = event("odd", data);
    ev.context = data;
    e->streams("t")->append(stream_id::named("s"), 0, std::vector{ev}, {}, nullptr);
  }
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "a.ndjson") + " " + on(dir / "store")).code, 0);
  auto text = slurp(dir / "a.ndjson");
  auto line = text.substr(text.find("{\"kind\":\"event\""));
  auto expected = json::serialize(json::string(data));
  BOOST_TEST(has(line, "\"data\":" + expected + ",\"context\":" + expected + "}"));
  auto back = json::parse(line);
  BOOST_TEST((back.at("data").as_string() == data));
}

// R-ADM5: an import that fails part-way leaves its target as it was: no
// store where there was none, an empty folder still empty, and nothing of
// the unfinished store beside it.
BOOST_AUTO_TEST_CASE(an_import_that_fails_part_way_leaves_the_target_as_it_was) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "a.ndjson") + " " + on(store)).code, 0);
  std::ofstream(dir / "broken.ndjson") << broken_at_the_end(dir / "a.ndjson");
  auto before = entries_of(dir.path);

  auto r = admin("import " + (dir / "broken.ndjson") + " " + on(dir / "fresh"));
  BOOST_TEST(r.code == 2);
  BOOST_TEST(has(r.err, "line 24 of the export: incomplete JSON"));
  BOOST_TEST((entries_of(dir.path) == before)); // no "fresh", no ".fresh.importing-…"

  fs::create_directory(dir / "empty");
  before = entries_of(dir.path);
  r = admin("import " + (dir / "broken.ndjson") + " " + on(dir / "empty"));
  BOOST_TEST(r.code == 2);
  BOOST_TEST((entries_of(dir.path) == before));
  BOOST_TEST(fs::is_empty(dir / "empty"));

  // The same target takes the whole export afterwards, into the empty folder.
  auto ok = admin("import " + (dir / "a.ndjson") + " " + on(dir / "empty"));
  BOOST_REQUIRE_EQUAL(ok.code, 0);
  BOOST_TEST((entries_of(dir.path) == before));
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "b.ndjson") + " " + on(dir / "empty")).code, 0);
  BOOST_TEST((slurp(dir / "a.ndjson") == slurp(dir / "b.ndjson")));
}

BOOST_AUTO_TEST_CASE(a_backup_restored_verifies_and_holds_every_event) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto b = admin("backup " + (dir / "backup") + " " + on(store));
  BOOST_REQUIRE_EQUAL(b.code, 0);
  BOOST_TEST(has(b.out, "backed up 14 events"));
  auto r = admin("restore " + (dir / "backup") + " " + on(dir / "restored"));
  BOOST_REQUIRE_EQUAL(r.code, 0);
  BOOST_TEST(admin("verify " + on(dir / "restored")).code == 0);
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "a.ndjson") + " " + on(store)).code, 0);
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "b.ndjson") + " " + on(dir / "restored")).code, 0);
  BOOST_TEST((slurp(dir / "a.ndjson") == slurp(dir / "b.ndjson")));
  BOOST_TEST(admin("restore " + (dir / "backup") + " " + on(dir / "restored")).code == 2);
}

BOOST_AUTO_TEST_CASE(a_backup_of_a_store_a_service_is_writing_holds_every_acknowledged_event) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto service = open_rocksdb_engine(store);
  std::atomic<bool> stop{false};
  std::atomic<position> acknowledged{service->log().last_position()};
  std::thread writer([&] {
    auto stream = stream_id::named("busy", "load");
    for (std::uint64_t v = 0; !stop; ++v) {
      auto r = service->streams("acme")->append(stream, v, std::vector{event("tick", "{}")}, {},
                                                nullptr);
      acknowledged = r.last_position;
    }
  });
  while (acknowledged.load() < 500) // the service is under way
    std::this_thread::yield();
  auto before = acknowledged.load();
  auto b = admin("backup " + (dir / "backup") + " " + on(store));
  stop = true;
  writer.join();
  BOOST_REQUIRE_EQUAL(b.code, 0);
  BOOST_TEST(has(b.out, "in use by another process: copying it through a read-only view"));
  BOOST_TEST_MESSAGE("acknowledged before the backup: " << before << ", at its end: "
                     << acknowledged.load());
  BOOST_TEST(admin("verify " + on(dir / "backup")).code == 0);
  rocksdb_options ro;
  ro.read_only = true;
  auto copy = open_rocksdb_engine(dir / "backup", ro);
  BOOST_REQUIRE(copy->log().last_position() >= before);
  record_batch original, copied;
  service->log().read(0, before, original);
  copy->log().read(0, before, copied);
  BOOST_REQUIRE_EQUAL(copied.records.size(), before);
  for (std::size_t i = 0; i < before; ++i)
    BOOST_TEST((copied.records[i].id == original.records[i].id));
  BOOST_TEST(copy->keys()->get("acme", "ann").has_value());
  BOOST_TEST(copy->outbox().dead_letters().size() == 1u);
}

BOOST_AUTO_TEST_CASE(tail_prints_what_another_process_commits_until_interrupted) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  auto service = open_rocksdb_engine(store); // writing while tail follows, as a service would
  running_admin tail({"tail", "--from=13", "--json", "--storage.path=" + store});
  auto first = tail.line();
  BOOST_REQUIRE(first);
  BOOST_TEST(json::parse(*first).at("position").as_int64() == 13);
  BOOST_REQUIRE(tail.line());
  service->streams("acme")->append(cart, 2, std::vector{event("cart_reopened", "{}")}, {},
                                   nullptr);
  auto live = tail.line();
  BOOST_REQUIRE(live);
  auto o = json::parse(*live).as_object();
  BOOST_TEST(o.at("position").as_int64() == 15);
  BOOST_TEST(o.at("type").as_string() == "cart_reopened");
  BOOST_TEST(tail.stop(SIGINT) == 0); // Ctrl-C ends it cleanly
}

BOOST_AUTO_TEST_CASE(tail_keeps_only_the_records_its_filters_name) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  running_admin tail({"tail", "--from=1", "--category=cart", "--type=cart_closed",
                      "--storage.path=" + store});
  auto only = tail.line();
  BOOST_REQUIRE(only);
  BOOST_TEST(has(*only, "6  acme  cart/"), *only);
  BOOST_TEST(has(*only, "cart_closed"));
  BOOST_TEST(tail.stop(SIGTERM) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

#ifdef SOURCERY_TEST_WITH_POSTGRES
BOOST_AUTO_TEST_SUITE(admin_postgres)

// The PG* variables (pg_virtualenv) name the server.
BOOST_AUTO_TEST_CASE(a_store_moved_rocksdb_to_postgres_to_rocksdb_exports_the_same_bytes) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  std::string schema = "admin_move_" + std::to_string(::getpid());
  drop_postgres_store("", schema);
  auto pg = "--storage.engine=postgres --storage.schema=" + schema;
  // With the keys: PostgreSQL lists them as RocksDB does (bytewise).
  {
    auto e = open_rocksdb_engine(store);
    e->keys()->store("Zeta", "b", encryption_key(40, 1));
    e->keys()->store("acme", "B", encryption_key(40, 2));
  }
  BOOST_REQUIRE_EQUAL(admin("export --with-keys " + (dir / "a.ndjson") + " " + on(store)).code, 0);
  BOOST_TEST(admin("info " + pg).code == 3); // no store there yet, and none is made
  BOOST_REQUIRE_EQUAL(admin("import " + (dir / "a.ndjson") + " " + pg).code, 0);
  BOOST_TEST(admin("verify " + pg).code == 0);
  BOOST_REQUIRE_EQUAL(admin("export --with-keys " + (dir / "b.ndjson") + " " + pg).code, 0);
  BOOST_REQUIRE_EQUAL(admin("import " + (dir / "b.ndjson") + " " + on(dir / "back")).code, 0);
  BOOST_REQUIRE_EQUAL(admin("export --with-keys " + (dir / "c.ndjson") + " " + on(dir / "back")).code,
                      0);
  auto a = slurp(dir / "a.ndjson");
  BOOST_TEST((a == slurp(dir / "b.ndjson")));
  BOOST_TEST((a == slurp(dir / "c.ndjson")));
  auto refused = admin("import " + (dir / "a.ndjson") + " " + pg);
  BOOST_TEST(refused.code == 1);
  BOOST_TEST(has(refused.err, "is not empty"));
  auto info = json::parse(admin("info --json " + pg).out).as_object();
  BOOST_TEST(info.at("engine").as_string() == "postgres");
  BOOST_TEST(info.at("events").as_int64() == 14);

  // tail follows another node's commits, woken by LISTEN/NOTIFY.
  running_admin tail({"tail", "--json", "--from=14", "--storage.engine=postgres",
                      "--storage.schema=" + schema});
  auto first = tail.line();
  BOOST_REQUIRE(first);
  BOOST_TEST(json::parse(*first).at("position").as_int64() == 14);
  {
    postgres_options o;
    o.schema = schema;
    auto node = open_postgres_engine("", o);
    node->streams("acme")->append(cart, 2, std::vector{event("cart_reopened", "{}")}, {},
                                  nullptr);
  }
  auto live = tail.line();
  BOOST_REQUIRE(live);
  BOOST_TEST(json::parse(*live).at("position").as_int64() == 15);
  BOOST_TEST(tail.stop(SIGINT) == 0);
  drop_postgres_store("", schema);
}

/// What psql prints for `query` on the server the PG* variables name.
std::string psql(const std::string& query) {
  auto file = fs::temp_directory_path() / ("sourcery-admin-psql-" + std::to_string(::getpid()));
  auto command = "psql -XAtc \"" + query + "\" >" + file.string();
  BOOST_REQUIRE_EQUAL(std::system(command.c_str()), 0);
  auto out = slurp(file.string());
  fs::remove(file);
  return out;
}

// R-ADM5: an import that fails part-way leaves no store in the schema it
// named, and no schema of the unfinished store beside it.
BOOST_AUTO_TEST_CASE(an_import_into_postgres_that_fails_part_way_leaves_no_schema) {
  temp_folder dir;
  auto store = given_rocksdb_store(dir);
  std::string schema = "admin_broken_" + std::to_string(::getpid());
  drop_postgres_store("", schema);
  auto pg = "--storage.engine=postgres --storage.schema=" + schema;
  BOOST_REQUIRE_EQUAL(admin("export " + (dir / "a.ndjson") + " " + on(store)).code, 0);
  std::ofstream(dir / "broken.ndjson") << broken_at_the_end(dir / "a.ndjson");
  auto schemas = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'sourcery_import_%'"
                 " OR nspname = '" + schema + "'";
  BOOST_REQUIRE_EQUAL(psql(schemas), "0\n");
  auto r = admin("import " + (dir / "broken.ndjson") + " " + pg);
  BOOST_TEST(r.code == 2);
  BOOST_TEST(psql(schemas) == "0\n");
  BOOST_TEST(admin("info " + pg).code == 3);
  BOOST_REQUIRE_EQUAL(admin("import " + (dir / "a.ndjson") + " " + pg).code, 0);
  BOOST_TEST(psql(schemas) == "1\n"); // the store itself, moved into place
  BOOST_TEST(admin("verify " + pg).code == 0);
  drop_postgres_store("", schema);
}

BOOST_AUTO_TEST_SUITE_END()
#endif
