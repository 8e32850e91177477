#include "stream_check.hpp"

#include "domain.hpp"

#include <condition_variable>
#include <mutex>
#include <string>

namespace harness {

check verify_streams(std::vector<sourcery::event_store>& stores,
                     const std::vector<std::vector<stream_slot>>& streams_of_writer,
                     std::int64_t shred_count, std::size_t& masked_seen, std::size_t& clear_seen) {
  // Load every stream (asynchronously, many at once) and check versions 1..n.
  std::mutex m;
  std::condition_variable cv;
  std::size_t pending = 0, bad = 0, checked = 0;
  std::string first_bad;
  std::vector<const stream_slot*> all;
  for (const auto& per_writer : streams_of_writer)
    for (const auto& s : per_writer)
      if (s.submitted > 0)
        all.push_back(&s);
  for (const auto* s : all) {
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return pending < 256; });
      ++pending;
    }
    stores[s->tenant].load_stream_async(
      s->id, std::nullopt, std::nullopt,
      [&, s](sourcery::result<std::vector<sourcery::wrapped_event<>>> r) {
        std::string problem;
        std::size_t masked_here = 0, clear_here = 0;
        if (!r) {
          try {
            std::rethrow_exception(r.exception());
          } catch (const std::exception& e) {
            problem = e.what();
          }
        } else {
          const auto& events = r.value();
          if (events.size() != s->submitted)
            problem = "holds " + std::to_string(events.size()) + " events, expected "
                      + std::to_string(s->submitted);
          for (std::size_t i = 0; problem.empty() && i < events.size(); ++i) {
            if (events[i].version != std::optional<sourcery::version>(i + 1))
              problem = "hole: event " + std::to_string(i) + " has version "
                        + (events[i].version ? std::to_string(*events[i].version) : "none");
            if (const auto* p = events[i].event.get_if<profile_updated>()) {
              auto k = std::stoll(p->subject.substr(5));
              bool shredded = k < shred_count;
              if (p->email == masked && p->phone == masked && p->address == masked)
                ++masked_here;
              else if (p->email == email_of(p->subject))
                ++clear_here;
              if (shredded != (p->email == masked))
                problem = "subject " + p->subject + (shredded ? " was shredded but its email reads '"
                                                              : " was not shredded but its email reads '")
                          + p->email + "'";
            }
          }
        }
        std::lock_guard lock(m);
        --pending;
        ++checked;
        masked_seen += masked_here;
        clear_seen += clear_here;
        if (!problem.empty() && bad++ == 0)
          first_bad = "stream " + s->id.to_string() + " of tenant '" + stores[s->tenant].tenant_id()
                      + "': " + problem;
        cv.notify_all();
      });
  }
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return pending == 0; });
  return {"every stream holds versions 1..n without holes", bad == 0,
          bad == 0 ? std::to_string(checked) + " streams"
                   : std::to_string(bad) + " of " + std::to_string(checked) + " streams wrong; first: " + first_bad};
}

} // namespace harness
