// export and import (R-ADM5): a store as NDJSON, one object per line, and
// back into an empty store of any engine.
//
// The lines, in this order, so that an import reads everything it needs
// before the events (it streams those):
//   {"kind":"sourcery-export","version":1,"tenant":…,"last_position":…}
//   {"kind":"stream",…}        each stream, in the order of its first event,
//                              with its state and latest snapshot
//   {"kind":"outbox",…}        each pending outbox entry with its attempts
//   {"kind":"dead_letter",…}   each dead letter with attempts and last error
//   {"kind":"cursor",…}        each projector cursor, sorted
//   {"kind":"key",…}           with --with-keys only: each data subject's key
//   {"kind":"retired_key",…}   and each shredded key's id (key_storage::retire)
//   {"kind":"event",…}         each record of the log, in position order
// Data and context are the stored JSON text as strings: encrypted fields
// stay ciphertext, and the bytes come back unchanged.
#include "commands.hpp"
#include "survey.hpp"

#include <sourcery/errors.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace admin {

using namespace sourcery;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view header_kind = "sourcery-export";

/// Whether none of the 8 bytes of `w` needs an escape in a JSON string
/// (none is below 0x20, a quote or a backslash): exact, from the
/// "has a zero byte" test on words.
bool clean_word(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  auto below_space = (w - ones * 0x20) & ~w & highs;
  return (below_space | has_zero(w ^ (ones * '"')) | has_zero(w ^ (ones * '\\'))) == 0;
}

/// `text` as a JSON string, appended to `out` (escapes as Boost.JSON does).
/// Runs of characters that need no escape are appended whole, found 8 bytes
/// at a time: the export's hottest loop.
void put_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const char* p = text.data();
  const std::size_t n = text.size();
  out += '"';
  std::size_t run = 0; // start of the characters not yet appended
  for (std::size_t i = 0; i < n;) {
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (clean_word(w)) {
        i += 8;
        continue;
      }
    }
    auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(p + run, i - run);
    run = ++i;
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default: {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      out.append(u, 6);
    }
    }
  }
  out.append(p + run, n - run);
  out += '"';
}

/// A number in decimal, appended to `out` (no string made for it).
template <class Int>
void put_number(std::string& out, Int v) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out.append(digits, end);
}

/// A UUID as to_string writes it (lower-case 8-4-4-4-12), appended to `out`.
void put_uuid(std::string& out, const uuid& id) {
  static constexpr char hex[] = "0123456789abcdef";
  char text[36];
  char* at = text;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      *at++ = '-';
    *at++ = hex[id.data[i] >> 4];
    *at++ = hex[id.data[i] & 15];
  }
  out.append(text, sizeof text);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string from_hex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    throw invalid_argument("not a hexadecimal digit: '" + std::string(1, c) + "'");
  };
  if (text.size() % 2 != 0)
    throw invalid_argument("hexadecimal text of odd length");
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2)
    out += static_cast<char>(digit(text[i]) * 16 + digit(text[i + 1]));
  return out;
}

/// An event's line, written directly: the export's hot path (one per record).
void put_event_line(std::string& out, const storage::record& r) {
  using namespace std::literals;
  out += R"({"kind":"event","position":)"sv;
  put_number(out, r.position);
  out += R"(,"tenant":)"sv;
  put_string(out, r.tenant);
  out += R"(,"stream":{"id":")"sv;
  put_uuid(out, r.stream->id());
  out += R"(","category":)"sv;
  if (r.stream->category())
    put_string(out, *r.stream->category());
  else
    out += "null"sv;
  out += R"(,"name":)"sv;
  if (r.stream->name())
    put_string(out, *r.stream->name());
  else
    out += "null"sv;
  out += R"(},"version":)"sv;
  put_number(out, r.version);
  out += R"(,"type":)"sv;
  put_string(out, r.type);
  out += R"(,"schema":)"sv;
  put_number(out, r.schema);
  out += R"(,"id":")"sv;
  put_uuid(out, r.id);
  out += R"(","created_us":)"sv;
  put_number(out, r.created_us);
  out += R"(,"data":)"sv;
  put_string(out, r.data);
  out += R"(,"context":)"sv;
  put_string(out, r.context);
  out += "}\n"sv;
}

json::object snapshot_json(const raw_event& s) {
  json::object o;
  o["version"] = s.version ? json::value(*s.version) : json::value(nullptr);
  o["type"] = s.name;
  o["schema"] = s.schema;
  o["id"] = to_string(s.id);
  o["created_us"] = s.created_at.micros();
  o["data"] = s.data;
  o["context"] = s.context;
  return o;
}

raw_event snapshot_from(const json::object& o) {
  raw_event s;
  if (!o.at("version").is_null())
    s.version = o.at("version").to_number<std::uint64_t>();
  s.name = std::string(o.at("type").as_string());
  s.schema = o.at("schema").to_number<std::uint32_t>();
  s.id = parse_uuid(o.at("id").as_string());
  s.created_at = timestamp::from_micros(o.at("created_us").to_number<std::int64_t>());
  s.data = std::string(o.at("data").as_string());
  s.context = std::string(o.at("context").as_string());
  return s;
}

/// Two passes over the log, both up to the position it had at the start:
/// the first surveys the streams; then the lines before the events are
/// written to `open()`'s stream — opened only now, so that a refused export
/// leaves an existing file as it was — and the second pass writes the event
/// lines after them. (Reading the log twice costs less than keeping its
/// lines in a file between: measured in bench_admin.)
void write_export(storage::engine& e, const export_args& a,
                  const std::function<std::ostream&()>& open) {
  auto& adm = admin_of(e);
  auto wanted = [&](std::string_view tenant) { return !a.tenant || tenant == *a.tenant; };
  surveyor survey(a.tenant);
  survey.result.last_position = e.log().last_position();
  for_each_record(e.log(), 1, survey.result.last_position,
                  [&](const storage::record& r) { survey.add(r); });
  const auto& s = survey.result;
  if (a.tenant && s.tenants.empty())
    throw failure(problem_found, "there is no " + tenant_text(*a.tenant) + " in the store");
  auto& out = open();
  auto line = [&](const json::value& v) { out << json::serialize(v) << '\n'; };
  line(json::object{{"kind", header_kind},
                    {"version", 1},
                    {"tenant", a.tenant ? json::value(*a.tenant) : json::value(nullptr)},
                    {"last_position", s.last_position}});
  for (const auto& st : s.streams) {
    auto streams = e.streams(st.tenant);
    auto info = streams->info(st.stream);
    json::object o;
    o["kind"] = "stream";
    o["tenant"] = st.tenant;
    o["stream"] = stream_json(st.stream);
    o["deleted"] = !info;
    o["versionless"] = info && info->versionless;
    o["current"] = info ? info->current : 0;
    o["snapshot"] = nullptr;
    if (info)
      if (auto snap = adm.snapshot(*streams, st.stream))
        o["snapshot"] = snapshot_json(*snap);
    line(o);
  }
  // Pending entries name positions only: their tenants are looked up in the log.
  auto pending = adm.pending_outbox();
  for (const auto& p : pending) {
    storage::record_batch b;
    e.log().read(p.position - 1, 1, b);
    if (b.records.empty() || !wanted(b.records.front().tenant))
      continue;
    line(json::object{{"kind", "outbox"}, {"position", p.position}, {"attempts", p.attempts}});
  }
  for (const auto& d : e.outbox().dead_letters())
    if (wanted(d.record.tenant))
      line(json::object{{"kind", "dead_letter"},
                        {"position", d.record.position},
                        {"attempts", d.attempts},
                        {"last_error", d.last_error}});
  auto cursors = adm.cursors();
  std::sort(cursors.begin(), cursors.end(), [](const auto& x, const auto& y) {
    auto key = [](const auto& c) {
      return std::tie(c.first.projection, c.first.tenant_id, c.first.stream.id(),
                      c.first.stream.category());
    };
    return key(x) < key(y);
  });
  for (const auto& [key, v] : cursors)
    if (wanted(key.tenant_id))
      line(json::object{{"kind", "cursor"},
                        {"projection", key.projection},
                        {"tenant", key.tenant_id},
                        {"stream", stream_json(key.stream)},
                        {"version", v}});
  if (a.with_keys) {
    auto& keys = *e.keys();
    for (const auto& k : keys.list())
      if (wanted(k.tenant))
        line(json::object{
          {"kind", "key"},
          {"tenant", k.tenant},
          {"subject", k.subject},
          {"key", to_hex({reinterpret_cast<const char*>(k.key.data()), k.key.size()})}});
    for (const auto& r : keys.list_retired())
      if (wanted(r.tenant))
        line(json::object{{"kind", "retired_key"},
                          {"tenant", r.tenant},
                          {"subject", r.subject},
                          {"key_id", to_hex(r.key_id)}});
  }
  std::string buffer;
  for_each_record(e.log(), 1, s.last_position, [&](const storage::record& r) {
    if (!wanted(r.tenant))
      return;
    put_event_line(buffer, r);
    if (buffer.size() > (1 << 20)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  });
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
}

/// What an import keeps of the lines before the events.
struct stream_plan {
  bool deleted = false;
  bool versionless = false;
  std::optional<raw_event> snapshot;
  std::uint64_t current = 0; // as imported so far
  std::string tenant;
  stream_id stream{uuid{}};
};

/// Consecutive events of one stream, appended at once.
struct pending_append {
  std::string key;
  std::vector<raw_event> events;
  std::vector<char> to_outbox;
  std::vector<position> positions; // as exported
};

class importer {
public:
  importer(storage::engine& e, std::istream& in) : e_(e), in_(in) {}

  void run() {
    std::string text;
    std::size_t n = 0;
    while (std::getline(in_, text)) {
      ++n;
      if (text.empty())
        continue;
      json::object o;
      try {
        o = json::parse(text).as_object();
        take(o, n);
      } catch (const failure&) {
        throw;
      } catch (const std::exception& ex) {
        throw failure(bad_usage, "line " + std::to_string(n) + " of the export: " + ex.what());
      }
    }
    if (n == 0 || !header_seen_)
      throw failure(bad_usage, "the export is empty or has no header line");
    flush();
    finish();
  }

  std::uint64_t events = 0, keys = 0;
  std::size_t streams() const { return plans_.size(); }

private:
  void take(const json::object& o, std::size_t n) {
    auto kind = o.at("kind").as_string();
    if (!header_seen_) {
      if (kind != header_kind || o.at("version").to_number<int>() != 1)
        throw failure(bad_usage, "line 1 is not the header of a sourcery export (version 1)");
      header_seen_ = true;
      renumber_ = !o.at("tenant").is_null();
      return;
    }
    if (kind == "event")
      return event(o, n);
    if (in_events_)
      throw failure(bad_usage, "line " + std::to_string(n) + ": a '" + std::string(kind)
                                 + "' line after the events");
    if (kind == "stream") {
      stream_plan p;
      p.tenant = std::string(o.at("tenant").as_string());
      p.stream = stream_from_json(o.at("stream"));
      p.deleted = o.at("deleted").as_bool();
      p.versionless = o.at("versionless").as_bool();
      if (!o.at("snapshot").is_null())
        p.snapshot = snapshot_from(o.at("snapshot").as_object());
      plans_.emplace(stream_key(p.tenant, p.stream), std::move(p));
    } else if (kind == "outbox") {
      pending_[o.at("position").to_number<position>()] = o.at("attempts").to_number<std::uint32_t>();
    } else if (kind == "dead_letter") {
      dead_[o.at("position").to_number<position>()] = {
        o.at("attempts").to_number<std::uint32_t>(),
        std::string(o.at("last_error").as_string())};
    } else if (kind == "cursor") {
      storage::cursor_key key{std::string(o.at("projection").as_string()),
                              std::string(o.at("tenant").as_string()),
                              stream_from_json(o.at("stream"))};
      cursors_.emplace_back(std::move(key), o.at("version").to_number<version>());
    } else if (kind == "key") {
      auto bytes = from_hex(o.at("key").as_string());
      e_.keys()->store(o.at("tenant").as_string(), o.at("subject").as_string(),
                       encryption_key(bytes.begin(), bytes.end()));
      ++keys;
    } else if (kind == "retired_key") {
      e_.keys()->retire(o.at("tenant").as_string(), o.at("subject").as_string(),
                        from_hex(o.at("key_id").as_string()));
    } else {
      throw failure(bad_usage, "line " + std::to_string(n) + ": unknown kind '"
                                 + std::string(kind) + "'");
    }
  }

  void event(const json::object& o, std::size_t n) {
    in_events_ = true;
    auto tenant = std::string(o.at("tenant").as_string());
    auto stream = stream_from_json(o.at("stream"));
    auto key = stream_key(tenant, stream);
    auto plan = plans_.find(key);
    if (plan == plans_.end())
      throw failure(bad_usage, "line " + std::to_string(n) + ": an event of a stream the export"
                                                             " does not list");
    raw_event ev;
    ev.id = parse_uuid(o.at("id").as_string());
    ev.created_at = timestamp::from_micros(o.at("created_us").to_number<std::int64_t>());
    ev.name = std::string(o.at("type").as_string());
    ev.data = std::string(o.at("data").as_string());
    ev.context = std::string(o.at("context").as_string());
    ev.schema = o.at("schema").to_number<std::uint32_t>();
    auto v = o.at("version").to_number<std::uint64_t>();
    if (v != 0)
      ev.version = v;
    auto pos = o.at("position").to_number<position>();
    if (batch_.key != key || batch_.events.size() >= 1024 || v == 1)
      flush();
    if (v == 1 && plan->second.current > 0) { // deleted, then written again
      e_.streams(tenant)->remove(stream);
      plan->second.current = 0;
    }
    batch_.key = key;
    batch_.events.push_back(std::move(ev));
    batch_.to_outbox.push_back(pending_.contains(pos) || dead_.contains(pos) ? 1 : 0);
    batch_.positions.push_back(pos);
    auto& snap = plan->second.snapshot;
    if (v != 0 && snap && snap->version == v) {
      flush();
      e_.streams(tenant)->save_snapshot(stream, *snap);
    }
  }

  void flush() {
    if (batch_.events.empty())
      return;
    auto& plan = plans_.at(batch_.key);
    expected_version expected = plan.versionless ? expected_version(no_versioning)
                                                 : expected_version(plan.current);
    auto receipt = e_.streams(plan.tenant)->append(plan.stream, expected, batch_.events,
                                                   batch_.to_outbox, nullptr);
    for (std::size_t i = 0; i < batch_.positions.size(); ++i) {
      auto now = receipt.first_position + i;
      if (!renumber_ && now != batch_.positions[i])
        throw failure(problem_found, "the event exported at position "
                                       + std::to_string(batch_.positions[i])
                                       + " was stored at " + std::to_string(now)
                                       + ": the export's log has a hole");
      moved_[batch_.positions[i]] = now;
    }
    plan.current += batch_.events.size();
    events += batch_.events.size();
    batch_ = {};
  }

  void finish() {
    for (auto& [key, plan] : plans_) {
      auto streams = e_.streams(plan.tenant);
      if (plan.deleted)
        streams->remove(plan.stream);
      else if (plan.snapshot && !plan.snapshot->version) // versionless: at its end
        streams->save_snapshot(plan.stream, *plan.snapshot);
    }
    auto& adm = admin_of(e_);
    for (const auto& [pos, attempts] : pending_)
      if (attempts > 0)
        adm.restore_outbox_entry(new_position(pos), attempts, nullptr);
    for (const auto& [pos, d] : dead_)
      adm.restore_outbox_entry(new_position(pos), d.first, &d.second);
    for (const auto& [key, v] : cursors_)
      e_.cursors().store(key, v);
  }

  position new_position(position old) const {
    auto it = moved_.find(old);
    if (it == moved_.end())
      throw failure(bad_usage, "an outbox entry at position " + std::to_string(old)
                                 + " names no exported event");
    return it->second;
  }

  storage::engine& e_;
  std::istream& in_;
  bool header_seen_ = false, in_events_ = false, renumber_ = false;
  std::unordered_map<std::string, stream_plan> plans_;
  std::map<position, std::uint32_t> pending_;
  std::map<position, std::pair<std::uint32_t, std::string>> dead_;
  std::vector<std::pair<storage::cursor_key, version>> cursors_;
  std::unordered_map<position, position> moved_;
  pending_append batch_;
};

} // namespace

int run_export(const common_args& c, const export_args& a) {
  auto e = open_store(c.storage, access::read);
  if (a.file.empty() || a.file == "-") {
    write_export(*e, a, [&]() -> std::ostream& { return std::cout; });
    std::cout.flush();
    return ok;
  }
  std::ofstream out;
  write_export(*e, a, [&]() -> std::ostream& {
    out.open(a.file, std::ios::binary | std::ios::trunc);
    if (!out)
      throw failure(unavailable, "cannot write " + a.file);
    return out;
  });
  out.flush();
  if (!out)
    throw failure(unavailable, "cannot write " + a.file);
  return ok;
}

int run_import(const common_args& c, const std::string& file) {
  std::ifstream in_file;
  std::istream* in = &std::cin;
  if (!file.empty() && file != "-") {
    in_file.open(file, std::ios::binary);
    if (!in_file)
      throw failure(unavailable, "cannot read " + file);
    in = &in_file;
  }
  import_target target(c.storage);
  importer imp(target.engine(), *in);
  imp.run();
  target.commit();
  std::cout << "imported " << imp.events << " events of " << imp.streams() << " streams"
            << (imp.keys == 0   ? std::string()
                : imp.keys == 1 ? std::string(" and 1 key")
                                : " and " + std::to_string(imp.keys) + " keys")
            << " into " << c.storage.engine << '\n';
  return ok;
}

} // namespace admin
