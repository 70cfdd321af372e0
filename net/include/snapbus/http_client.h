// An asynchronous HTTP/1.1 client for one server, over Boost.Beast, with a keep-alive pool that can be
// dropped after a SnapStart restore.
//
//   auto server = snapbus::net::parse_host_port("127.0.0.1:9001");  // or "[::1]:9001", "localhost:9001"
//   snapbus::net::HttpClient client(io.get_executor(), *server);
//   snapbus::net::Request req{http::verb::post, "/echo", 11};
//   req.body() = "hello";
//   auto res = co_await client.request(std::move(req));
//   if (!res) std::cerr << res.error().message << '\n';  // "connect to 127.0.0.1:9001: Connection refused"
//
//   auto upload = co_await client.begin_chunked(header);    // Transfer-Encoding: chunked
//   co_await upload->write("first");
//   auto stream = co_await upload->finish(trailers);        // then read the answer piece by piece
//   for (auto piece = co_await stream->read_piece(); piece && !piece->empty(); piece = co_await stream->read_piece()) {
//     use(*piece);  // a view, valid until the stream's next call
//   }
//   RelayEnd end = co_await answer->relay_to(*upload);  // or pass an answer's body on into an upload
//
//   client.drop_all();  // after a restore: no connection opened before the snapshot is used again
//
// Network failures are values (NetResult), never exceptions: a runtime client must decide what a refused
// connection means. What a call takes by value may be a temporary; what it takes by view or reference (a
// chunk, the trailers) must stay valid until the call completes: co_await it where it is made. Not thread-safe: use one
// client from one thread (or strand); several coroutines may use it at once, each on its own connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/result.hpp>

#include "snapbus/http_trailers.h"
#include "snapbus/wire_request.h"

namespace snapbus::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// A failed network step: the code the system or Beast gave, and a sentence naming the step and the
// server ("read response from 127.0.0.1:9001: end of stream").
struct NetError {
  boost::system::error_code code;
  std::string message;
};

// Lets NetResult::value() throw boost::system::system_error when a caller prefers exceptions.
[[noreturn]] void throw_exception_from_error(const NetError& error, const boost::source_location& location);

template <typename T>
using NetResult = boost::system::result<T, NetError>;

// Where the server is. `host` is a name or an address without brackets; authority() adds them back
// for IPv6, as the Host header needs.
struct HostPort {
  std::string host;
  std::string port;
  [[nodiscard]] std::string authority() const;
};

// "host:port", "1.2.3.4:80", "[::1]:9001" (what AWS_LAMBDA_RUNTIME_API holds). The port is required.
NetResult<HostPort> parse_host_port(std::string_view text);

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  // Every write, and every read that is not a long poll.
  std::chrono::milliseconds io_timeout{30000};
  // A pooled connection unused for longer is closed instead of reused: the server may have closed it.
  std::chrono::milliseconds idle_timeout{30000};
  // The same, for a request that is never sent twice (a POST without an Idempotency-Key): a close
  // that comes as it goes out fails it. Below a server's keep-alive timeout, that close never comes,
  // even when the server wakes from a freeze with its timer long due and the check before reuse
  // cannot see it yet. No lower than idle_timeout unless set.
  std::chrono::milliseconds unreplayable_idle_timeout = std::chrono::milliseconds::max();
  std::size_t max_idle_connections = 16;
  // For read_all() and request(): a longer body fails with http::error::body_limit.
  std::uint64_t body_limit = 64ULL * 1024 * 1024;
  // An answer's header longer than this fails with http::error::header_limit (Beast measures what
  // is still unparsed as bytes arrive, so the bound is approximate). Beast's own default, 8 KiB, is
  // less than a web app's answer may carry (a stack of Set-Cookie lines with tokens, a long
  // Content-Security-Policy), which LWA's client passes on. One field stays under 64 KiB
  // (buffer_first_read.h). A chunk's size line and the trailers, held whole before they are parsed,
  // may be this and two reads long; past that the answer fails (dynamic buffer overflow).
  std::uint32_t header_limit = 1024 * 1024;
};

struct RequestOptions {
  // The peer may take as long as it likes, and the caller's own deadline is the limit (Lambda's
  // function timeout): the answer to a long poll (Runtime API invocation/next, restore/next), the
  // app's answer to an invocation, the app reading a large request body, or the Runtime API taking a
  // streamed response whose reader applies backpressure. No read or write timeout; a peer that goes
  // away still ends the exchange (the connection is reset or closed).
  bool no_io_timeout = false;
};

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

namespace detail {
class ConnectionPool;
struct Exchange;
}  // namespace detail

class ChunkedUpload;

// How ResponseStream::relay_to() ended: at the body's end, with both sides fine, or at the first
// failure, on the side it names.
struct RelayEnd {
  NetResult<void> read;   // the answer could not be read to its end
  NetResult<void> write;  // the upload did not take a piece
};

// The answer to one request, read after its header arrived. Its connection returns to the pool once the
// body has been read to the end, unless either side asked to close it.
class ResponseStream {
 public:
  explicit ResponseStream(std::unique_ptr<detail::Exchange> exchange);
  ResponseStream(ResponseStream&&) noexcept;
  ResponseStream& operator=(ResponseStream&&) noexcept;
  ~ResponseStream();

  // Status and fields; once the body has ended, the trailers too.
  [[nodiscard]] const http::response_header<>& header() const;
  [[nodiscard]] unsigned status() const { return header().result_int(); }

  // The next bytes of the body as they arrive, or empty at its end. A view into the stream's own
  // buffer, valid until the stream's next call: a relay writes each piece on before it reads the
  // next, and a piece (up to 64 KB) is neither allocated nor copied on the way.
  asio::awaitable<NetResult<std::string_view>> read_piece();

  // The next bytes of the body if they have already arrived (with the header, say), without waiting:
  // empty when none have. For a relay about to write anyway, which sends them along in that write.
  // A view, valid as read_piece()'s.
  NetResult<std::string_view> arrived_piece();

  // The rest of the body, up to ClientOptions::body_limit, with the header (and trailers). It spends
  // the stream: the header moves into the answer rather than being copied (a list of fields, each
  // allocated), so it is called on an rvalue, std::move(stream).read_all().
  asio::awaitable<NetResult<Response>> read_all() &&;

  // Sends the rest of the body on through `upload` until it ends, each piece as one chunk as soon as
  // it arrives, the next read only once the piece is sent: a slow reader of the upload slows the
  // server down instead of filling memory. What a loop over read_piece() and upload.write() does,
  // in one coroutine: per piece, such a loop's nested coroutines (a frame, a resumption and a return
  // each) cost more than parsing and framing the piece. The upload is left open, for finish().
  asio::awaitable<RelayEnd> relay_to(ChunkedUpload& upload);

 private:
  std::unique_ptr<detail::Exchange> exchange_;
};

// A request whose body is sent as it is produced (Transfer-Encoding: chunked), ended by trailers.
class ChunkedUpload {
 public:
  explicit ChunkedUpload(std::unique_ptr<detail::Exchange> exchange);
  ChunkedUpload(ChunkedUpload&&) noexcept;
  ChunkedUpload& operator=(ChunkedUpload&&) noexcept;
  ~ChunkedUpload();

  // Sends `piece` as one chunk at once. An empty piece sends nothing (a zero-length chunk ends the body).
  asio::awaitable<NetResult<void>> write(std::string_view piece);

  // After a write failed because the server stopped reading: the answer it sent before it did, if
  // any. A server that refuses a body it will not take (Go's net/http, Lambda's Runtime API behind
  // it, reads at most 256 KB of an unread body) answers and closes; the answer is already here.
  // Fails when there is none or the write had timed out. The upload is spent as finish() leaves it.
  asio::awaitable<NetResult<ResponseStream>> early_answer();

  // Sends the last chunk with `trailers` (list their names in the request's Trailer field), then waits for
  // the answer's header. The upload is then spent, whatever the outcome: later calls fail with
  // errc::operation_not_permitted.
  // Trailers that would break the framing (see trailer_part) fail with errc::invalid_argument, and
  // the connection is closed with the body unended.
  asio::awaitable<NetResult<ResponseStream>> finish(const Trailers& trailers = {});

 private:
  friend class ResponseStream;  // relay_to() writes each piece here without a coroutine per piece

  std::unique_ptr<detail::Exchange> exchange_;
};

class HttpClient {
 public:
  HttpClient(asio::any_io_executor executor, HostPort server, ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request with a buffered body (Host and Content-Length are filled in) and reads the whole answer.
  asio::awaitable<NetResult<Response>> request(Request request, RequestOptions options = {});
  // The same for a request already in its wire form (wire_request.h), which names its own Host.
  asio::awaitable<NetResult<Response>> request(WireRequest request, RequestOptions options = {});

  // Sends a request with a buffered body and returns once the answer's header has arrived.
  //
  // A pooled connection may have been closed by the server while it sat idle. When that shows (the write
  // fails, or the server closes without sending a byte of an answer), the request is sent once more on a
  // fresh connection: the server never saw it. A server that answers before it has read the whole
  // body and stops reading (a body it refuses) is heard: its answer is returned, not the failed write.
  // A request HTTP cannot frame (a TRACE with a body) throws std::invalid_argument from the call
  // itself, before anything is awaited.
  asio::awaitable<NetResult<ResponseStream>> open(Request request, RequestOptions options = {});
  // The same for a request already in its wire form (wire_request.h), which names its own Host.
  asio::awaitable<NetResult<ResponseStream>> open(WireRequest request, RequestOptions options = {});

  // Sends `header` with Transfer-Encoding: chunked; the body follows through the returned upload.
  // A non-empty `first_piece` goes as the first chunk in the same write as the header, so a server
  // that waits for the body's start wakes once.
  asio::awaitable<NetResult<ChunkedUpload>> begin_chunked(http::request_header<> header, RequestOptions options = {},
                                                          std::string_view first_piece = {});

  // Closes every idle connection and makes sure no connection in use now is pooled again. Call it after a
  // restore: a connection opened before the snapshot points at a socket the restored copy does not own.
  void drop_all();

  [[nodiscard]] std::size_t idle_connections() const;
  [[nodiscard]] const HostPort& server() const;

 private:
  std::shared_ptr<detail::ConnectionPool> pool_;
};

}  // namespace snapbus::net
