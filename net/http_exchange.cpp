#include "snapbus/http_exchange.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include "buffer_first_read.h"
#include "chunk_frame.h"
#include "eager_write.h"

namespace snapbus::net {
namespace {

// The parser of a body read piece by piece, moved from the one that read the header: it keeps the
// trailers in a list of strings, because Beast's fields would throw for a value over 65,533 bytes
// (a runtime's whole error, base64, can be longer). Their total size is bounded by the connection's
// buffer, which holds them whole before they are parsed.
class TrailerKeepingParser final : public http::request_parser<http::buffer_body> {
 public:
  explicit TrailerKeepingParser(http::request_parser<http::empty_body>&& header)
      : http::request_parser<http::buffer_body>(std::move(header)) {}

  Trailers trailers;

 private:
  // Called for trailer fields only: the header's were parsed before the move.
  void on_field_impl(http::field /*name*/, beast::string_view name, beast::string_view value,
                     boost::system::error_code& /*error*/) override {
    trailers.push_back({std::string(name), std::string(value)});
  }
};

// The exchange reports a failed write as the asynchronous Beast calls it replaced did: by throwing.
void throw_on_error(const boost::system::error_code& error) {
  if (error) throw boost::system::system_error(error);
}

}  // namespace

std::string plain_error_body(std::string_view type, std::string_view message) {
  return fmt::format("{}: {}\n", type, message);
}
std::string_view HttpExchange::header(std::string_view name) const {
  auto it = head_.find(name);
  if (it == head_.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::string HttpExchange::remote_address() const {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  return ec ? std::string("127.0.0.1") : ep.address().to_string();
}

void HttpExchange::require_method(http::verb verb) const {
  if (head_.method() != verb) {
    throw HttpError(http::status::method_not_allowed, "MethodNotAllowed",
                    fmt::format("{} expects {}", std::string(head_.target()), std::string(http::to_string(verb))));
  }
}

bool HttpExchange::reusable() const { return !close_after_ && (!has_body_ || body_consumed_) && keep_alive_; }

void HttpExchange::check_length(std::uint64_t limit) const {
  // Beast checks a Content-Length against the limit only while parsing the header, which happened
  // under the server's own limit: check it here against this reader's limit.
  if (content_length_ && *content_length_ > limit) {
    throw HttpError(http::status::payload_too_large, "RequestEntityTooLarge",
                    "request body exceeds " + std::to_string(limit) + " bytes");
  }
}

namespace {

// What the peer has sent, moved into `buffer` without blocking: the bytes of whatever follows this
// request on the connection (its unread body, a pipelined request), which the next read then
// parses first. Stops at the buffer's maximum size: `full`, and what is left stays in the socket.
enum class PeerInput { taken, closed, full };

PeerInput take_peer_input(tcp::socket& socket, beast::flat_buffer& buffer) {
  for (;;) {
    const std::size_t room = std::min(buffer.max_size() - buffer.size(), kMaxReadSize);
    if (room == 0) return PeerInput::full;
    const auto space = buffer.prepare(room);
    const ssize_t n = ::recv(socket.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
    if (n > 0) {
      buffer.commit(static_cast<std::size_t>(n));
    } else if (n == 0) {
      return PeerInput::closed;
    } else if (errno != EINTR) {
      return errno == EAGAIN || errno == EWOULDBLOCK ? PeerInput::taken : PeerInput::closed;
    }
  }
}

}  // namespace

void HttpExchange::watch_peer_close(std::function<void()> on_close) {
  watching_ = std::make_shared<bool>(true);
  await_peer_input(watching_, std::move(on_close));
}

void HttpExchange::await_peer_input(std::shared_ptr<bool> watching, std::function<void()> on_close) {
  socket_.async_wait(tcp::socket::wait_read,
                     [this, watching, on_close = std::move(on_close)](boost::system::error_code ec) mutable {
                       // Cancelled, or the exchange is gone (and perhaps the socket), or a completion that
                       // was already queued when stop_watching() came.
                       if (ec || !*watching) return;
                       switch (take_peer_input(socket_, buffer_)) {
                         case PeerInput::taken: await_peer_input(std::move(watching), std::move(on_close)); return;
                         case PeerInput::closed:
                           peer_gone_ = true;
                           on_close();
                           return;
                         case PeerInput::full: return;
                       }
                     });
}

bool HttpExchange::peer_closed() {
  if (!peer_gone_ && take_peer_input(socket_, buffer_) == PeerInput::closed) peer_gone_ = true;
  return peer_gone_;
}

void HttpExchange::stop_watching() {
  if (watching_) *watching_ = false;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

asio::awaitable<void> HttpExchange::send_continue() {
  // curl sends "Expect: 100-continue" before bodies over 1 KB and waits a second for this answer.
  if (!boost::beast::iequals(head_[http::field::expect], "100-continue")) co_return;
  http::response<http::empty_body> go_on{http::status::continue_, 11};
  http::response_serializer<http::empty_body> serializer{go_on};
  throw_on_error(co_await write_eagerly(socket_, serializer));
}

asio::awaitable<std::string> HttpExchange::read_body(std::uint64_t limit) {
  if (!has_body_) {
    body_consumed_ = true;
    co_return std::string();
  }
  check_length(limit);
  co_await send_continue();
  http::request_parser<http::string_body> body_parser(std::move(parser_));
  body_parser.body_limit(limit);
  const boost::system::error_code ec = co_await buffer_first_read_message(socket_, buffer_, body_parser);
  if (ec == http::error::body_limit) {
    throw HttpError(http::status::payload_too_large, "RequestEntityTooLarge",
                    "request body exceeds " + std::to_string(limit) + " bytes");
  }
  if (ec == asio::error::eof || ec == http::error::partial_message || ec == asio::error::connection_reset) {
    throw boost::system::system_error(ec);
  }
  if (ec) throw HttpError(http::status::bad_request, "InvalidRequest", "malformed HTTP body: " + ec.message());
  body_consumed_ = true;
  co_return std::move(body_parser.get().body());
}

asio::awaitable<Trailers> HttpExchange::read_body_pieces(std::uint64_t limit,
                                                         const std::function<void(std::string_view)>& on_piece) {
  co_return co_await relay_body_pieces(limit, [&on_piece](std::string_view piece) -> asio::awaitable<void> {
    on_piece(piece);
    co_return;
  });
}

asio::awaitable<Trailers> HttpExchange::relay_body_pieces(std::uint64_t limit, PieceSink on_piece) {
  if (!has_body_) {
    body_consumed_ = true;
    co_return Trailers{};
  }
  check_length(limit);
  co_await send_continue();
  TrailerKeepingParser body_parser(std::move(parser_));
  body_parser.body_limit(limit);
  // On the heap while the body is read, not in the coroutine frame of every exchange; left
  // uninitialised, as zeroing it would cost more than a small body.
  const auto chunk = std::make_unique_for_overwrite<char[]>(kBodyPieceSize);
  // Room for a whole piece per read: a buffer left the size of the header (Beast then reads 512
  // bytes at a time) made a 20 MiB upload some 40,000 reads and as many pieces. A body whose length
  // fits the buffer as it is (a runtime's small answer) costs no allocation.
  const std::size_t wanted = buffer_.size() + static_cast<std::size_t>(std::min<std::uint64_t>(
                                                  content_length_.value_or(kBodyPieceSize), kBodyPieceSize));
  const bool grown = buffer_.capacity() < wanted;
  if (grown) buffer_.reserve(wanted);
  while (!body_parser.is_done()) {
    const auto [ec, got] = co_await buffer_first_read_piece(socket_, buffer_, body_parser, chunk.get(), kBodyPieceSize);
    if (ec == http::error::body_limit) {
      throw HttpError(http::status::payload_too_large, "RequestEntityTooLarge",
                      "streamed body exceeds " + std::to_string(limit) + " bytes");
    }
    if (ec == asio::error::eof || ec == http::error::partial_message || ec == asio::error::connection_reset ||
        ec == http::error::end_of_stream) {
      throw boost::system::system_error(ec);
    }
    if (ec == http::error::buffer_overflow) {
      // The connection's buffer (http_server.cpp) has room for a header within the server's limit,
      // and a chunk's size line or the trailers did not fit.
      throw HttpError(http::status::bad_request, "InvalidRequest",
                      fmt::format("a chunk's size line or the trailers are over {} bytes", buffer_.max_size()));
    }
    if (ec) throw HttpError(http::status::bad_request, "InvalidRequest", "malformed HTTP body: " + ec.message());
    if (got > 0) co_await on_piece(std::string_view(chunk.get(), got));
  }
  body_consumed_ = true;
  // An idle connection keeps no piece-sized buffer (unless the next request is in it already).
  if (grown && buffer_.size() == 0) buffer_.shrink_to_fit();
  co_return std::move(body_parser.trailers);
}

// An HTTP/1.1 answer to any client (RFC 9110 lets a server answer in its own minor version), with
// its keep-alive said out loud to an HTTP/1.0 one, which otherwise takes the answer to close.
template <typename Response>
void HttpExchange::set_connection(Response& res) const {
  const bool keep = !close_after_ && keep_alive_;
  res.keep_alive(keep);
  if (keep && http10_client()) res.set(http::field::connection, "keep-alive");
}

asio::awaitable<void> HttpExchange::respond(http::status status, std::string body, std::string_view content_type,
                                            const http::fields* extra) {
  http::response<http::string_body> res{status, 11};
  if (has_body_ && !body_consumed_) close_after_ = true;
  for (const auto& field : response_headers_) res.insert(field.name_string(), field.value());
  if (extra != nullptr) {
    for (const auto& field : *extra) res.insert(field.name_string(), field.value());
  }
  if (!content_type.empty()) res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  set_connection(res);
  res.prepare_payload();
  // RFC 9110 section 8.6: never in a 1xx or 204 answer, where Beast writes "Content-Length: 0".
  if (res.result_int() < 200 || status == http::status::no_content) res.erase(http::field::content_length);
  responded_ = true;
  http::response_serializer<http::string_body> serializer{res};
  throw_on_error(co_await write_eagerly(socket_, serializer));
}

asio::awaitable<void> HttpExchange::respond_error(http::status status, std::string_view type,
                                                  std::string_view message) {
  co_await respond(status, error_format_.body(type, message), error_format_.content_type);
}

asio::awaitable<void> HttpExchange::begin_chunked(http::status status, const http::fields& headers,
                                                  std::string_view first_piece) {
  http::response<http::empty_body> res{status, 11};
  if (has_body_ && !body_consumed_) close_after_ = true;
  for (const auto& field : response_headers_) res.insert(field.name_string(), field.value());
  for (const auto& field : headers) res.insert(field.name_string(), field.value());
  answer_has_no_body_ = status == http::status::no_content || status == http::status::not_modified;
  if (answer_has_no_body_) {
    set_connection(res);
    http::response_serializer<http::empty_body> serializer{res};
    responded_ = true;
    throw_on_error(co_await write_header_eagerly(socket_, serializer));
    co_return;
  }
  if (http10_client()) {
    // HTTP/1.0 has no chunks: the body goes as it is, and the connection's end ends it.
    close_after_ = true;
  } else {
    res.chunked(true);
  }
  set_connection(res);
  http::response_serializer<http::empty_body> serializer{res};
  responded_ = true;
  if (first_piece.empty() || http10_client()) {
    throw_on_error(co_await write_header_eagerly(socket_, serializer));
    co_await write_chunk(first_piece);
    co_return;
  }
  throw_on_error(co_await write_header_and_chunk_eagerly(socket_, serializer, first_piece));
}

asio::awaitable<void> HttpExchange::write_chunk(std::string_view data) {
  if (data.empty() || answer_has_no_body_) co_return;  // an empty chunk would end the body
  if (http10_client()) {
    throw_on_error(co_await write_eagerly(socket_, asio::buffer(data.data(), data.size())));
    co_return;
  }
  const ChunkFrame frame(data);
  throw_on_error(co_await write_eagerly(socket_, frame.buffers()));
}

asio::awaitable<void> HttpExchange::end_chunked(const Trailers& trailers) {
  if (http10_client() || answer_has_no_body_) co_return;  // trailers cannot reach an HTTP/1.0 client
  const std::string part = trailer_part(trailers);
  throw_on_error(co_await write_eagerly(socket_, http::make_chunk_last(asio::buffer(part))));
}

}  // namespace snapbus::net
