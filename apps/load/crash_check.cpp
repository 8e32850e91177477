#include "crash_check.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <unordered_map>

namespace harness {

namespace {

/// Where each (tenant, stream) of the scenario sits in a flat table.
class stream_table {
public:
  explicit stream_table(const scenario& sc) : per_tenant_(static_cast<std::uint32_t>(sc.streams_per_tenant)) {
    for (std::uint32_t t = 0; t < sc.tenants; ++t)
      for (std::uint32_t s = 0; s < per_tenant_; ++s) {
        ids_.push_back(sourcery::stream_id::named(crash_stream_name(s), crash_category));
        tenants_.push_back(crash_tenant(t));
        index_.emplace(key(tenants_.back(), ids_.back().id()), ids_.size() - 1);
      }
  }
  /// The slot of a stored record's stream; npos when foreign.
  std::size_t slot_of(std::string_view tenant, const sourcery::stream_id& id) const {
    auto it = index_.find(key(tenant, id.id()));
    return it == index_.end() ? npos : it->second;
  }
  std::size_t slot_of(const crash_message& ack) const { return ack.tenant * per_tenant_ + ack.stream; }
  std::size_t size() const noexcept { return ids_.size(); }
  const sourcery::stream_id& id(std::size_t slot) const { return ids_[slot]; }
  const std::string& tenant(std::size_t slot) const { return tenants_[slot]; }
  std::string describe(std::size_t slot) const {
    return "stream " + ids_[slot].to_string() + " of " + tenants_[slot];
  }
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

private:
  static std::string key(std::string_view tenant, const sourcery::uuid& id) {
    std::string k(tenant);
    k.push_back('\0');
    k.append(reinterpret_cast<const char*>(id.data), id.size());
    return k;
  }
  std::uint32_t per_tenant_;
  std::vector<sourcery::stream_id> ids_;
  std::vector<std::string> tenants_;
  std::unordered_map<std::string, std::size_t> index_;
};

/// A stored event: its stream's slot and version.
struct stored {
  std::uint32_t slot = 0;
  std::uint64_t version = 0;
};

/// A commit as the log holds it.
struct stored_commit {
  sourcery::position first = 0;
  std::uint32_t count = 0, size = 0;
};

class checker {
public:
  checker(sourcery::storage::engine& e, const scenario& sc, const crash_reports& r)
    : engine_(e), streams_(sc), reports_(r) {}

  crash_findings run() {
    read_log();
    check_commits();
    check_streams();
    check_acknowledged();
    check_outbox();
    return std::move(found_);
  }

private:
  void violation(std::string what) {
    if (found_.violations.size() < 20)
      found_.violations.push_back(std::move(what));
  }

  void read_log() {
    auto last = engine_.log().last_position();
    found_.events = last;
    at_.assign(last + 1, stored{});
    positions_.assign(streams_.size(), {});
    for (sourcery::position next = 1; next <= last;) {
      sourcery::storage::record_batch batch;
      engine_.log().read(next - 1, 65'536, batch);
      if (batch.records.empty()) {
        violation("the log ends at position " + std::to_string(next - 1) + ", last_position() says "
                  + std::to_string(last));
        return;
      }
      for (const auto& r : batch.records) {
        if (r.position != next) {
          violation("gap: position " + std::to_string(r.position) + " follows "
                    + std::to_string(next - 1));
          return;
        }
        record(r);
        ++next;
      }
    }
  }

  void record(const sourcery::storage::record& r) {
    auto slot = r.stream ? streams_.slot_of(r.tenant, *r.stream) : stream_table::npos;
    if (slot == stream_table::npos) {
      violation("position " + std::to_string(r.position) + " belongs to no stream the children wrote");
      return;
    }
    auto& positions = positions_[slot];
    positions.push_back(r.position);
    if (r.version != positions.size())
      violation(streams_.describe(slot) + ": position " + std::to_string(r.position) + " has version "
                + std::to_string(r.version) + ", expected " + std::to_string(positions.size()));
    at_[r.position] = {static_cast<std::uint32_t>(slot), r.version};
    crash_event e;
    try {
      auto v = boost::json::parse(r.data).as_object();
      e.commit = v.at("commit").to_number<std::uint64_t>();
      e.index = v.at("index").to_number<std::uint32_t>();
      e.size = v.at("size").to_number<std::uint32_t>();
    } catch (const std::exception& ex) {
      violation("position " + std::to_string(r.position) + ": unreadable event (" + ex.what() + ")");
      return;
    }
    auto [it, fresh] = commits_.try_emplace(e.commit, stored_commit{r.position, 0, e.size});
    auto& c = it->second;
    if (e.index != c.count || r.position != c.first + c.count || e.size != c.size
        || (c.count > 0 && at_[c.first].slot != slot))
      violation("commit " + std::to_string(e.commit) + ": event " + std::to_string(e.index) + " of "
                + std::to_string(e.size) + " at position " + std::to_string(r.position)
                + " is not where the commit's consecutive positions put it");
    ++c.count;
  }

  void check_commits() {
    found_.commits = commits_.size();
    for (const auto& [id, c] : commits_)
      if (c.count != c.size)
        violation("half stored: commit " + std::to_string(id) + " has " + std::to_string(c.count)
                  + " of its " + std::to_string(c.size) + " events (from position "
                  + std::to_string(c.first) + ")");
  }

  void check_streams() {
    for (std::size_t slot = 0; slot < streams_.size(); ++slot) {
      const auto& positions = positions_[slot];
      auto store = engine_.streams(streams_.tenant(slot));
      auto info = store->info(streams_.id(slot));
      std::uint64_t current = info ? info->current : 0;
      if (current != positions.size())
        violation(streams_.describe(slot) + ": its state says version " + std::to_string(current)
                  + ", the log holds " + std::to_string(positions.size()) + " events");
      auto read = store->read(streams_.id(slot), std::nullopt, std::nullopt);
      bool same = read.events.records.size() == positions.size();
      for (std::size_t i = 0; same && i < positions.size(); ++i)
        same = read.events.records[i].position == positions[i]
               && read.events.records[i].version == i + 1;
      if (!same)
        violation(streams_.describe(slot) + ": reading it gives " + std::to_string(read.events.records.size())
                  + " events that differ from its " + std::to_string(positions.size()) + " in the log");
    }
  }

  void check_acknowledged() {
    for (const auto& a : reports_.acknowledged) {
      auto slot = streams_.slot_of(a);
      bool ok = a.last >= a.first && a.last - a.first + 1 == a.events && a.last <= found_.events;
      for (auto p = a.first; ok && p <= a.last; ++p)
        ok = at_[p].slot == slot && at_[p].version == a.version - (a.last - p);
      if (!ok)
        violation("lost: the acknowledged append of positions " + std::to_string(a.first) + ".."
                  + std::to_string(a.last) + " (version " + std::to_string(a.version) + ") to "
                  + streams_.describe(slot) + " is not stored as acknowledged");
    }
  }

  void check_outbox() {
    auto last = found_.events;
    auto counts = engine_.outbox().counts();
    enum : std::uint8_t { none, pending, dead };
    std::vector<std::uint8_t> state(last + 1, none);
    {
      auto claims = engine_.outbox().claim_all(last + 1);
      for (const auto& c : claims)
        mark(state, c.record.position, pending);
      found_.pending = claims.size();
    }
    {
      auto letters = engine_.outbox().dead_letters();
      for (const auto& d : letters)
        mark(state, d.record.position, dead);
      found_.dead = letters.size();
    }
    if (counts.pending != found_.pending || counts.dead != found_.dead)
      violation("outbox counts say " + std::to_string(counts.pending) + " pending, "
                + std::to_string(counts.dead) + " dead; the entries are " + std::to_string(found_.pending)
                + " and " + std::to_string(found_.dead));
    for (auto p : reports_.published)
      if (p > last)
        violation("position " + std::to_string(p) + " was published but is not in the log");
    std::uint64_t missing = 0;
    for (sourcery::position p = 1; p <= last; ++p) {
      if (state[p] != none)
        continue;
      if (reports_.published.count(p)) {
        ++found_.published_only;
      } else if (missing++ == 0) {
        violation("position " + std::to_string(p) + " has no outbox entry and was never published");
      }
    }
    if (missing > 1)
      violation(std::to_string(missing) + " positions in all have no outbox entry");
    if (found_.pending + found_.dead + found_.published_only != last)
      violation("outbox: " + std::to_string(found_.pending) + " pending + " + std::to_string(found_.dead)
                + " dead + " + std::to_string(found_.published_only) + " published != "
                + std::to_string(last) + " events");
  }

  void mark(std::vector<std::uint8_t>& state, sourcery::position p, std::uint8_t s) {
    if (p == 0 || p >= state.size())
      violation("outbox entry at position " + std::to_string(p) + ", outside the log");
    else if (state[p] != 0)
      violation("position " + std::to_string(p) + " has two outbox entries");
    else
      state[p] = s;
  }

  sourcery::storage::engine& engine_;
  stream_table streams_;
  const crash_reports& reports_;
  crash_findings found_;
  std::vector<stored> at_;                               // by position
  std::vector<std::vector<sourcery::position>> positions_; // by stream slot
  std::unordered_map<std::uint64_t, stored_commit> commits_;
};

} // namespace

crash_findings check_crashed_store(sourcery::storage::engine& engine, const scenario& sc,
                                   const crash_reports& reports) {
  return checker(engine, sc, reports).run();
}

} // namespace harness
