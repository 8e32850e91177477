// The metrics endpoint (R-MET): serves GET /metrics over HTTP/1.1 in the
// Prometheus text format, on a thread of its own, until destroyed.
//
// Built on Boost.Beast (part of Boost 1.81, which the runtime already
// depends on; header-only, so the installed package gains no dependency):
// one io_context on one thread, asynchronous sessions, so a slow or stuck
// client delays no other scrape and never the runtime (each session has a
// 10 s deadline). Boost.Asio stays inside metrics_endpoint.cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace sourcery::detail {

/// "host:port" split and checked: host an IPv4 or [IPv6] address or
/// "localhost", port 0..65535 (0: any free port). Throws invalid_argument
/// naming the setting and what is wrong.
struct listen_address {
  std::string host;
  unsigned short port = 0;
  static listen_address parse(const std::string& text);
};

class metrics_endpoint {
public:
  /// Listens on `address`, answering each GET /metrics with `render()`
  /// (called on the endpoint's thread). Throws invalid_argument when the
  /// address is malformed or cannot be bound (in use, not local), saying so.
  metrics_endpoint(const std::string& address, std::function<std::string()> render);
  ~metrics_endpoint();
  metrics_endpoint(const metrics_endpoint&) = delete;
  metrics_endpoint& operator=(const metrics_endpoint&) = delete;

  /// The address as configured.
  const std::string& configured() const noexcept { return configured_; }
  /// The address bound, with the actual port ("127.0.0.1:9464").
  std::string bound() const;

private:
  struct impl;
  std::string configured_;
  std::unique_ptr<impl> impl_;
};

} // namespace sourcery::detail
