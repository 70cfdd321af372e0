// One HTTP/1.1 request/response exchange on a Beast stream, as the server loop (http_server.h)
// hands it to a handler. The body is read only when the handler asks, whole or piece by piece
// (for streamed bodies); the answer goes out whole or in chunks.
//
//   asio::awaitable<void> handle(snapbus::net::HttpExchange& ex) {
//     ex.require_method(http::verb::post);                          // HttpError 405 otherwise
//     std::string body = co_await ex.read_body(1 << 20);            // HttpError 413 past the limit
//     co_await ex.respond(http::status::ok, body, "text/plain");
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "snapbus/http_trailers.h"

namespace snapbus::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Thrown by handlers (and body readers) to answer with an error: the status, a machine-readable
// type and a sentence, written out in the server's HttpErrorFormat.
class HttpError : public std::runtime_error {
 public:
  HttpError(http::status status, std::string type, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)) {}
  [[nodiscard]] http::status status() const { return status_; }
  [[nodiscard]] const std::string& type() const { return type_; }

 private:
  http::status status_;
  std::string type_;
};

// "<type>: <message>\n": the error body of a server that was given no other format.
std::string plain_error_body(std::string_view type, std::string_view message);

// How a server writes error answers (the body from the error's type and message, and its content
// type), so the protocol above HTTP chooses: Lambda's APIs answer {"errorMessage","errorType"} JSON.
struct HttpErrorFormat {
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string (*body)(std::string_view type, std::string_view message) = plain_error_body;
};

class HttpExchange {
 public:
  // Made by the server loop once a request header has been read (or failed to parse).
  HttpExchange(tcp::socket& socket, beast::flat_buffer& buffer, http::request_parser<http::empty_body>& parser,
               const HttpErrorFormat& error_format)
      : socket_(socket),
        buffer_(buffer),
        parser_(parser),
        error_format_(error_format),
        head_(std::move(parser.get().base())),
        has_body_(!parser.is_done()),
        content_length_(parser.is_header_done() ? parser.content_length() : boost::none),
        keep_alive_(parser.is_header_done() && parser.keep_alive()) {}
  // Ends a watch_peer_close() the handler left running.
  ~HttpExchange() {
    if (watching_) *watching_ = false;
  }
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;
  HttpExchange(HttpExchange&&) = delete;
  HttpExchange& operator=(HttpExchange&&) = delete;

  [[nodiscard]] const http::request_header<>& request() const { return head_; }
  // The value of header `name`, empty when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const;
  [[nodiscard]] std::string remote_address() const;
  // Throws HttpError 405 MethodNotAllowed unless the request uses `verb`.
  void require_method(http::verb verb) const;

  // The whole body. Throws HttpError 413 past `limit`, 400 on a malformed body, and
  // boost::system::system_error when the peer goes away before its end.
  asio::awaitable<std::string> read_body(std::uint64_t limit);

  // Calls on_piece as bytes arrive; returns the trailers of a chunked body (none for another).
  // Throws as read_body, and HttpError 400 when a chunk's size line or the trailers outgrow what the
  // connection holds unparsed (the server's header limit and two reads).
  asio::awaitable<Trailers> read_body_pieces(std::uint64_t limit,
                                             const std::function<void(std::string_view)>& on_piece);

  // The same, for a handler that passes each piece on (a proxy): the next piece is read only once
  // on_piece has completed, so a slow receiver slows the sender down instead of filling memory.
  using PieceSink = std::function<asio::awaitable<void>(std::string_view)>;
  asio::awaitable<Trailers> relay_body_pieces(std::uint64_t limit, PieceSink on_piece);

  // `extra` headers go out as given; an empty content_type sends none.
  asio::awaitable<void> respond(http::status status, std::string body,
                                std::string_view content_type = "application/json",
                                const http::fields* extra = nullptr);
  // A header every answer of this exchange carries, errors and chunked answers included.
  void add_response_header(std::string_view name, std::string_view value) { response_headers_.set(name, value); }
  // An error answer in the server's HttpErrorFormat.
  asio::awaitable<void> respond_error(http::status status, std::string_view type, std::string_view message);

  // A chunked answer: the head, any number of chunks, then the last chunk with optional trailers.
  // A non-empty `first_piece` goes as the first chunk in the head's write: the reader wakes once.
  // A 204 or 304 has no body (RFC 9110 15.3.5, 15.4.5), so no chunked framing either: its head is the
  // whole answer, and the pieces and trailers written after it are dropped.
  asio::awaitable<void> begin_chunked(http::status status, const http::fields& headers,
                                      std::string_view first_piece = {});
  asio::awaitable<void> write_chunk(std::string_view data);
  asio::awaitable<void> end_chunked(const Trailers& trailers = {});

  // For a handler that waits for something other than the peer (a long poll, a queue): calls
  // on_close once if the peer closes the connection meanwhile, which no pending read would notice.
  // Bytes the peer sends meanwhile (a pipelined request, a body this request should not have had)
  // are kept for the connection's next read, and the watch goes on; it ends when the connection's
  // buffer is full, or with stop_watching(), which the handler calls before it uses the connection
  // again.
  void watch_peer_close(std::function<void()> on_close);
  void stop_watching();
  // Whether the peer has closed the connection by now, without blocking (what it sent before is
  // kept, as the watch keeps it): for a handler about to answer, since a close that came with the
  // awaited event is seen by no watch yet.
  [[nodiscard]] bool peer_closed();

  [[nodiscard]] bool responded() const { return responded_; }
  // Whether the connection can carry another request after this exchange.
  [[nodiscard]] bool reusable() const;
  // Closes the connection after this exchange (e.g. to leave a chunked body unterminated).
  void close_after() { close_after_ = true; }

 private:
  asio::awaitable<void> send_continue();
  template <typename Response>
  void set_connection(Response& res) const;
  // An HTTP/1.0 client reads no chunks: a "chunked" answer reaches it as plain bytes, ended by the close.
  [[nodiscard]] bool http10_client() const { return head_.version() < 11; }
  void check_length(std::uint64_t limit) const;
  void await_peer_input(std::shared_ptr<bool> watching, std::function<void()> on_close);

  tcp::socket& socket_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::empty_body>& parser_;
  const HttpErrorFormat& error_format_;
  // Taken from the parser, not copied (a copy allocates each field again): the body readers move the
  // parser into one of another body type, and read only the body, the framing the parser keeps, and
  // the trailers.
  http::request_header<> head_;
  http::fields response_headers_;
  std::shared_ptr<bool> watching_;  // shared with the pending watch_peer_close() wait
  bool has_body_;
  boost::optional<std::uint64_t> content_length_;
  bool keep_alive_;
  bool body_consumed_ = false;
  bool responded_ = false;
  bool close_after_ = false;
  bool answer_has_no_body_ = false;  // begin_chunked's status was 204 or 304
  bool peer_gone_ = false;           // a watch or peer_closed() saw the end of the stream
};

}  // namespace snapbus::net
