#include "snapbus/http_server.h"

#include <fcntl.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "buffer_first_read.h"
#include "io_deadline.h"

namespace snapbus::net {
namespace {

constexpr std::size_t kMaxDrain = std::size_t{16} * 1024 * 1024;
constexpr std::chrono::seconds kLingerTime{1};
constexpr std::size_t kProbeSize = 256;
constexpr std::size_t kDrainChunk = std::size_t{64} * 1024;
// What an idle connection reads when its next request starts (the header parser reads the rest).
constexpr std::size_t kFirstRead = 1024;

void expire_after(IoDeadline& deadline, std::chrono::milliseconds limit) {
  if (limit == kNoTimeout) {
    deadline.expire_never();
  } else {
    deadline.expire_after(limit);
  }
}

// Lingering close: a peer still sending a body we refused (413) would otherwise get a reset
// instead of our answer. Drain for a bounded time and amount.
asio::awaitable<void> close_lingering(tcp::socket& socket, IoDeadline& deadline) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  deadline.expire_after(kLingerTime);
  // Most peers close or have nothing left: a small first read, and the drain buffer (on the heap,
  // not in this frame) only for one still sending, so a burst of closing connections stays cheap.
  std::array<char, kProbeSize> probe{};
  std::size_t drained =
      co_await socket.async_read_some(asio::buffer(probe), asio::redirect_error(asio::use_awaitable, ignored));
  if (ignored || drained == 0) co_return;
  std::vector<char> sink(kDrainChunk);
  while (drained < kMaxDrain) {
    const std::size_t n =
        co_await socket.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ignored));
    if (ignored || n == 0) break;
    drained += n;
  }
}

// Asio opens and accepts sockets without close-on-exec: set it, or every process the server's
// program starts inherits them (and can shut the listener down for everyone).
bool set_close_on_exec(int fd) { return ::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0; }

struct Server {
  HttpHandler handler;
  HttpServerOptions options;
};

// The largest value Beast's fields can hold (its offsets are 16 bits, and it adds ": " or CRLF).
constexpr std::size_t kLargestFieldValue = 65535 - 2;

// request_parser that leaves out, and reports, a field too long for Beast's fields, where Beast
// would throw (HttpServerOptions::on_dropped_field). Used for the header only: the body parsers
// made from it are Beast's own.
class HeaderParser : public http::request_parser<http::empty_body> {
 public:
  explicit HeaderParser(const HttpServerOptions& options) : options_(options) {}

 private:
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     boost::system::error_code& ec) override {
    if (value.size() > kLargestFieldValue || name_string.size() > kLargestFieldValue) {
      if (!options_.on_dropped_field) {
        ec = http::error::header_limit;
        return;
      }
      options_.on_dropped_field(std::string_view(name_string.data(), name_string.size()), value.size());
      return;
    }
    get().insert(name, name_string, value);
  }

  const HttpServerOptions& options_;
};

asio::awaitable<void> serve_connection(tcp::socket socket, std::shared_ptr<const Server> server) {
  socket.set_option(tcp::no_delay(true));
  IoDeadline deadline(socket);
  // Room for a whole header within the limit, and two reads: what Beast parses in one go (a header,
  // a chunked body's trailers) is held whole before it is parsed, and a peer must not grow it forever.
  beast::flat_buffer buffer;
  buffer.max_size(server->options.header_limit + 2 * kMaxReadSize);
  for (bool first = true;; first = false) {
    boost::system::error_code ec;
    if (!first && buffer.size() == 0) {
      // Kept alive: wait for the first bytes of the next request.
      expire_after(deadline, server->options.idle_timeout);
      const std::size_t n =
          co_await socket.async_read_some(buffer.prepare(kFirstRead), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;  // closed, reset, or idle for too long
      buffer.commit(n);
    }
    HeaderParser parser(server->options);
    parser.header_limit(server->options.header_limit);
    parser.body_limit(server->options.body_limit);
    // What of the next request a kept-alive connection's first read already holds: usually the
    // whole header, which then needs no deadline and no further read.
    parse_buffered(
        parser, buffer, [](const auto& p) { return p.is_header_done(); }, ec);
    if (!ec && !parser.is_header_done()) {
      expire_after(deadline, server->options.header_timeout);
      ec = co_await buffer_first_read_header(socket, buffer, parser);
    }
    deadline.expire_never();
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || deadline.timed_out()) {
      break;
    }
    HttpExchange exchange(socket, buffer, parser, server->options.error_format);
    if (ec) {
      exchange.close_after();
      // Named first: GCC 12 miscompiles a temporary made in a conditional within co_await.
      std::string why = "malformed HTTP request: " + ec.message();
      if (ec == http::error::header_limit) {
        // 431, as Go's net/http (Lambda's Runtime API and the RIE) answers a header past its limit.
        why = fmt::format("the request's header is over {} bytes, or one of its fields over 65,533 bytes",
                          server->options.header_limit);
        co_await exchange.respond_error(http::status::request_header_fields_too_large, "RequestHeaderFieldsTooLarge",
                                        why);
        break;
      }
      co_await exchange.respond_error(http::status::bad_request, "InvalidRequest", why);
      break;
    }
    std::optional<HttpError> failure;
    try {
      co_await server->handler(exchange);
    } catch (const HttpError& e) {
      failure = e;
    } catch (const boost::system::system_error&) {
      break;  // the peer went away mid-exchange
    } catch (const std::exception& e) {
      // Anything else a handler lets out ends this exchange, not the process and every other
      // connection with it (thrown out of a detached coroutine, it would leave io_context::run()).
      failure = HttpError(http::status::internal_server_error, "InternalError", e.what());
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
  if (!deadline.timed_out()) co_await close_lingering(socket, deadline);
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
    if (!set_close_on_exec(socket.native_handle())) continue;  // dropped, as a failed accept would be
    asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket), server), asio::detached);
  }
}

}  // namespace

tcp::endpoint http_listen(asio::io_context& io, const std::string& host, std::uint16_t port, HttpHandler handler,
                          HttpServerOptions options) {
  const tcp::endpoint wanted(asio::ip::make_address(host), port);
  tcp::acceptor acceptor(io);
  acceptor.open(wanted.protocol());
  if (!set_close_on_exec(acceptor.native_handle())) {
    throw boost::system::system_error(errno, boost::system::system_category(), "fcntl(FD_CLOEXEC) on the listener");
  }
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(wanted);
  acceptor.listen(asio::socket_base::max_listen_connections);
  tcp::endpoint bound = acceptor.local_endpoint();
  auto server = std::make_shared<const Server>(Server{std::move(handler), std::move(options)});
  asio::co_spawn(io, accept_loop(std::move(acceptor), std::move(server)), asio::detached);
  return bound;
}

}  // namespace snapbus::net
