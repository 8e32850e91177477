// The read commands: info, tenants, streams, read, log (R-ADM2).
#include "commands.hpp"
#include "reveal.hpp"
#include "survey.hpp"

#include "../cli.hpp"

#include <sourcery/errors.hpp>

#include <boost/json/serialize.hpp>

#include <iostream>

namespace admin {

using namespace sourcery;
namespace json = boost::json;

namespace {

std::string number(std::uint64_t n) {
  return cli::grouped(n);
}

std::string tenant_cell(const std::string& t) { return t.empty() ? "(default)" : t; }

/// A stream's state and snapshot, as the engine reads them now.
struct stream_state {
  std::optional<storage::stream_info> info;
  std::optional<version> snapshot; // its version (0 for a versionless stream's)
};

stream_state state_of(storage::engine& e, const stream_entry& s) {
  stream_state out;
  auto streams = e.streams(s.tenant);
  out.info = streams->info(s.stream);
  if (out.info)
    if (auto snap = admin_of(e).snapshot(*streams, s.stream))
      out.snapshot = snap->version.value_or(0);
  return out;
}

json::object record_json(const storage::record& r) {
  json::object o;
  o["position"] = r.position;
  o["tenant"] = r.tenant;
  o["stream"] = stream_json(*r.stream);
  o["version"] = r.version == 0 ? json::value(nullptr) : json::value(r.version);
  o["type"] = r.type;
  o["schema"] = r.schema;
  o["id"] = to_string(r.id);
  o["created"] = timestamp::from_micros(r.created_us).to_string();
  o["data"] = payload_json(r.data);
  o["context"] = payload_json(r.context);
  return o;
}

std::string shortened(std::string_view text, std::size_t at_most = 60) {
  if (text.size() <= at_most)
    return std::string(text);
  return std::string(text.substr(0, at_most - 1)) + "…";
}

} // namespace

int run_info(const common_args& c) {
  auto e = open_store(c.storage, access::read);
  auto& a = admin_of(*e);
  auto s = survey_store(*e);
  std::uint64_t live = 0, snapshots = 0;
  for (const auto& st : s.streams) {
    auto now = state_of(*e, st);
    live += now.info ? 1 : 0;
    snapshots += now.snapshot ? 1 : 0;
  }
  auto counts = e->outbox().counts();
  auto cursors = a.cursors().size();
  auto bytes = a.bytes_on_disk();
  auto format = a.format_version();
  if (c.json) {
    json::object o;
    o["engine"] = e->name();
    o["format_version"] = format;
    o["last_position"] = s.last_position;
    o["tenants"] = s.tenants.size();
    o["streams"] = live;
    o["deleted_streams"] = s.streams.size() - live;
    o["events"] = s.events;
    o["snapshots"] = snapshots;
    o["outbox_pending"] = counts.pending;
    o["outbox_dead"] = counts.dead;
    o["cursors"] = cursors;
    o["bytes_on_disk"] = bytes ? json::value(*bytes) : json::value(nullptr);
    print_json(std::cout, o);
    return ok;
  }
  std::vector<std::vector<std::string>> rows = {
    {"engine", std::string(e->name())},
    {"format version", std::to_string(format)},
    {"last position", number(s.last_position)},
    {"tenants", number(s.tenants.size())},
    {"streams", number(live) + " (" + number(s.streams.size() - live) + " deleted)"},
    {"events", number(s.events)},
    {"snapshots", number(snapshots)},
    {"outbox pending", number(counts.pending)},
    {"outbox dead", number(counts.dead)},
    {"projector cursors", number(cursors)},
    {"size on disk", bytes ? number(*bytes) + " bytes" : "-"},
  };
  for (const auto& r : rows)
    std::cout << r[0] << std::string(19 - r[0].size(), ' ') << r[1] << '\n';
  return ok;
}

int run_tenants(const common_args& c) {
  auto e = open_store(c.storage, access::read);
  auto s = survey_store(*e);
  if (c.json) {
    json::array out;
    for (const auto& [name, t] : s.tenants)
      out.push_back(json::object{{"tenant", name},
                                 {"streams", t.streams},
                                 {"events", t.events},
                                 {"first_position", t.first},
                                 {"last_position", t.last}});
    print_json(std::cout, out);
    return ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, t] : s.tenants)
    rows.push_back({tenant_cell(name), number(t.streams), number(t.events), number(t.first),
                    number(t.last)});
  print_table(std::cout, {"tenant", "streams", "events", "first", "last"}, rows);
  return ok;
}

int run_streams(const common_args& c, const streams_args& a) {
  auto e = open_store(c.storage, access::read);
  auto s = survey_store(*e, a.tenant);
  if (a.tenant && s.tenants.empty())
    throw failure(problem_found, "there is no " + tenant_text(*a.tenant) + " in the store");
  json::array out;
  std::vector<std::vector<std::string>> rows;
  for (const auto& st : s.streams) {
    if (a.category && st.stream.category() != a.category)
      continue;
    auto now = state_of(*e, st);
    std::string version = !now.info                ? "deleted"
                          : now.info->versionless ? "versionless"
                                                  : std::to_string(now.info->current);
    if (c.json) {
      json::object o;
      o["tenant"] = st.tenant;
      o["stream"] = stream_json(st.stream);
      o["deleted"] = !now.info;
      o["versionless"] = now.info && now.info->versionless;
      o["current"] = now.info ? json::value(now.info->current) : json::value(nullptr);
      o["snapshot"] = now.snapshot ? json::value(*now.snapshot) : json::value(nullptr);
      o["events_in_log"] = st.events;
      o["first_position"] = st.first;
      o["last_position"] = st.last;
      out.push_back(std::move(o));
    } else {
      rows.push_back({tenant_cell(st.tenant), stream_text(st.stream), version,
                      now.snapshot ? std::string("v") + std::to_string(*now.snapshot) : "-",
                      number(st.events), number(st.first), number(st.last)});
    }
  }
  if (c.json)
    print_json(std::cout, out);
  else
    print_table(std::cout, {"tenant", "stream", "version", "snapshot", "events", "first", "last"},
                rows);
  return ok;
}

int run_read(const common_args& c, const read_args& a) {
  auto e = open_store(c.storage, access::read);
  auto id = parse_stream(a.stream, a.category);
  auto streams = e->streams(a.tenant);
  auto info = streams->info(id);
  if (!info) {
    auto s = survey_store(*e, a.tenant);
    if (s.tenants.empty())
      throw failure(problem_found, "there is no " + tenant_text(a.tenant) + " in the store");
    for (const auto& st : s.streams)
      if (st.stream == id)
        throw failure(problem_found, "the stream " + stream_text(id) + " of "
                                       + tenant_text(a.tenant) + " was deleted");
    throw failure(problem_found,
                  "there is no stream " + stream_text(id) + " in " + tenant_text(a.tenant)
                    + (a.category ? "" : " (a stream with a category needs --category)"));
  }
  std::optional<version> stop;
  if (a.to)
    stop = *a.to + 1;
  auto r = streams->read(id, a.from, stop);
  // Decrypted with the store's keys, masked where shredded; --raw: as stored.
  std::optional<field_revealer> revealer;
  if (!a.raw) {
    try {
      revealer.emplace(*e->keys(), a.tenant);
    } catch (const invalid_argument&) { // keys the storage does not list: as stored
    }
  }
  auto data_of = [&](std::string_view text) {
    auto v = payload_json(text);
    return revealer ? revealer->reveal(v) : v;
  };
  if (c.json) {
    json::object o;
    o["tenant"] = a.tenant;
    o["stream"] = stream_json(id);
    o["versionless"] = info->versionless;
    o["current"] = info->current;
    if (r.snapshot) {
      json::object snap;
      snap["version"] =
        r.snapshot->version ? json::value(*r.snapshot->version) : json::value(nullptr);
      snap["type"] = r.snapshot->name;
      snap["schema"] = r.snapshot->schema;
      snap["data"] = data_of(r.snapshot->data);
      o["snapshot"] = std::move(snap);
    } else {
      o["snapshot"] = nullptr;
    }
    json::array events;
    for (const auto& rec : r.events.records) {
      auto ev = record_json(rec);
      ev["data"] = data_of(rec.data);
      events.push_back(std::move(ev));
    }
    o["events"] = std::move(events);
    print_json(std::cout, o);
    return ok;
  }
  std::cout << "stream " << stream_text(id) << " of " << tenant_text(a.tenant) << ": "
            << (info->versionless ? std::string("versionless, ") + number(info->current) + " events"
                                  : std::string("version ") + number(info->current))
            << '\n';
  if (r.snapshot)
    std::cout << "snapshot at version " << r.snapshot->version.value_or(0) << ": "
              << r.snapshot->name << ' ' << json::serialize(data_of(r.snapshot->data)) << '\n';
  std::vector<std::vector<std::string>> rows;
  for (const auto& rec : r.events.records)
    rows.push_back({rec.version ? std::to_string(rec.version) : "-", number(rec.position),
                    std::string(rec.type),
                    revealer ? json::serialize(data_of(rec.data)) : std::string(rec.data)});
  print_table(std::cout, {"version", "position", "type", "data"}, rows);
  return ok;
}

int run_log(const common_args& c, const log_args& a) {
  auto e = open_store(c.storage, access::read);
  auto last = e->log().last_position();
  auto from = std::max<position>(a.from, 1);
  auto to = a.limit == 0 || from > last ? from - 1 : std::min<position>(last, from + a.limit - 1);
  json::array out;
  std::vector<std::vector<std::string>> rows;
  for_each_record(e->log(), from, to, [&](const storage::record& r) {
    if (c.json)
      out.push_back(record_json(r));
    else
      rows.push_back({number(r.position), tenant_cell(std::string(r.tenant)),
                      stream_text(*r.stream), r.version ? std::to_string(r.version) : "-",
                      std::string(r.type), shortened(r.data)});
  });
  if (c.json)
    print_json(std::cout, out);
  else
    print_table(std::cout, {"position", "tenant", "stream", "version", "type", "data"}, rows);
  return ok;
}

} // namespace admin
