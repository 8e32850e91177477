#include "writers.hpp"

#include "domain.hpp"

#include <exception>
#include <random>

namespace harness {

std::string padding(std::int64_t payload_bytes) {
  // {"seq":123456,"payload":"…"} — the JSON around the padding is ~26 bytes.
  return std::string(static_cast<std::size_t>(std::max<std::int64_t>(1, payload_bytes - 26)), 'x');
}

void run_writer(run_state& st, std::size_t w, std::int64_t quota) {
  const auto& sc = st.sc;
  auto& streams = st.streams_of_writer[w];
  writer_progress progress;
  std::mt19937_64 rng(w + 1);
  std::uniform_real_distribution<double> unit(0, 1);
  auto pad = padding(sc.payload_bytes);
  std::int64_t submitted = 0;
  std::size_t next = 0;
  bool half_reported = false;
  auto report_half = [&] {
    // The first half's appends are all complete: shredding may begin.
    std::unique_lock lock(progress.m);
    progress.cv.wait(lock, [&] { return progress.in_flight == 0; });
    st.first_half_done.count_down();
    half_reported = true;
  };
  auto out_of_time = [&] {
    return sc.seconds > 0
           && std::chrono::steady_clock::now() - st.start > std::chrono::duration<double>(sc.seconds);
  };
  while ((quota == 0 || submitted < quota) && !st.stop && !out_of_time()) {
    if (!half_reported && quota > 0 && submitted >= quota / 2)
      report_half();
    {
      std::unique_lock lock(progress.m);
      progress.cv.wait(lock, [&] { return progress.in_flight < sc.in_flight; });
      ++progress.in_flight;
    }
    auto& slot = streams[next++ % streams.size()];
    auto n = quota == 0 ? sc.batch : std::min<std::int64_t>(sc.batch, quota - submitted);
    std::vector<sourcery::wrapped_event<>> events;
    events.reserve(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      auto seq = static_cast<std::int64_t>(slot.submitted) + i + 1;
      if (sc.encrypted_share > 0 && unit(rng) < sc.encrypted_share) {
        // After the first half, subjects to be shredded are no longer used.
        auto lo = half_reported ? st.shred_count : 0;
        std::uniform_int_distribution<std::int64_t> pick(lo, std::max(lo, sc.subjects - 1));
        auto subject = "user-" + std::to_string(pick(rng));
        events.push_back(sourcery::wrap(
          profile_updated{subject, email_of(subject), "+1-555-0100", "1 Main St", seq}));
      } else {
        events.push_back(sourcery::wrap(order_placed{seq, pad}));
      }
    }
    auto expected = slot.submitted;
    slot.submitted += static_cast<std::uint64_t>(n);
    submitted += n;
    auto t0 = std::chrono::steady_clock::now();
    st.stores[slot.tenant].append_async(
      slot.id, std::move(events), expected,
      [&st, &progress, t0, n](sourcery::result<sourcery::append_receipt> r) {
        auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                    .count();
        if (r) {
          st.append_latency.record(us);
          st.committed += static_cast<std::uint64_t>(n);
          ++st.appends;
        } else {
          ++st.failed_appends;
          try {
            std::rethrow_exception(r.exception());
          } catch (const std::exception& e) {
            st.error(std::string("append failed: ") + e.what());
          }
        }
        std::lock_guard lock(progress.m);
        --progress.in_flight;
        progress.cv.notify_all();
      });
  }
  std::unique_lock lock(progress.m);
  progress.cv.wait(lock, [&] { return progress.in_flight == 0; });
  lock.unlock();
  if (!half_reported)
    st.first_half_done.count_down();
}

} // namespace harness
