#include "snapbus/http_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/system/system_error.hpp>

#include "buffer_first_read.h"
#include "chunk_frame.h"
#include "eager_write.h"
#include "io_deadline.h"
#include "snapbus/resolve_endpoints.h"
#include "snapbus/text.h"

namespace snapbus::net {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// What one read from the socket may take before the parser has seen a header. Beast reads at most
// the buffer's free space, and at least 512 bytes: from an empty buffer an invocation event of
// 881 bytes took two reads (and a trip through the event loop each), an API Gateway event of 3 KB
// six. Most events and app responses fit in one read of this size, as do nginx's default 8 KB of
// request headers.
constexpr std::size_t kReadAhead = std::size_t{8} * 1024;

// Every asynchronous step reports its error code as a value: failures are results, not exceptions.
constexpr auto kAsValues = asio::as_tuple(asio::use_awaitable);

// A server that gives up on an idle keep-alive connection may say so with a 408 and close it (Go's
// net/http client discards such an answer for this reason). The answer then sits in the pooled
// connection, and the next request sent there reads it as its own. RFC 9110 15.5.9 lets a client repeat a request
// answered 408 on a new connection: the server says it never received it whole, so even a POST did nothing. A 408 on a
// connection kept alive is the app's own answer, and is returned.
bool timed_out_while_idle(const http::response_parser<http::buffer_body>& answer) {
  return answer.get().result() == http::status::request_timeout && !answer.keep_alive();
}

// How long the server keeps an idle connection open, from its answer's `Keep-Alive: timeout=N`
// (Node.js, Apache and others send it), or nullopt when it does not say. Past that the server closes
// the connection on its next turn, which a peek cannot see coming when both sides were frozen through
// the wait (Lambda between invocations): both wake together, the peek finds the connection open, and
// the request goes out just before the server's timer closes it.
std::optional<Clock::duration> advertised_keep_alive(const http::response_header<>& header) {
  const auto field = header.find("keep-alive");
  if (field == header.end()) return std::nullopt;
  // "timeout=5, max=1000": name=value parameters apart by commas.
  constexpr std::string_view kTimeout = "timeout=";
  std::string_view rest = field->value();
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view parameter = trim(rest.substr(0, comma), " \t");
    if (parameter.size() > kTimeout.size() && beast::iequals(parameter.substr(0, kTimeout.size()), kTimeout)) {
      const auto seconds =
          parse_number<std::uint32_t>(parameter.substr(kTimeout.size()), 0, std::numeric_limits<std::uint32_t>::max());
      if (!seconds) return std::nullopt;
      return std::chrono::seconds(*seconds);
    }
    if (comma == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(comma + 1);
  }
}

// What a spent upload (finish() already handed its connection on) answers.
NetError finished_upload() {
  return NetError{make_error_code(boost::system::errc::operation_not_permitted), "the chunked upload has finished"};
}

}  // namespace

namespace detail {

struct Connection {
  explicit Connection(const asio::any_io_executor& executor) : socket(executor), deadline(socket) {
    buffer.reserve(kReadAhead);
  }
  tcp::socket socket;
  IoDeadline deadline;  // after the socket, which it closes when it passes
  beast::flat_buffer buffer;
  // The pool's generation when it was opened: drop_all() moves the pool on, so it is never pooled again.
  std::uint64_t generation = 0;
  // True once it came out of the pool: only then can a failure mean "the server closed it while idle".
  bool reused = false;
  Clock::time_point idle_since;
  // The server's Keep-Alive timeout, from its last answer: the connection is not reused past it.
  Clock::duration server_keeps_idle = Clock::duration::max();
};

class ConnectionPool {
 public:
  ConnectionPool(asio::any_io_executor executor, HostPort server, ClientOptions options)
      : executor_(std::move(executor)),
        server_(std::move(server)),
        authority_(server_.authority()),
        options_(options) {}

  [[nodiscard]] const HostPort& server() const { return server_; }
  // The Host field of every request that has none, formatted once rather than per request.
  [[nodiscard]] const std::string& authority() const { return authority_; }
  [[nodiscard]] const ClientOptions& options() const { return options_; }
  [[nodiscard]] std::size_t idle_count() const { return idle_.size(); }

  // The most recently used pooled connection that is young enough and still open, or nullptr.
  // `never_resent` for a request that is not sent twice: a close noticed only after it went out
  // fails it, so it must be younger than unreplayable_idle_timeout too. Every connection is
  // checked, however recently used: bytes an app wrote after its answer would otherwise be read as
  // the next request's answer, and every answer after it would go to the request before.
  std::unique_ptr<Connection> take_idle(bool never_resent) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      const Clock::duration idle = Clock::now() - connection->idle_since;
      const auto own_limit =
          never_resent ? std::min(options_.idle_timeout, options_.unreplayable_idle_timeout) : options_.idle_timeout;
      const bool young = idle < own_limit && idle < connection->server_keeps_idle;
      if (young && looks_open(*connection)) {
        connection->reused = true;
        return connection;
      }
      close(*connection);
    }
    return nullptr;
  }

  asio::awaitable<NetResult<std::unique_ptr<Connection>>> connect() {
    boost::system::error_code resolve_error;
    const auto endpoints = co_await resolve_endpoints(server_.host, server_.port, resolve_error);
    if (resolve_error) co_return failure(resolve_error, "resolve");
    auto connection = std::make_unique<Connection>(executor_);
    // What Beast parses in one go (the header, a chunk's size line, the trailers) is held whole in
    // the buffer first: bounded, so that a server that never ends one cannot grow it without end.
    connection->buffer.max_size(options_.header_limit + 2 * kMaxReadSize);
    connection->generation = generation_;
    connection->deadline.expire_after(options_.connect_timeout);
    auto [connect_error, endpoint] = co_await asio::async_connect(connection->socket, endpoints, kAsValues);
    connection->deadline.expire_never();
    if (connect_error && connection->deadline.timed_out()) connect_error = beast::error::timeout;
    if (connect_error) co_return failure(connect_error, "connect to");
    // Streamed chunks must leave at once, not wait for Nagle to fill a segment.
    boost::system::error_code ignored;
    connection->socket.set_option(tcp::no_delay(true), ignored);
    co_return connection;
  }

  // Pools a connection whose exchange ended cleanly, unless drop_all() ran since it was opened.
  void give_back(std::unique_ptr<Connection> connection) {
    if (connection->generation != generation_ || idle_.size() >= options_.max_idle_connections ||
        connection->buffer.size() != 0) {
      close(*connection);
      return;
    }
    connection->deadline.stop();
    connection->idle_since = Clock::now();
    idle_.push_back(std::move(connection));
  }

  void drop_all() {
    ++generation_;
    for (auto& connection : idle_) close(*connection);
    idle_.clear();
  }

  [[nodiscard]] NetError failure(boost::system::error_code code, std::string_view step) const {
    return NetError{code, fmt::format("{} {}: {}", step, authority_, code.message())};
  }

  static void close(Connection& connection) {
    boost::system::error_code ignored;
    connection.socket.shutdown(tcp::socket::shutdown_both, ignored);
    connection.socket.close(ignored);
  }

 private:
  // A server that closed an idle connection has left an end-of-stream to read; one that is still there
  // has sent nothing. Peeking without blocking tells them apart before the request is sent: nothing
  // to read means open; end of stream, an error, or bytes nobody asked for mean the connection must
  // not carry a request.
  static bool looks_open(Connection& connection) {
    char byte = 0;
    const ssize_t got = ::recv(connection.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  asio::any_io_executor executor_;
  HostPort server_;
  std::string authority_;
  ClientOptions options_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::uint64_t generation_ = 0;
};

// One request on one connection, from sending to the end of the answer.
struct Exchange {
  Exchange(std::shared_ptr<ConnectionPool> pool_in, RequestOptions options_in, bool head_request)
      : pool(std::move(pool_in)), options(options_in), head(head_request) {}

  ~Exchange() {
    if (connection) ConnectionPool::close(*connection);
  }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  std::shared_ptr<ConnectionPool> pool;
  RequestOptions options;
  bool head = false;  // a HEAD answer has no body, whatever its Content-Length says
  bool request_keeps_alive = true;
  bool write_failed = false;  // an upload's write failed; only early_answer() may use the connection now
  std::unique_ptr<Connection> connection;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::unique_ptr<char[]> piece_buffer;  // read_piece()'s, once it is first called
  bool acknowledgement_owed = false;     // see acknowledge_owed()

  // Before each read of the answer, and before a write waits for the socket (write_eagerly's
  // before_waiting): a write the socket takes at once needs no limit, and the read that follows it
  // arms the timer after the request has left, off the path of the server's answer.
  void arm_io_timer() {
    if (options.no_io_timeout) {
      connection->deadline.expire_never();
    } else {
      connection->deadline.expire_after(pool->options().io_timeout);
    }
  }
  // After an upload's write: no write is pending until the next piece, which may come minutes later
  // (a streamed answer that pauses). The timeout limits a write that does not progress, not that.
  void disarm_io_timer() { connection->deadline.expire_never(); }
  // A write that failed on a pooled connection is tried again on a fresh one: the server had closed
  // it before it had the request. Not one that timed out: that server is alive and stalled, and may
  // hold part of what was sent.
  [[nodiscard]] bool write_timed_out() const { return connection->deadline.timed_out(); }

  // The connection cannot carry another exchange: close it and describe what went wrong.
  NetError fail(boost::system::error_code code, std::string_view step) {
    if (connection && connection->deadline.timed_out()) code = beast::error::timeout;
    if (connection) ConnectionPool::close(*connection);
    connection.reset();
    return pool->failure(code, step);
  }

  // Called when the body has ended: the connection goes back to the pool if both sides allow it.
  void body_ended() {
    if (connection && request_keeps_alive && parser->keep_alive()) {
      pool->give_back(std::move(connection));
    } else if (connection) {
      ConnectionPool::close(*connection);
      connection.reset();
    }
  }

  // Before the body is read, when the header said more is to come. A server that sends its header
  // and its body in two writes with Nagle's algorithm on (uvicorn with --workers N: its sockets lack
  // TCP_NODELAY) holds the body back until the header is acknowledged, and this side, which has just
  // sent a request, would delay that acknowledgement by 40 ms, the kernel's minimum: every answer on
  // a kept-alive connection took 40 ms more. TCP_QUICKACK sends the acknowledgement now; it lasts
  // until the next request. Owed from the header on and sent at the first read of the body, not at
  // the header: a relay passes on what came with the header first (AppForwarder's streamed answer,
  // its prelude), and the acknowledgement, a loopback segment the kernel processes on the spot, is
  // then not on the path of the caller's first byte.
  void acknowledge_owed() {
    if (!acknowledgement_owed) return;
    acknowledgement_owed = false;
    const int on = 1;
    ::setsockopt(connection->socket.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
  }

  // The buffer a body's pieces are read into: made once per exchange and left uninitialised (zeroing
  // 64 KB per piece cost more than relaying it).
  char* piece() {
    if (!piece_buffer) piece_buffer = std::make_unique_for_overwrite<char[]>(kBodyPieceSize);
    return piece_buffer.get();
  }
  // read_piece()'s steps around its one wait, which a relay also takes, each without a coroutine of
  // its own. Before the wait: acknowledges what is owed, arms the timer and points the parser at the
  // piece buffer. The body must not have ended and the connection must be here.
  auto aim_at_piece() {
    acknowledge_owed();
    arm_io_timer();
    return detail::aim_at_piece(*parser, piece(), kBodyPieceSize);
  }
  // After it (or after parsing what the buffer already holds): the piece, or the failure that closed
  // the connection.
  NetResult<std::string_view> piece_read(boost::system::error_code read_error) {
    const auto [error, got] = detail::piece_parsed(read_error, *parser, kBodyPieceSize);
    if (error) return fail(error, "read response from");
    if (parser->is_done()) body_ended();
    return std::string_view(piece_buffer.get(), got);
  }

  // An upload's chunk written, or not: a failure that did not time out keeps the connection, where
  // the server's early answer may be waiting (early_answer()).
  NetResult<void> chunk_written(boost::system::error_code error) {
    if (!error) {
      disarm_io_timer();
      return {};
    }
    if (write_timed_out()) return fail(error, "send body to");
    write_failed = true;
    return pool->failure(error, "send body to");
  }

  // After a write failed (not by timing out), the answer's header if the server sent one before it
  // stopped reading. The connection then carries no other exchange: part of the request never went.
  // `never_answered` as read_header's: only then may the request go again, as the server did not see it.
  asio::awaitable<boost::system::error_code> read_early_answer(bool& never_answered) {
    request_keeps_alive = false;
    options.no_io_timeout = false;  // the server has stopped reading: its answer is here or never comes
    co_return co_await read_header(never_answered);
  }

  // Reads the answer's header. `never_answered` is set when the server closed without sending a byte.
  // Interim answers (1xx but 101: 100 Continue, 102 Processing, 103 Early Hints) are read and
  // dropped, as RFC 9110 (15.2) has a client do with those it cannot use: the final answer follows on
  // the same connection, and an interim one taken for it would leave that answer to be read as the
  // next request's. 101 ends HTTP on the connection: it is the answer, and the connection is not kept.
  asio::awaitable<boost::system::error_code> read_header(bool& never_answered) {
    bool answered_interim = false;
    std::optional<http::response_parser<http::empty_body>> header_parser;
    for (;;) {
      header_parser.emplace();
      header_parser->skip(head);
      header_parser->header_limit(pool->options().header_limit);
      // Beast's default (8 MB) would refuse a longer Content-Length with the header: a streamed
      // answer has no limit here, and read_all() applies the client's.
      header_parser->body_limit(boost::none);
      arm_io_timer();
      const boost::system::error_code error =
          co_await buffer_first_read_header(connection->socket, connection->buffer, *header_parser);
      never_answered = error && !answered_interim && !header_parser->got_some() &&
                       (error == http::error::end_of_stream || error == asio::error::connection_reset);
      if (error) co_return error;
      const unsigned status = header_parser->get().result_int();
      if (status < 100 || status >= 200) break;
      if (status == 101) {
        request_keeps_alive = false;
        break;
      }
      answered_interim = true;
    }
    if (const auto keeps_idle = advertised_keep_alive(header_parser->get().base())) {
      connection->server_keeps_idle = *keeps_idle;
    }
    parser.emplace(std::move(*header_parser));
    if (parser->is_done()) {
      body_ended();
    } else if (const auto length = parser->content_length(); !length || connection->buffer.size() < *length) {
      acknowledgement_owed = true;
    }
    co_return boost::system::error_code{};
  }
};

}  // namespace detail

void throw_exception_from_error(const NetError& error, const boost::source_location& location) {
  boost::throw_exception(boost::system::system_error(error.code, error.message), location);
}

std::string HostPort::authority() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

NetResult<HostPort> parse_host_port(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return NetError{make_error_code(boost::system::errc::invalid_argument),
                    fmt::format("'{}' is not host:port: {}", text, why)};
  };
  HostPort out;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return invalid("the IPv6 address has no closing ]");
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid("the port is missing");
    if (text.substr(0, colon).find(':') != std::string_view::npos) return invalid("put an IPv6 address in brackets");
    out.host = std::string(text.substr(0, colon));
    rest = text.substr(colon);
  }
  if (out.host.empty()) return invalid("the host is empty");
  if (rest.size() < 2 || rest.front() != ':') return invalid("the port is missing");
  out.port = std::string(rest.substr(1));
  if (out.port.size() > 5 || out.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(out.port) > 65535) {
    return invalid("the port is not a number from 0 to 65535");
  }
  return out;
}

ResponseStream::ResponseStream(std::unique_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}
ResponseStream::ResponseStream(ResponseStream&&) noexcept = default;
ResponseStream& ResponseStream::operator=(ResponseStream&&) noexcept = default;
ResponseStream::~ResponseStream() = default;

const http::response_header<>& ResponseStream::header() const { return exchange_->parser->get().base(); }

asio::awaitable<NetResult<std::string_view>> ResponseStream::read_piece() {
  auto& ex = *exchange_;
  if (ex.parser->is_done()) co_return std::string_view();
  if (!ex.connection) co_return ex.pool->failure(asio::error::not_connected, "read response from");
  const auto piece_ready = ex.aim_at_piece();
  co_return ex.piece_read(
      co_await buffer_first_read(ex.connection->socket, ex.connection->buffer, *ex.parser, piece_ready));
}

asio::awaitable<RelayEnd> ResponseStream::relay_to(ChunkedUpload& upload) {
  auto& from = *exchange_;
  RelayEnd end;
  if (!upload.exchange_) {
    end.write = finished_upload();
    co_return end;
  }
  auto& to = *upload.exchange_;
  while (!from.parser->is_done()) {
    if (!from.connection) {
      end.read = from.pool->failure(asio::error::not_connected, "read response from");
      co_return end;
    }
    const auto piece_ready = from.aim_at_piece();
    const auto piece = from.piece_read(
        co_await buffer_first_read(from.connection->socket, from.connection->buffer, *from.parser, piece_ready));
    if (!piece) {
      end.read = piece.error();
      co_return end;
    }
    if (piece->empty()) continue;  // the body's end, which the loop's test sees
    if (!to.connection || to.write_failed) {
      end.write = to.pool->failure(asio::error::not_connected, "send body to");
      co_return end;
    }
    const ChunkFrame frame(*piece);
    const auto chunk = frame.buffers();
    boost::system::error_code error;
    const std::size_t at_once = write_now(to.connection->socket, chunk, error);
    if (socket_was_full(error)) {
      error = co_await write_rest(to.connection->socket, chunk, at_once, nullptr, [&to] { to.arm_io_timer(); });
    }
    end.write = to.chunk_written(error);
    if (!end.write) co_return end;
  }
  co_return end;
}

NetResult<std::string_view> ResponseStream::arrived_piece() {
  auto& ex = *exchange_;
  if (ex.parser->is_done() || !ex.connection) return std::string_view();
  boost::system::error_code error;
  parse_buffered(*ex.parser, ex.connection->buffer, detail::aim_at_piece(*ex.parser, ex.piece(), kBodyPieceSize),
                 error);
  return ex.piece_read(error);
}

asio::awaitable<NetResult<Response>> ResponseStream::read_all() && {
  auto& ex = *exchange_;
  const std::uint64_t limit = ex.pool->options().body_limit;
  std::string body;
  // A body whose length the header gave goes straight into the answer: no piece buffer (64 KB per
  // exchange) and no copy of each piece, and none of read_piece's coroutines when it has already
  // arrived with the header. A chunked body, or one that ends with the connection, goes piece by piece.
  // What is left of it, since read_piece() may have taken a part; the room grows as bytes come, so
  // that an answer that claims more than it sends does not take that much memory at once.
  if (const auto length = ex.parser->content_length_remaining(); length && !ex.parser->is_done()) {
    if (*length > limit) co_return ex.fail(http::error::body_limit, "read response from");
    if (!ex.connection) co_return ex.pool->failure(asio::error::not_connected, "read response from");
    const auto rest = static_cast<std::size_t>(*length);
    body.resize(std::min(rest, kBodyPieceSize));
    auto [error, filled] = parse_buffered_piece(ex.connection->buffer, *ex.parser, body.data(), body.size());
    while (!error && !ex.parser->is_done()) {
      if (filled == body.size()) body.resize(std::min(rest, body.size() * 2));
      ex.acknowledge_owed();
      ex.arm_io_timer();
      const auto [read_error, got] = co_await buffer_first_read_piece(
          ex.connection->socket, ex.connection->buffer, *ex.parser, body.data() + filled, body.size() - filled);
      error = read_error;
      filled += got;
    }
    if (error) co_return ex.fail(error, "read response from");
    body.resize(filled);
    ex.body_ended();
  }
  // The usual end: the body came whole with the header, and no read_piece coroutine is needed to say so.
  while (!ex.parser->is_done()) {
    auto piece = co_await read_piece();
    if (!piece) co_return piece.error();
    if (piece->empty()) break;
    if (body.size() + piece->size() > limit) co_return ex.fail(http::error::body_limit, "read response from");
    body += *piece;
  }
  Response response{std::move(ex.parser->get().base())};
  response.body() = std::move(body);
  co_return response;
}

ChunkedUpload::ChunkedUpload(std::unique_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}
ChunkedUpload::ChunkedUpload(ChunkedUpload&&) noexcept = default;
ChunkedUpload& ChunkedUpload::operator=(ChunkedUpload&&) noexcept = default;
ChunkedUpload::~ChunkedUpload() = default;

asio::awaitable<NetResult<void>> ChunkedUpload::write(std::string_view piece) {
  if (!exchange_) co_return finished_upload();
  auto& ex = *exchange_;
  if (!ex.connection || ex.write_failed) co_return ex.pool->failure(asio::error::not_connected, "send body to");
  if (piece.empty()) co_return NetResult<void>{};
  const ChunkFrame frame(piece);
  const auto chunk = frame.buffers();
  boost::system::error_code error;
  const std::size_t at_once = write_now(ex.connection->socket, chunk, error);
  if (socket_was_full(error)) {
    error = co_await write_rest(ex.connection->socket, chunk, at_once, nullptr, [&ex] { ex.arm_io_timer(); });
  }
  co_return ex.chunk_written(error);
}

asio::awaitable<NetResult<ResponseStream>> ChunkedUpload::early_answer() {
  if (!exchange_) co_return finished_upload();
  if (!exchange_->connection || !exchange_->write_failed) {
    co_return exchange_->pool->failure(asio::error::not_connected, "read response from");
  }
  // Spent by this call, whatever it answers: later calls get finished_upload().
  std::unique_ptr<detail::Exchange> spent = std::move(exchange_);
  auto& ex = *spent;
  bool never_answered = false;
  if (auto read_error = co_await ex.read_early_answer(never_answered)) {
    co_return ex.fail(read_error, "read response from");
  }
  co_return ResponseStream(std::move(spent));
}

asio::awaitable<NetResult<ResponseStream>> ChunkedUpload::finish(const Trailers& trailers) {
  if (!exchange_) co_return finished_upload();
  if (!exchange_->connection || exchange_->write_failed) {
    co_return exchange_->pool->failure(asio::error::not_connected, "send body to");
  }
  // Spent by this call, whatever it answers: later calls get finished_upload().
  std::unique_ptr<detail::Exchange> spent = std::move(exchange_);
  auto& ex = *spent;
  std::string part;
  try {
    part = trailer_part(trailers);
  } catch (const std::invalid_argument& refused) {
    // The body cannot end as asked; left unended, the server sees it cut short, not a forged field.
    NetError error = ex.fail(make_error_code(boost::system::errc::invalid_argument), "send trailers to");
    error.message = fmt::format("{}: {}", error.message, refused.what());
    co_return error;
  }
  const boost::system::error_code error = co_await write_eagerly(
      ex.connection->socket, http::make_chunk_last(asio::buffer(part)), nullptr, [&ex] { ex.arm_io_timer(); });
  if (error) co_return ex.fail(error, "send body to");
  bool never_answered = false;
  if (auto read_error = co_await ex.read_header(never_answered)) co_return ex.fail(read_error, "read response from");
  co_return ResponseStream(std::move(spent));
}

HttpClient::HttpClient(asio::any_io_executor executor, HostPort server, ClientOptions options)
    : pool_(std::make_shared<detail::ConnectionPool>(std::move(executor), std::move(server), options)) {}

HttpClient::~HttpClient() { pool_->drop_all(); }

asio::awaitable<NetResult<Response>> HttpClient::request(Request request, RequestOptions options) {
  return this->request(wire_request(std::move(request), pool_->authority()), options);
}

asio::awaitable<NetResult<Response>> HttpClient::request(WireRequest request, RequestOptions options) {
  auto stream = co_await open(std::move(request), options);
  if (!stream) co_return stream.error();
  co_return co_await std::move(*stream).read_all();
}

asio::awaitable<NetResult<ResponseStream>> HttpClient::open(Request request, RequestOptions options) {
  return open(wire_request(std::move(request), pool_->authority()), options);
}

asio::awaitable<NetResult<ResponseStream>> HttpClient::open(WireRequest request, RequestOptions options) {
  const bool may_resend_unanswered = request.replayable;
  // The second attempt runs only when a pooled connection turned out dead before the server had the
  // request: the write failed, the server had closed it with a 408, or (for a replayable request)
  // the connection closed unanswered.
  for (int attempt = 0;; ++attempt) {
    auto ex = std::make_unique<detail::Exchange>(pool_, options, request.answer_has_no_body);
    ex->request_keeps_alive = request.keeps_alive;
    if (attempt == 0) ex->connection = pool_->take_idle(/*never_resent=*/!may_resend_unanswered);
    if (!ex->connection) {
      auto connected = co_await pool_->connect();
      if (!connected) co_return connected.error();
      ex->connection = std::move(*connected);
    }
    const bool may_retry = attempt == 0 && ex->connection->reused;
    const std::array<asio::const_buffer, 2> message{asio::buffer(request.head), asio::buffer(request.body)};
    boost::system::error_code write_error;
    std::size_t written = write_now(ex->connection->socket, message, write_error);
    if (socket_was_full(write_error)) {
      write_error =
          co_await write_rest(ex->connection->socket, message, written, &written, [&ex] { ex->arm_io_timer(); });
    }
    bool never_answered = false;
    if (write_error) {
      if (ex->write_timed_out()) co_return ex->fail(write_error, "send request to");
      // The server may have answered before it stopped reading (a body it refuses: see
      // ChunkedUpload::early_answer); else it had closed the pooled connection while it was idle, or
      // read the header, acted, and closed. An answer begun and cut short means the server saw the
      // request. Once any of it went out the server may have seen its header: only a replayable
      // request goes again then, as Go's net/http resends a POST only when none of it was written.
      const bool resendable = may_resend_unanswered || written == 0;
      if (co_await ex->read_early_answer(never_answered)) {
        if (may_retry && never_answered && resendable) continue;
        co_return ex->fail(write_error, "send request to");
      }
    } else if (auto read_error = co_await ex->read_header(never_answered)) {
      if (may_retry && never_answered && may_resend_unanswered) continue;
      co_return ex->fail(read_error, "read response from");
    }
    if (may_retry && timed_out_while_idle(*ex->parser)) continue;
    co_return ResponseStream(std::move(ex));
  }
}

asio::awaitable<NetResult<ChunkedUpload>> HttpClient::begin_chunked(http::request_header<> header,
                                                                    RequestOptions options,
                                                                    std::string_view first_piece) {
  if (header.find(http::field::host) == header.end()) header.set(http::field::host, pool_->authority());
  http::request<http::empty_body> head(std::move(header));
  head.chunked(true);
  for (int attempt = 0;; ++attempt) {
    auto ex = std::make_unique<detail::Exchange>(pool_, options, false);
    ex->request_keeps_alive = head.keep_alive();
    // A body that follows piece by piece is never sent twice: the connection is always checked.
    if (attempt == 0) ex->connection = pool_->take_idle(/*never_resent=*/true);
    if (!ex->connection) {
      auto connected = co_await pool_->connect();
      if (!connected) co_return connected.error();
      ex->connection = std::move(*connected);
    }
    const bool may_retry = attempt == 0 && ex->connection->reused;
    http::request_serializer<http::empty_body> serializer(head);
    const auto arm = [&ex] { ex->arm_io_timer(); };
    // No conditional operator around co_await: GCC 12 destroys such temporaries twice.
    boost::system::error_code error;
    std::size_t written = 0;
    if (first_piece.empty()) {
      error = co_await write_header_eagerly(ex->connection->socket, serializer, &written, arm);
    } else {
      error = co_await write_header_and_chunk_eagerly(ex->connection->socket, serializer, first_piece, &written, arm);
    }
    if (error) {
      // Sent again only if none of it went out: open()'s rule for a request that is not replayable,
      // which a body sent piece by piece never is.
      if (may_retry && !ex->write_timed_out() && written == 0) continue;
      co_return ex->fail(error, "send request to");
    }
    ex->disarm_io_timer();
    co_return ChunkedUpload(std::move(ex));
  }
}

void HttpClient::drop_all() { pool_->drop_all(); }

std::size_t HttpClient::idle_connections() const { return pool_->idle_count(); }

const HostPort& HttpClient::server() const { return pool_->server(); }

}  // namespace snapbus::net
