#include <sourcery/detail/group_ledger.hpp>
#include <sourcery/errors.hpp>

#include <algorithm>
#include <set>
#include <unordered_set>

namespace sourcery::storage {

namespace {

using clock = std::chrono::steady_clock;

/// A record copied out of the log, so a group's entry owns what it views.
struct owned_record {
  std::string tenant, type, data, context;
  stream_id stream;
  storage::record rec;

  explicit owned_record(const storage::record& r)
    : tenant(r.tenant), type(r.type), data(r.data), context(r.context), stream(*r.stream),
      rec(r) {
    rec.tenant = tenant;
    rec.type = type;
    rec.data = data;
    rec.context = context;
    rec.stream = &stream;
  }
};

using record_ptr = std::shared_ptr<const owned_record>;

enum class entry_state : std::uint8_t { pending, held, backoff };

struct entry {
  record_ptr rec;
  std::uint32_t attempts = 0;
  entry_state state = entry_state::pending;
  std::string member;       // held: whose hands
  clock::time_point until;  // held: lease end; backoff: retry due
  std::string last_error;
};

struct parked_entry {
  record_ptr rec;
  std::uint32_t attempts = 0;
  std::string last_error;
};

std::string stream_key(const storage::record& r) {
  std::string key(r.tenant);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(r.stream->id().data), 16);
  return key;
}

/// The one record at `pos` of the log; throws storage_corrupt when missing.
record_ptr read_at(const storage::log& log, position pos) {
  record_batch b;
  log.read(pos - 1, 1, b);
  if (b.records.empty() || b.records.front().position != pos)
    throw storage_corrupt("subscription group: no record at position " + std::to_string(pos));
  return std::make_shared<const owned_record>(b.records.front());
}

std::chrono::milliseconds backoff(const group_policy& p, std::uint32_t failures) {
  auto d = p.backoff_base;
  for (std::uint32_t i = 1; i < failures && d < p.backoff_cap; ++i)
    d *= 2;
  return std::min(d, p.backoff_cap);
}

/// Records read ahead of the members, at most.
constexpr std::size_t read_ahead = 4096;

} // namespace

struct group_ledger::state {
  group_spec spec;
  position checkpoint = 0; // every record ≤ it is settled
  position frontier = 0;   // the log is read through here
  std::map<position, entry> live;                 // read, not settled
  std::map<position, parked_entry> parked;
  std::map<position, std::uint32_t> restored;     // attempts of records above frontier
  std::set<position> acked_ahead;                 // acked, above the checkpoint
  std::unordered_map<std::uint64_t, std::function<void()>> waiters;

  /// The checkpoint after settling: below the first unsettled record read
  /// after it, or the frontier. Never moves back (a replayed record below
  /// it is kept by the journal instead).
  void advance() {
    auto it = live.upper_bound(checkpoint);
    position next = it == live.end() ? frontier : it->first - 1;
    checkpoint = std::max(checkpoint, next);
    acked_ahead.erase(acked_ahead.begin(), acked_ahead.upper_bound(checkpoint));
  }

  std::vector<group_kept_entry> kept() const {
    std::vector<group_kept_entry> out;
    // Merged in position order: live entries that must survive, and parked.
    std::map<position, group_kept_entry> all;
    for (const auto& [pos, e] : live)
      if (e.attempts > 0 || pos <= checkpoint)
        all[pos] = group_kept_entry{pos, e.attempts, false, false, e.last_error};
    for (const auto& [pos, p] : parked)
      all[pos] = group_kept_entry{pos, p.attempts, true, false, p.last_error};
    for (const auto& [pos, a] : restored)
      all.emplace(pos, group_kept_entry{pos, a, false, false, {}});
    for (auto pos : acked_ahead)
      all.emplace(pos, group_kept_entry{pos, 0, false, true, {}});
    out.reserve(all.size());
    for (auto& [pos, k] : all)
      out.push_back(std::move(k));
    return out;
  }

  /// Leases and backoffs that ran out by `now` make their records pending.
  void expire(clock::time_point now) {
    for (auto& [pos, e] : live)
      if (e.state != entry_state::pending && e.until <= now) {
        e.state = entry_state::pending;
        e.member.clear();
      }
  }

  /// Reads the log after the frontier, keeping what `accept` takes.
  void read_more(const storage::log& log, const record_filter& accept) {
    while (live.size() < read_ahead && frontier < log.last_position()) {
      record_batch b;
      log.read(frontier, read_ahead - live.size(), b);
      if (b.records.empty())
        break;
      for (const auto& r : b.records) {
        auto was = restored.find(r.position);
        std::uint32_t attempts = 0;
        if (was != restored.end()) {
          attempts = was->second;
          restored.erase(was);
        }
        if (!acked_ahead.contains(r.position) && !parked.contains(r.position)
            && (!accept || accept(r)))
          live.emplace(r.position,
                       entry{std::make_shared<const owned_record>(r), attempts, {}, {}, {}, {}});
        frontier = r.position;
      }
    }
  }

  /// Runs and drops the change wake-ups (their callers hold no lock of ours).
  std::vector<std::function<void()>> take_waiters() {
    std::vector<std::function<void()>> out;
    for (auto& [id, w] : waiters)
      out.push_back(std::move(w));
    waiters.clear();
    return out;
  }

  entry& held_by(const std::string& member, position pos) {
    auto it = live.find(pos);
    if (it == live.end() || it->second.state != entry_state::held || it->second.member != member)
      throw record_not_held("subscription group '" + spec.name + "': member '" + member
                            + "' does not hold the record at position " + std::to_string(pos));
    return it->second;
  }
};

namespace {
void run(std::vector<std::function<void()>> wakes) {
  for (auto& w : wakes)
    w();
}

void check_policy(const group_policy& p) {
  if (p.attempts == 0)
    throw invalid_argument("a subscription group needs at least 1 attempt");
  if (p.lease.count() < 1)
    throw invalid_argument("a subscription group's lease must be at least 1 ms");
}
} // namespace

group_ledger::group_ledger(const storage::log& log, group_journal* journal)
  : log_(log), journal_(journal) {}

group_ledger::~group_ledger() = default;

group_ledger::state& group_ledger::find(const std::string& group) const {
  auto it = groups_.find(group);
  if (it == groups_.end())
    throw unknown_group("no subscription group named '" + group + "'");
  return *it->second;
}

void group_ledger::save(state& g) {
  if (journal_) {
    auto kept = g.kept();
    journal_->save(g.spec, g.checkpoint, kept);
  }
}

void group_ledger::restore(const group_spec& spec, position checkpoint,
                           std::vector<group_kept_entry> kept) {
  std::lock_guard lock(mutex_);
  auto g = std::make_unique<state>();
  g->spec = spec;
  g->checkpoint = g->frontier = checkpoint;
  for (auto& k : kept) {
    if (k.acked)
      g->acked_ahead.insert(k.pos);
    else if (k.parked)
      g->parked.emplace(k.pos, parked_entry{read_at(log_, k.pos), k.attempts, k.last_error});
    else if (k.pos <= checkpoint) // replayed, not settled again
      g->live.emplace(k.pos, entry{read_at(log_, k.pos), k.attempts, {}, {}, {}, k.last_error});
    else
      g->restored.emplace(k.pos, k.attempts);
  }
  groups_[spec.name] = std::move(g);
}

void group_ledger::open(const group_spec& spec) {
  if (spec.name.empty())
    throw invalid_argument("a subscription group needs a name");
  std::lock_guard lock(mutex_);
  auto it = groups_.find(spec.name);
  if (it != groups_.end()) {
    if (it->second->spec.per_stream_order != spec.per_stream_order)
      throw invalid_argument("subscription group '" + spec.name
                             + "' exists with another per-stream order setting");
    return;
  }
  auto g = std::make_unique<state>();
  g->spec = spec;
  g->checkpoint = g->frontier = spec.start;
  save(*g);
  groups_.emplace(spec.name, std::move(g));
}

std::vector<std::string> group_ledger::groups() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, g] : groups_)
    out.push_back(name);
  return out;
}

std::vector<group_claim> group_ledger::claim(const std::string& group, const std::string& member,
                                             std::size_t limit, const record_filter& accept,
                                             const group_policy& policy) {
  check_policy(policy);
  std::lock_guard lock(mutex_);
  auto& g = find(group);
  auto now = clock::now();
  g.expire(now);
  auto before = g.checkpoint;
  g.read_more(log_, accept);
  g.advance();
  std::vector<group_claim> out;
  std::unordered_set<std::string> blocked; // streams with an earlier unsettled record
  for (auto& [pos, e] : g.live) {
    if (e.state == entry_state::held && e.member == member)
      e.until = now + policy.lease; // renewed
    std::string key;
    if (g.spec.per_stream_order) {
      key = stream_key(e.rec->rec);
      if (!blocked.insert(key).second)
        continue;
    }
    if (e.state != entry_state::pending || out.size() >= limit)
      continue;
    e.state = entry_state::held;
    e.member = member;
    e.until = now + policy.lease;
    out.push_back(group_claim{e.rec->rec, e.attempts, e.rec});
  }
  if (g.checkpoint != before)
    save(g);
  return out;
}

void group_ledger::ack(const std::string& group, const std::string& member, position pos) {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard lock(mutex_);
    auto& g = find(group);
    g.held_by(member, pos);
    auto node = g.live.extract(pos);
    auto before = g.checkpoint;
    auto was_ahead = g.acked_ahead;
    g.advance();
    if (pos > g.checkpoint)
      g.acked_ahead.insert(pos);
    try {
      save(g);
    } catch (...) {
      g.checkpoint = before;
      g.acked_ahead = std::move(was_ahead);
      g.live.insert(std::move(node));
      throw;
    }
    wakes = g.take_waiters(); // a stream freed, or room to read further
  }
  run(std::move(wakes));
}

nack_outcome group_ledger::nack(const std::string& group, const std::string& member,
                                position pos, const std::string& error,
                                const group_policy& policy) {
  check_policy(policy);
  std::lock_guard lock(mutex_);
  auto& g = find(group);
  auto& e = g.held_by(member, pos);
  auto was = e;
  auto before = g.checkpoint;
  ++e.attempts;
  e.last_error = error;
  e.member.clear();
  nack_outcome outcome = nack_outcome::retry;
  if (e.attempts >= policy.attempts) {
    g.parked.emplace(pos, parked_entry{e.rec, e.attempts, error});
    g.live.erase(pos);
    g.advance();
    outcome = nack_outcome::parked;
  } else {
    e.state = entry_state::backoff;
    e.until = clock::now() + backoff(policy, e.attempts);
  }
  try {
    save(g);
  } catch (...) {
    g.parked.erase(pos);
    g.live[pos] = std::move(was);
    g.checkpoint = before;
    throw;
  }
  return outcome;
}

void group_ledger::renew(const std::string& group, const std::string& member,
                         const group_policy& policy) {
  check_policy(policy);
  std::lock_guard lock(mutex_);
  auto& g = find(group);
  auto until = clock::now() + policy.lease;
  for (auto& [pos, e] : g.live)
    if (e.state == entry_state::held && e.member == member)
      e.until = until;
}

void group_ledger::leave(const std::string& group, const std::string& member) {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard lock(mutex_);
    auto& g = find(group);
    bool freed = false;
    for (auto& [pos, e] : g.live)
      if (e.state == entry_state::held && e.member == member) {
        e.state = entry_state::pending;
        e.member.clear();
        freed = true;
      }
    if (freed)
      wakes = g.take_waiters();
  }
  run(std::move(wakes));
}

group_status group_ledger::status(const std::string& group) const {
  std::lock_guard lock(mutex_);
  const auto& g = find(group);
  group_status s;
  s.checkpoint = g.checkpoint;
  for (const auto& [pos, e] : g.live)
    (e.state == entry_state::held ? s.in_hand : s.waiting) += 1;
  s.parked = g.parked.size();
  return s;
}

std::vector<parked_record> group_ledger::parked(const std::string& group) const {
  std::lock_guard lock(mutex_);
  const auto& g = find(group);
  std::vector<parked_record> out;
  for (const auto& [pos, p] : g.parked)
    out.push_back(parked_record{p.rec->rec, p.attempts, p.last_error, p.rec});
  return out;
}

std::size_t group_ledger::replay(const std::string& group, std::optional<position> at) {
  std::vector<std::function<void()>> wakes;
  std::size_t moved = 0;
  {
    std::lock_guard lock(mutex_);
    auto& g = find(group);
    auto was_parked = g.parked;
    auto was_live = g.live;
    for (auto it = g.parked.begin(); it != g.parked.end();) {
      if (at && it->first != *at) {
        ++it;
        continue;
      }
      g.live[it->first] = entry{it->second.rec, 0, {}, {}, {}, it->second.last_error};
      it = g.parked.erase(it);
      ++moved;
    }
    if (moved == 0)
      return 0;
    try {
      save(g);
    } catch (...) {
      g.parked = std::move(was_parked);
      g.live = std::move(was_live);
      throw;
    }
    wakes = g.take_waiters();
  }
  run(std::move(wakes));
  return moved;
}

std::size_t group_ledger::purge(const std::string& group, std::optional<position> at) {
  std::lock_guard lock(mutex_);
  auto& g = find(group);
  auto was = g.parked;
  std::size_t n = at ? g.parked.erase(*at) : std::exchange(g.parked, {}).size();
  if (n == 0)
    return 0;
  try {
    save(g);
  } catch (...) {
    g.parked = std::move(was);
    throw;
  }
  return n;
}

std::optional<std::chrono::milliseconds> group_ledger::next_due(const std::string& group) const {
  std::lock_guard lock(mutex_);
  const auto& g = find(group);
  std::optional<clock::time_point> first;
  for (const auto& [pos, e] : g.live)
    if (e.state != entry_state::pending && (!first || e.until < *first))
      first = e.until;
  if (!first)
    return std::nullopt;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*first - clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

std::uint64_t group_ledger::notify_change(const std::string& group,
                                          std::function<void()> changed) {
  std::lock_guard lock(mutex_);
  auto& g = find(group);
  auto id = ++next_wake_;
  g.waiters.emplace(id, std::move(changed));
  return id;
}

void group_ledger::cancel_wake(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  for (auto& [name, g] : groups_)
    if (g->waiters.erase(id) > 0)
      return;
}

} // namespace sourcery::storage
