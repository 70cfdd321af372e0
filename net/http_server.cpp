#include "snapbus/http_server.h"

#include <array>
#include <chrono>
#include <memory>
#include <optional>

namespace snapbus::net {
namespace {

constexpr std::size_t kMaxDrain = std::size_t{16} * 1024 * 1024;
constexpr std::chrono::seconds kLingerTime{1};

// Lingering close: a peer still sending a body we refused (413) would otherwise get a reset
// instead of our answer. Drain for a bounded time and amount.
asio::awaitable<void> close_lingering(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(kLingerTime);
  std::array<char, std::size_t{64} * 1024> sink{};
  std::size_t drained = 0;
  while (drained < kMaxDrain) {
    const std::size_t n =
        co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ignored));
    if (ignored || n == 0) break;
    drained += n;
  }
}

struct Server {
  HttpHandler handler;
  HttpServerOptions options;
};

asio::awaitable<void> serve_connection(tcp::socket socket, std::shared_ptr<const Server> server) {
  socket.set_option(tcp::no_delay(true));
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(server->options.header_limit);
    parser.body_limit(server->options.body_limit);
    boost::system::error_code ec;
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      break;
    }
    HttpExchange exchange(stream, buffer, parser, server->options.error_format);
    if (ec) {
      exchange.close_after();
      co_await exchange.respond_error(http::status::bad_request, "InvalidRequest",
                                      "malformed HTTP request: " + ec.message());
      break;
    }
    std::optional<HttpError> failure;
    try {
      co_await server->handler(exchange);
    } catch (const HttpError& e) {
      failure = e;
    } catch (const boost::system::system_error&) {
      break;  // the peer went away mid-exchange
    }
    if (failure) {
      if (exchange.responded()) break;
      exchange.close_after();
      try {
        co_await exchange.respond_error(failure->status(), failure->type(), failure->what());
      } catch (const boost::system::system_error&) {
      }
      break;
    }
    if (!exchange.reusable()) break;
  }
  co_await close_lingering(stream);
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, std::shared_ptr<const Server> server) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // e.g. EMFILE: keep serving the connections we have, and do not spin while none can be accepted.
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket), server), asio::detached);
  }
}

}  // namespace

tcp::endpoint http_listen(asio::io_context& io, const std::string& host, std::uint16_t port, HttpHandler handler,
                          HttpServerOptions options) {
  const tcp::endpoint wanted(asio::ip::make_address(host), port);
  tcp::acceptor acceptor(io);
  acceptor.open(wanted.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(wanted);
  acceptor.listen(asio::socket_base::max_listen_connections);
  tcp::endpoint bound = acceptor.local_endpoint();
  auto server = std::make_shared<const Server>(Server{std::move(handler), options});
  asio::co_spawn(io, accept_loop(std::move(acceptor), std::move(server)), asio::detached);
  return bound;
}

}  // namespace snapbus::net
