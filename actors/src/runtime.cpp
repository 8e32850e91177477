#include "runtime.hpp"

#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/logger.hpp>
#include <caf/send.hpp>
#include <caf/thread_hook.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace sourcery::detail {

namespace {

thread_local bool on_runtime_thread = false;

std::mutex alive_mutex;
std::condition_variable alive_cv;
std::size_t alive = 0; // GUARDED_BY(alive_mutex)

/// Marks every thread the actor system starts (workers, detached actors).
struct runtime_thread_marker final : caf::thread_hook {
  void init(caf::actor_system&) override {}
  void thread_started() override { on_runtime_thread = true; }
  void thread_terminates() override {}
};

void apply_options(caf::actor_system_config& cfg, const runtime_options& o) {
  o.validate();
  cfg.set("scheduler.policy", caf::atom_from_string(o.scheduler_policy));
  auto threads = o.scheduler_threads ? o.scheduler_threads
                                     : std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", threads);
  if (o.max_throughput)
    cfg.set("scheduler.max-throughput", o.max_throughput);
  cfg.set("logger.console", caf::atom("none"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.add_thread_hook<runtime_thread_marker>();
}

std::unique_ptr<caf::actor_system> start_system(caf::actor_system_config& cfg,
                                                const runtime_options& o) {
  apply_options(cfg, o);
  return std::make_unique<caf::actor_system>(cfg);
}

} // namespace

runtime::runtime(const runtime_options& options, std::shared_ptr<storage::engine> engine,
                 std::shared_ptr<event_registry> registry)
  : engine_(std::move(engine)),
    codec_(std::move(registry)),
    commits_(engine_->outbox(), codec_, listeners_),
    metrics_(options.metrics ? std::make_unique<runtime_metrics>() : nullptr),
    decodes_(codec_, options.subscription_decode_cache),
    system_(start_system(config_, options)),
    callbacks_(options.subscription_callback_threads, mark_runtime_thread),
    wiring_(*system_, *engine_, codec_, commits_, timers_, settings_, metrics_.get(),
            callbacks_, decodes_),
    tenants_(wiring_),
    outbox_(engine_->outbox(), commits_, wiring_) {
  release_caf_thread_state();
  std::lock_guard lock(alive_mutex);
  ++alive;
}

void mark_runtime_thread() noexcept {
  on_runtime_thread = true;
}

void release_caf_thread_state() noexcept {
  if (!on_runtime_thread)
    caf::logger::set_current_actor_system(nullptr);
}

std::size_t runtimes_alive() noexcept {
  std::lock_guard lock(alive_mutex);
  return alive;
}

bool await_runtimes_at_most(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(alive_mutex);
  return alive_cv.wait_for(lock, timeout, [n] { return alive <= n; });
}

std::shared_ptr<runtime> runtime::make(const runtime_options& options,
                                       std::shared_ptr<storage::engine> engine,
                                       std::shared_ptr<event_registry> registry) {
  auto* rt = new runtime(options, std::move(engine), std::move(registry));
  return std::shared_ptr<runtime>(rt, [](runtime* r) {
    if (on_runtime_thread)
      std::thread([r] { delete r; }).detach();
    else
      delete r;
  });
}

void runtime::configure(const sourcery::settings& s) {
  s.validate();
  std::lock_guard lock(endpoint_mutex_);
  if (s.metrics_listen.empty()) {
    endpoint_.reset();
  } else if (!endpoint_ || endpoint_->configured() != s.metrics_listen) {
    auto render = [this] { return prometheus_text(metrics()); };
    try {
      endpoint_ = std::make_unique<metrics_endpoint>(s.metrics_listen, render);
    } catch (const invalid_argument&) {
      if (!endpoint_)
        throw; // nothing changed
      // Perhaps the old endpoint holds the port ("0.0.0.0:9464" to
      // "127.0.0.1:9464"): without it, once more; failing, none runs.
      endpoint_.reset();
      endpoint_ = std::make_unique<metrics_endpoint>(s.metrics_listen, render);
    }
  }
  settings_.set(s);
}

metrics_snapshot runtime::metrics() const {
  return runtime_metrics::snapshot(metrics_.get(),
                                   {*engine_, tenants_, settings_.get().metrics_tenant_series,
                                    commits_.outbox_enabled()});
}

std::optional<std::string> runtime::metrics_address() const {
  std::lock_guard lock(endpoint_mutex_);
  if (!endpoint_)
    return std::nullopt;
  return endpoint_->bound();
}

runtime::~runtime() {
  {
    std::lock_guard lock(endpoint_mutex_);
    endpoint_.reset(); // no scrape reads the parts below any more
  }
  // Every subscription handle is gone, so every feed was stopped; a callback
  // still running (one that stopped its own subscription) finishes, queued
  // ones are dropped, and none runs after this.
  callbacks_.stop();
  // Publishers first, then wake-ups, then the tenants; the engine goes last,
  // once no actor runs any more. Jobs still in mailboxes complete with
  // runtime_stopped as they are dropped.
  outbox_.halt();
  engine_->log().cancel_all();
  for (auto& a : tenants_.actors())
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  system_->await_all_actors_done();
  // No actor appends any more; the engine's writer may still call back into
  // commits_ (and send to the stopped actors) for appends it holds.
  commits_.drain();
  system_.reset();
  std::lock_guard lock(alive_mutex);
  --alive;
  alive_cv.notify_all();
}

} // namespace sourcery::detail
