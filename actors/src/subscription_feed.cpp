#include "subscription_feed.hpp"

#include "callback_pool.hpp"
#include "decode_cache.hpp"
#include "runtime_metrics.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <chrono>

namespace sourcery::detail {

namespace {

struct callback_line;

} // namespace

bool accepts(const subscription_filter& filter, const event_registry& registry,
             const storage::record& r) {
  if (filter.tenant && r.tenant != *filter.tenant)
    return false;
  if (filter.category && r.stream->category() != filter.category)
    return false;
  if (filter.event_types.empty())
    return true;
  const auto* type = registry.find(r.type);
  return type
         && std::find(filter.event_types.begin(), filter.event_types.end(), type->type)
              != filter.event_types.end();
}

namespace {

struct feed_state {
  feed_source source{};
  std::optional<decode_cache::reader> reading; // of source.decodes, while the feed lives
  subscription_filter filter;
  position cursor = 0;        // last position read
  std::uint64_t waiter = 0;   // the registered wake-up, 0 = none

  // Pull.
  std::optional<fetch_job> pending;
  storage::record_batch got;

  // Push.
  push_target target;
  std::shared_ptr<push_progress> progress;
  std::size_t in_flight = 0; // actor consumer: records sent, not answered
  std::shared_ptr<const callback_line> line; // callback consumer
  bool handing_over = false; // callback consumer: a job is on the pool
  std::chrono::milliseconds unavailable_backoff{0}; // 0 = the last read worked

  feed_state() = default;
  feed_state(const feed_state&) = delete;
  ~feed_state() {
    // A stopped feed leaves no wake-up behind in the log.
    if (waiter != 0)
      source.log->cancel(waiter);
  }

  bool matches(const storage::record& r) const {
    return accepts(filter, source.decodes->codec().registry(), r);
  }

  /// Reads committed records after the cursor into `out`, keeping matches,
  /// until `out` holds `max` or the log's end is reached.
  void scan(storage::record_batch& out, std::size_t max) {
    storage::record_batch chunk;
    // Durable engines: the memory of what `out` holds from earlier scans
    // stays owned; each read adds its own to it.
    chunk.owner = out.owner;
    while (out.records.size() < max && cursor < source.log->last_position()) {
      chunk.records.clear();
      source.log->read(cursor, std::max<std::size_t>(max - out.records.size(), 256), chunk);
      if (chunk.records.empty())
        return;
      // Before the loop, which may return early with views into this chunk
      // already in `out`.
      out.owner = chunk.owner;
      for (const auto& r : chunk.records) {
        if (out.records.size() >= max)
          return;
        cursor = r.position;
        if (matches(r))
          out.records.push_back(r);
      }
    }
  }
};

using self_ptr = feed_actor::stateful_pointer<feed_state>;

/// Asks the log for one wake-up message once it passes the cursor.
void arm(self_ptr self) {
  auto& st = self->state;
  if (st.waiter != 0)
    return;
  // A weak reference: a waiting wake-up must not keep a stopped feed alive.
  auto me = caf::actor_cast<caf::weak_actor_ptr>(self);
  st.waiter = st.source.log->notify_after(st.cursor, [me] {
    if (auto strong = me.lock())
      caf::anon_send(caf::actor_cast<feed_actor>(std::move(strong)), wake_atom::value);
  });
}

// -- pull ---------------------------------------------------------------------

/// Answers the pending fetch with what `got` holds. While the puller decodes
/// it, the feed reads on — one more fetch's worth at most (every fetch of a
/// feed asks for the same `max`), only what is committed already — so
/// catching up, reading and decoding overlap.
void complete_fetch(self_ptr self) {
  auto& st = self->state;
  auto max = st.pending->max;
  auto done = std::move(st.pending->done);
  st.pending.reset();
  fetch_answer answer{std::move(st.got), st.cursor >= st.source.log->last_position()};
  st.got = {};
  if (const auto& m = st.source.meter) { // everything up to the cursor is handed over
    m->delivered.add(answer.batch.records.size());
    m->reached(st.cursor);
  }
  done(std::move(answer));
  try {
    st.scan(st.got, max);
  } catch (...) { // the next fetch reads there again and reports it (scan_for_fetch)
  }
}

/// Scans for the pending fetch; false when a read failed and the fetch was
/// answered with its error (storage_corrupt, storage_unavailable). Records
/// read before the failure are delivered first; the cursor stays at the
/// failed read, so the next fetch meets it again.
bool scan_for_fetch(self_ptr self) {
  auto& st = self->state;
  std::exception_ptr error;
  try {
    st.scan(st.got, st.pending->max);
    return true;
  } catch (...) {
    // Handed over after the catch block: the exception's handler reference
    // is released here first, not while the puller reads it.
    error = std::current_exception();
  }
  if (!st.got.records.empty()) {
    complete_fetch(self);
    return false;
  }
  auto done = std::move(st.pending->done);
  st.pending.reset();
  done(std::move(error));
  return false;
}

void fill(self_ptr self) {
  auto& st = self->state;
  if (!st.pending || !scan_for_fetch(self))
    return;
  if (st.got.records.size() >= st.pending->max
      || (!st.pending->wait_for_all && !st.got.records.empty()))
    complete_fetch(self);
  else
    arm(self);
}

// -- push ---------------------------------------------------------------------

/// Decodes what it can, through the runtime's decode cache (one decode per
/// record for every subscription that reads it, R-SUB-DECODE-ONCE); a
/// record that cannot be decoded is skipped and reported in
/// `progress.undecodable` (R-E3: it never hides the others).
/// @pre the caller holds progress.delivering.
std::vector<recorded_event> decode_all(const feed_source& source, push_progress& progress,
                                       const std::vector<storage::record>& recs) {
  std::vector<recorded_event> out;
  out.reserve(recs.size());
  for (const auto& r : recs) {
    try {
      out.push_back(source.decodes->decode(r));
    } catch (...) {
      if (source.meter)
        source.meter->undecodable.add();
      auto& bad = progress.undecodable;
      if (bad.size() >= 64)
        bad.erase(bad.begin());
      bad.emplace_back(r.position, std::current_exception());
    }
  }
  return out;
}

/// Stops the feed with `e`. @pre the caller holds progress->delivering.
void fail(self_ptr self, std::exception_ptr e) {
  auto& p = *self->state.progress;
  p.error = std::move(e);
  p.stopped = true;
  self->quit(caf::exit_reason::user_shutdown);
}

void fail_unlocked(self_ptr self, std::exception_ptr e) {
  std::lock_guard lock(self->state.progress->delivering);
  fail(self, std::move(e));
}

/// Scans for a push delivery. A read that fails after others in the same
/// scan succeeded leaves records the cursor has passed: they are delivered,
/// and the next scan meets the failure again. Throws only when nothing was
/// read.
void scan_to_push(feed_state& st, storage::record_batch& recs, std::size_t max) {
  try {
    st.scan(recs, max);
  } catch (...) {
    if (recs.records.empty())
      throw;
  }
}

/// What a callback consumer's jobs share: the user's callbacks and where
/// they report. Read only, on the pool's threads, one job at a time.
struct callback_line {
  batch_handler handler;
  std::function<void()> on_caught_up;
  feed_source source;
  std::shared_ptr<push_progress> progress;
};

/// On a pool thread: decodes `recs` and calls the handler, unless the
/// subscription stopped meanwhile. A handler that throws stops its
/// subscription with the exception (its feed quits on handled_atom).
void run_batch(const callback_line& line, const storage::record_batch& recs, position cursor) {
  auto& p = *line.progress;
  std::size_t handed = 0;
  {
    std::lock_guard lock(p.delivering);
    if (p.stopped)
      return;
    p.delivering_thread = std::this_thread::get_id();
    try {
      auto batch = decode_all(line.source, p, recs.records);
      handed = batch.size();
      if (!batch.empty())
        line.handler(batch);
    } catch (...) {
      p.error = std::current_exception();
      p.stopped = true;
    }
    p.delivering_thread = std::thread::id{};
    if (p.error)
      return;
    p.delivered.store(recs.records.back().position, std::memory_order_release);
    // Counted before `delivering` is let go: a stop() that waited for this
    // batch sees it in the metrics (R-MET).
    if (const auto& m = line.source.meter) {
      m->delivered.add(handed);
      m->reached(cursor);
    }
  }
}

/// On a pool thread: the optional on_caught_up callback, as run_batch.
void run_caught_up(const callback_line& line) {
  auto& p = *line.progress;
  std::lock_guard lock(p.delivering);
  if (p.stopped)
    return;
  p.delivering_thread = std::this_thread::get_id();
  try {
    line.on_caught_up();
  } catch (...) {
    p.error = std::current_exception();
    p.stopped = true;
  }
  p.delivering_thread = std::thread::id{};
}

/// Hands `work` to the pool; the job answers handled_atom when it is done,
/// and until then the feed reads nothing (one job per feed at a time).
template <class Work>
void hand_over(self_ptr self, Work work) {
  auto& st = self->state;
  st.handing_over = true;
  auto job = [me = caf::actor_cast<feed_actor>(self), work = std::move(work)] {
    work();
    caf::anon_send(me, handled_atom::value);
  };
  if (!st.target.pool->submit(std::move(job))) // the runtime is stopping
    self->quit(caf::exit_reason::user_shutdown);
}

/// Marks the push feed caught up; true the first time.
bool mark_caught_up(push_progress& p) {
  if (p.caught_up.load(std::memory_order_acquire))
    return false;
  {
    std::lock_guard lock(p.delivering); // free: nothing of this feed is in flight
    p.caught_up.store(true, std::memory_order_release);
  }
  p.caught_up_changed.notify_all();
  return true;
}

/// Callback consumer: the next batch goes to the pool once the previous
/// one's handler returned.
void deliver_to_callback(self_ptr self) {
  auto& st = self->state;
  if (st.handing_over)
    return;
  storage::record_batch recs;
  scan_to_push(st, recs, st.target.max_batch);
  if (!recs.records.empty()) {
    hand_over(self, [line = st.line, recs = std::move(recs), cursor = st.cursor] {
      run_batch(*line, recs, cursor);
    });
    return;
  }
  if (st.source.meter) // caught up: what the filter skipped counts as seen
    st.source.meter->reached(st.cursor);
  if (mark_caught_up(*st.progress) && st.line->on_caught_up) {
    hand_over(self, [line = st.line] { run_caught_up(*line); });
    return;
  }
  arm(self);
}

void pump(self_ptr self);

/// Actor consumer: keeps up to `buffer` records in flight.
void deliver_to_actor(self_ptr self) {
  auto& st = self->state;
  while (st.in_flight < st.target.buffer) {
    storage::record_batch recs;
    scan_to_push(st, recs, std::min(st.target.max_batch, st.target.buffer - st.in_flight));
    if (recs.records.empty()) {
      if (st.in_flight == 0) { // caught up and every batch answered
        if (st.source.meter)
          st.source.meter->reached(st.cursor);
        mark_caught_up(*st.progress);
      }
      arm(self);
      return;
    }
    std::vector<recorded_event> batch;
    {
      std::lock_guard lock(st.progress->delivering);
      batch = decode_all(st.source, *st.progress, recs.records);
    }
    auto last = recs.records.back().position;
    if (batch.empty()) {
      st.progress->delivered.store(std::max(st.progress->delivered.load(), last));
      if (st.source.meter && st.in_flight == 0)
        st.source.meter->reached(last);
      continue;
    }
    auto n = batch.size();
    st.in_flight += n;
    self->request(st.target.consumer, caf::infinite, records_atom::value, std::move(batch))
      .then(
        [self, n, last] {
          auto& st = self->state;
          st.in_flight -= n;
          st.progress->delivered.store(std::max(st.progress->delivered.load(), last));
          if (const auto& m = st.source.meter) {
            m->delivered.add(n);
            m->reached(last);
          }
          pump(self);
        },
        [self](caf::error& err) {
          fail_unlocked(self, std::make_exception_ptr(listener_failed(
                                "push consumer actor failed: " + self->system().render(err))));
        });
  }
}

/// Delivers what there is. A read that fails because the storage cannot be
/// reached (`storage_unavailable`: a lost server, a failover in progress,
/// R-ST6) is tried again from the cursor after a backoff — 50 ms, doubling
/// to 1 s — so the feed resumes by itself where it stopped (R-N5), nothing skipped
/// or repeated. Any other failure stops the feed with its error.
void pump(self_ptr self) {
  auto& st = self->state;
  try {
    if (st.line)
      deliver_to_callback(self);
    else
      deliver_to_actor(self);
    st.unavailable_backoff = std::chrono::milliseconds(0);
  } catch (const storage_unavailable&) {
    using std::chrono::milliseconds;
    st.unavailable_backoff = st.unavailable_backoff.count() == 0
                               ? milliseconds(50)
                               : std::min(st.unavailable_backoff * 2, milliseconds(1000));
    self->delayed_send(self, st.unavailable_backoff, pump_atom::value);
  } catch (...) {
    fail_unlocked(self, std::current_exception());
  }
}

} // namespace

feed::~feed() {
  stop();
}

void feed::stop() {
  if (progress) {
    progress->stopped = true;
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    // Wait for a batch in progress, unless this is its handler stopping it.
    if (progress->delivering_thread.load() != std::this_thread::get_id())
      std::lock_guard wait_for_batch(progress->delivering);
    progress->caught_up_changed.notify_all(); // wait_caught_up() returns
  } else {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  }
}

feed_actor spawn_pull_feed(caf::actor_system& system, feed_source source,
                           subscription_filter filter, position start) {
  auto behavior = [](self_ptr self, feed_source source, subscription_filter filter,
                     position start) -> feed_actor::behavior_type {
    auto& st = self->state;
    st.source = source;
    st.reading.emplace(source.decodes);
    st.filter = std::move(filter);
    st.cursor = start;
    return {
      [self](fetch_atom, fetch_job& job) {
        self->state.pending = std::move(job);
        fill(self);
      },
      [self](wake_atom) {
        self->state.waiter = 0;
        fill(self);
      },
      [self](timeout_atom, std::uint64_t id) {
        auto& st = self->state;
        if (st.pending && id == st.pending->id && scan_for_fetch(self)) // what was committed
          complete_fetch(self);                                           // before the deadline
      },
      [](pump_atom) {},
      [](handled_atom) {},
    };
  };
  return system.spawn(behavior, source, std::move(filter), start);
}

feed_actor spawn_push_feed(caf::actor_system& system, feed_source source,
                           subscription_filter filter, position start, push_target target,
                           std::shared_ptr<push_progress> progress) {
  auto behavior = [](self_ptr self, feed_source source, subscription_filter filter,
                     position start, push_target target,
                     std::shared_ptr<push_progress> progress) -> feed_actor::behavior_type {
    auto& st = self->state;
    st.source = source;
    st.reading.emplace(source.decodes);
    st.filter = std::move(filter);
    st.cursor = start;
    st.target = std::move(target);
    st.progress = std::move(progress);
    if (st.target.handler) {
      st.line = std::make_shared<const callback_line>(
        callback_line{std::move(st.target.handler), std::move(st.target.on_caught_up), source,
                      st.progress});
      st.target.handler = nullptr;
      st.target.on_caught_up = nullptr;
    }
    self->send(self, pump_atom::value);
    return {
      [](fetch_atom, fetch_job& job) {
        job.done(std::make_exception_ptr(invalid_argument("a push subscription cannot be pulled")));
      },
      [self](wake_atom) {
        self->state.waiter = 0;
        pump(self);
      },
      [](timeout_atom, std::uint64_t) {},
      [self](pump_atom) { pump(self); },
      [self](handled_atom) {
        auto& st = self->state;
        st.handing_over = false;
        if (st.progress->stopped) // stopped, or the handler threw
          self->quit(caf::exit_reason::user_shutdown);
        else
          pump(self);
      },
    };
  };
  // Every feed is an event-based actor on CAF's workers; a callback
  // consumer's user code runs on the runtime's callback pool instead.
  return system.spawn(behavior, source, std::move(filter), start, std::move(target),
                      std::move(progress));
}

} // namespace sourcery::detail
