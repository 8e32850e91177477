#include "metrics_endpoint.hpp"

#include <sourcery/errors.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <chrono>
#include <thread>

namespace sourcery::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

listen_address listen_address::parse(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return invalid_argument("metrics.listen must be host:port (e.g. 127.0.0.1:9464), got '" + text
                            + "': " + why);
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw bad("no port");
  listen_address out;
  out.host = text.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host == "localhost")
    out.host = "127.0.0.1";
  boost::system::error_code ec;
  asio::ip::make_address(out.host, ec);
  if (ec)
    throw bad("'" + out.host + "' is not an IP address");
  auto port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || err != std::errc{} || end != port.data() + port.size() || value > 65535)
    throw bad("the port must be a number from 0 to 65535");
  out.port = static_cast<unsigned short>(value);
  return out;
}

namespace {

/// One connection: reads requests, answers each, until the client closes
/// it or 10 s pass without a request.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, const std::function<std::string()>& render)
    : stream_(std::move(socket)), render_(render) {}

  void start() { read(); }

private:
  void read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec)
                         self->answer();
                     });
  }

  void answer() {
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(request_.version());
    response->keep_alive(request_.keep_alive());
    response->set(http::field::server, "sourcery");
    auto target = request_.target();
    auto path = target.substr(0, target.find('?'));
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      response->result(http::status::method_not_allowed);
      response->set(http::field::allow, "GET, HEAD");
      response->body() = "only GET /metrics\n";
    } else if (path != "/metrics") {
      response->result(http::status::not_found);
      response->body() = "not found: the metrics are at /metrics\n";
    } else {
      response->result(http::status::ok);
      response->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      try {
        response->body() = render_();
      } catch (const std::exception& e) {
        response->result(http::status::internal_server_error);
        response->body() = std::string("collecting the metrics failed: ") + e.what() + "\n";
      }
      if (request_.method() == http::verb::head)
        response->body().clear();
    }
    response->prepare_payload();
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, std::size_t) {
                        if (ec || !response->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  const std::function<std::string()>& render_; // the endpoint's, which outlives its sessions
};

} // namespace

struct metrics_endpoint::impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::function<std::string()> render;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (!ec)
        std::make_shared<session>(std::move(socket), render)->start();
      accept();
    });
  }
};

metrics_endpoint::metrics_endpoint(const std::string& address,
                                   std::function<std::string()> render)
  : configured_(address), impl_(std::make_unique<impl>()) {
  auto where = listen_address::parse(address);
  impl_->render = std::move(render);
  tcp::endpoint endpoint(asio::ip::make_address(where.host), where.port);
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    return invalid_argument(std::string("metrics.listen: cannot listen on ") + address + " ("
                            + step + "): " + ec.message());
  };
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (ec)
    throw fail("open");
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  impl_->acceptor.bind(endpoint, ec);
  if (ec)
    throw fail("bind");
  impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw fail("listen");
  impl_->accept();
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

metrics_endpoint::~metrics_endpoint() {
  impl_->io.stop();
  impl_->thread.join();
}

std::string metrics_endpoint::bound() const {
  auto e = impl_->acceptor.local_endpoint();
  auto host = e.address().to_string();
  if (e.address().is_v6())
    host = "[" + host + "]";
  return host + ":" + std::to_string(e.port());
}

} // namespace sourcery::detail
