#include "runtime_metrics.hpp"

#include "tenant_directory.hpp"

#include <algorithm>
#include <unordered_map>

namespace sourcery::detail {

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void add(metric_family& f, metric_labels labels, double value) {
  f.samples.push_back(metric_sample{std::move(labels), value, std::nullopt});
}

} // namespace

void runtime_metrics::refused(const std::exception_ptr& error) noexcept {
  std::size_t code = 0;
  try {
    std::rethrow_exception(error);
  } catch (const sourcery::error& e) {
    code = static_cast<std::size_t>(e.code());
  } catch (...) {
  }
  refused_[code < refused_.size() ? code : 0].add();
}

void runtime_metrics::published(std::int64_t created_us) noexcept {
  if (!sample_latency())
    return;
  publish_latency_.observe(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_us() - created_us)));
}

std::shared_ptr<subscription_meter> runtime_metrics::subscription(std::optional<std::string> name) {
  std::lock_guard lock(subscriptions_mutex_);
  ++started_;
  if (started_ % 1024 == 0) // stopped subscriptions leave their meters: drop them now and then
    std::erase_if(subscriptions_, [](const auto& entry) { return entry.second.expired(); });
  // Series need distinct labels: a name in use by a running subscription
  // gets a suffix ("billing-2").
  std::string label = name ? *name : "subscription-" + std::to_string(started_);
  for (std::size_t k = 2;; ++k) {
    auto it = subscriptions_.find(label);
    if (it == subscriptions_.end() || it->second.expired())
      break;
    label = *name + "-" + std::to_string(k);
  }
  auto meter = std::make_shared<subscription_meter>(label);
  subscriptions_[label] = meter;
  return meter;
}

metrics_snapshot runtime_metrics::snapshot(const runtime_metrics* m, const sources& from) {
  metrics_snapshot out;
  auto& fs = out.families;
  auto& log = from.engine.log();
  auto last = log.last_position();

  // Appends.
  if (m) {
  fs.push_back(single("sourcery_appends_total", "Appends committed (each one or more events)",
                      metric_type::counter, static_cast<double>(m->appends_.value())));
  fs.push_back(single("sourcery_events_committed_total", "Events committed by appends",
                      metric_type::counter, static_cast<double>(m->events_committed_.value())));
  fs.push_back(single("sourcery_append_duration_seconds",
                      "Time from an append's call to the engine's outcome (committed appends, "
                      "one in 16 timed per calling thread)",
                      m->append_latency_));
  {
    auto f = family("sourcery_appends_refused_total",
                      "Appends that stored nothing, by error code", metric_type::counter);
    for (std::size_t code = 0; code < m->refused_.size(); ++code) {
      auto n = m->refused_[code].value();
      auto name = code == 0 ? std::string("other") : std::string(to_string(static_cast<errc>(code)));
      // The codes alerts and dashboards watch are always there, also at 0.
      if (n > 0 || code == static_cast<std::size_t>(errc::storage_unavailable)
          || code == static_cast<std::size_t>(errc::concurrent_stream_write_error))
        add(f, {{"code", name}}, static_cast<double>(n));
    }
    fs.push_back(std::move(f));
  }
  }
  fs.push_back(single("sourcery_last_position", "Position of the last committed event",
                      metric_type::gauge, static_cast<double>(last)));

  // The engine's own.
  from.engine.collect_metrics(fs);

  // Subscriptions.
  if (m) {
    std::vector<std::shared_ptr<subscription_meter>> live;
    {
      std::lock_guard lock(m->subscriptions_mutex_);
      std::erase_if(m->subscriptions_, [&](const auto& entry) {
        auto meter = entry.second.lock();
        if (!meter)
          return true; // its subscription is gone
        live.push_back(std::move(meter));
        return false;
      });
    }
    std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
    fs.push_back(single("sourcery_subscriptions", "Subscriptions running", metric_type::gauge,
                        static_cast<double>(live.size())));
    auto delivered = family("sourcery_subscription_delivered_total",
                              "Records handed to the subscription's consumer", metric_type::counter);
    auto position = family("sourcery_subscription_position",
                             "Log position the subscription has handed over up to", metric_type::gauge);
    auto lag = family("sourcery_subscription_lag_events",
                        "Log positions committed past the subscription's position", metric_type::gauge);
    auto lag_s = family("sourcery_subscription_lag_seconds",
                          "Age of the oldest record past the subscription's position (0 when caught up)",
                          metric_type::gauge);
    auto bad = family("sourcery_subscription_undecodable_total",
                        "Records the subscription could not decode", metric_type::counter);
    auto now = now_us();
    std::unordered_map<sourcery::position, double> age; // of the record after a position
    for (const auto& meter : live) {
      auto p = meter->at.load(std::memory_order_relaxed);
      metric_labels labels{{"subscription", meter->name}};
      add(delivered, labels, static_cast<double>(meter->delivered.value()));
      add(position, labels, static_cast<double>(p));
      add(lag, labels, static_cast<double>(last > p ? last - p : 0));
      double seconds = 0;
      if (last > p) {
        auto [it, added] = age.try_emplace(p, 0.0);
        if (added) {
          try {
            storage::record_batch next;
            log.read(p, 1, next);
            if (!next.records.empty())
              it->second = std::max<double>(0, static_cast<double>(now - next.records.front().created_us) / 1e6);
          } catch (const std::exception&) { // unreadable now: the next scrape tries again
          }
        }
        seconds = it->second;
      }
      add(lag_s, labels, seconds);
      add(bad, labels, static_cast<double>(meter->undecodable.value()));
    }
    for (auto* f : {&delivered, &position, &lag, &lag_s, &bad})
      fs.push_back(std::move(*f));
  }

  // The outbox.
  {
    outbox_counts c;
    try {
      c = from.engine.outbox().counts();
    } catch (const std::exception&) { // unreadable now: zeros
    }
    fs.push_back(single("sourcery_outbox_enabled", "1 when the outbox is on", metric_type::gauge,
                        from.outbox_on ? 1 : 0));
    fs.push_back(single("sourcery_outbox_pending", "Entries waiting to be published (retries included)",
                        metric_type::gauge, static_cast<double>(c.pending)));
    if (m)
      fs.push_back(single("sourcery_outbox_in_flight",
                          "Entries the dispatchers claimed and have not reported yet",
                          metric_type::gauge,
                          static_cast<double>(std::max<std::int64_t>(
                            0, m->outbox_in_flight_.load(std::memory_order_relaxed)))));
    fs.push_back(single("sourcery_outbox_published_total", "Entries published for good",
                        metric_type::counter, static_cast<double>(c.published)));
    fs.push_back(single("sourcery_outbox_failed_attempts_total", "Publish attempts that failed",
                        metric_type::counter, static_cast<double>(c.failures)));
    fs.push_back(single("sourcery_outbox_dead_letters", "Entries in the dead letters",
                        metric_type::gauge, static_cast<double>(c.dead)));
    if (m)
      fs.push_back(single("sourcery_outbox_publish_latency_seconds",
                          "Time from an entry's commit to its successful publication (one in 16 "
                          "timed per dispatcher thread)",
                          m->publish_latency_));
  }

  // Tenants.
  {
    const auto& t = from.tenants;
    auto active = t.active();
    auto spawns = t.spawns();
    fs.push_back(single("sourcery_tenants", "Tenants used since the start", metric_type::gauge,
                        static_cast<double>(t.size())));
    fs.push_back(single("sourcery_tenant_actors_live", "Tenant storage actors running",
                        metric_type::gauge, static_cast<double>(active)));
    fs.push_back(single("sourcery_tenant_actor_spawns_total",
                        "Tenant storage actors spawned: first uses and respawns after passivation",
                        metric_type::counter, static_cast<double>(spawns)));
    fs.push_back(single("sourcery_tenant_actor_passivations_total",
                        "Tenant storage actors stopped for idleness", metric_type::counter,
                        static_cast<double>(spawns > active ? spawns - active : 0)));
    if (m && from.tenant_series > 0) {
      auto busiest = t.events_by_tenant(from.tenant_series);
      auto f = family("sourcery_tenant_events_committed_total",
                        "Events committed per tenant (the busiest, up to the configured number)",
                        metric_type::counter);
      for (auto& [tenant, n] : busiest)
        add(f, {{"tenant", tenant}}, static_cast<double>(n));
      fs.push_back(std::move(f));
    }
  }
  return out;
}

} // namespace sourcery::detail
