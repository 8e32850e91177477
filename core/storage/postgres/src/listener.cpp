#include "listener.hpp"

#include "schema.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace sourcery::storage::postgres_detail {

listener::listener(connection_settings settings, std::string schema,
                   std::function<void(std::uint64_t)> on_log, std::function<void()> on_outbox)
  : settings_(std::move(settings)), schema_(std::move(schema)), on_log_(std::move(on_log)),
    on_outbox_(std::move(on_outbox)) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0)
    throw storage_unavailable("cannot create an eventfd for the PostgreSQL listener");
  thread_ = std::thread([this] { run(); });
}

listener::~listener() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
  thread_.join();
  ::close(stop_fd_);
}

void listener::run() {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    if (listen_once())
      return;
    listening_ = false;
    pollfd stop{stop_fd_, POLLIN, 0};
    if (::poll(&stop, 1, static_cast<int>(backoff.count())) > 0)
      return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

bool listener::listen_once() {
  std::unique_ptr<connection> conn;
  try {
    conn = std::make_unique<connection>(settings_);
    conn->exec("LISTEN " + schema_ + "_log", "listening");
    conn->exec("LISTEN " + schema_ + "_outbox", "listening");
    // Whatever was committed before LISTEN took effect was not notified.
    auto r = conn->exec(in_schema("SELECT last FROM @.head WHERE id = 1", schema_),
                        "reading the log's counter");
    listening_ = true;
    if (PQntuples(r.get()) == 1)
      on_log_(static_cast<std::uint64_t>(get_i64(r.get(), 0, 0)));
    on_outbox_();
  } catch (const std::exception&) {
    return false;
  }
  auto* c = conn->raw();
  auto log_channel = schema_ + "_log";
  for (;;) {
    pollfd fds[2] = {{PQsocket(c), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0)
      continue; // EINTR
    if (fds[1].revents)
      return true;
    if (PQconsumeInput(c) != 1 || PQstatus(c) != CONNECTION_OK)
      return false;
    bool outbox = false;
    while (PGnotify* n = PQnotifies(c)) {
      if (log_channel == n->relname) {
        std::uint64_t p = 0;
        std::string_view text(n->extra);
        std::from_chars(text.data(), text.data() + text.size(), p);
        on_log_(p);
      } else {
        outbox = true;
      }
      PQfreemem(n);
    }
    if (outbox)
      on_outbox_();
  }
}

} // namespace sourcery::storage::postgres_detail
