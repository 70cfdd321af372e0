// HTTP reads that parse what the buffer already holds before they touch the socket.
//
//   http::response_parser<http::empty_body> header;
//   boost::system::error_code error = co_await buffer_first_read_header(socket, buffer, header);
//   http::response_parser<http::string_body> whole(std::move(header));
//   error = co_await buffer_first_read_message(socket, buffer, whole);  // often no read at all
//   auto [error, got] = co_await buffer_first_read_piece(socket, buffer, pieces, piece.data(), piece.size());
//   auto [error, here] = parse_buffered_piece(buffer, pieces, piece.data(), piece.size());  // no I/O
//
// One read from a socket usually brings a small message whole: header and body. Beast's reads
// parse the buffered part too, but when that needs no I/O they complete through the io_context's
// queue, and each trip through that queue costs a non-blocking epoll_wait: one per relayed body
// here. These parse the buffer on the spot and read the socket only for bytes still to come,
// which always means I/O, so the read completes directly. (Trying the socket on the spot as well
// would not pay: most reads here wait for a peer still at work, and a wait started after a failed
// attempt costs Asio an epoll_ctl, more than the trip it saves.) A field too large for Beast's
// fields (over 65,533 bytes, in a header or a trailer) is the error header_limit, never an
// exception.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace snapbus::net {

// At most this much is read from the socket at once, as Beast's own HTTP reads do.
inline constexpr std::size_t kMaxReadSize = std::size_t{64} * 1024;

// Feeds `parser` what `buffer` holds until `done(parser)` or the buffer runs short. Leaves
// `error` clear when more input is needed; otherwise it is the parser's (need_buffer when a
// buffer_body is full).
template <bool IsRequest, typename Done>
void parse_buffered(boost::beast::http::basic_parser<IsRequest>& parser, boost::beast::flat_buffer& buffer,
                    const Done& done, boost::system::error_code& error) {
  // A parser that is not eager takes one step per call (a chunk's size line, then its data): loop.
  while (!done(parser) && buffer.size() > 0) {
    std::size_t used = 0;
    try {
      used = parser.put(buffer.data(), error);
    } catch (const std::length_error&) {
      // Beast's fields hold at most 65,533 bytes per name or value and throw for more, in a
      // header or a trailer: that is a limit of the peer's message, not a bug here.
      error = boost::beast::http::error::header_limit;
      return;
    }
    buffer.consume(used);
    if (error == boost::beast::http::error::need_more) {
      error = {};
      return;
    }
    if (error || used == 0) return;
  }
}

// Parses until `done(parser)`: first what `buffer` holds, then what the socket brings. Errors are
// Beast's: end_of_stream for a peer that closed before a byte, need_buffer for a full buffer_body,
// header_limit for a header too long or one field (trailers too) over 65,533 bytes.
template <bool IsRequest, typename Done>
boost::asio::awaitable<boost::system::error_code> buffer_first_read(boost::asio::ip::tcp::socket& socket,
                                                                    boost::beast::flat_buffer& buffer,
                                                                    boost::beast::http::basic_parser<IsRequest>& parser,
                                                                    Done done) {
  boost::system::error_code error;
  parse_buffered(parser, buffer, done, error);
  // The socket is read here and the bytes parsed by parse_buffered, as Beast's http::async_read_some
  // would (its buffer sizes, its errors at the end of the stream), but within this coroutine: Beast
  // parses inside its own completion handler, where the std::length_error of a field too large for
  // its fields would escape the io_context's run() instead of reaching this reader.
  while (!error && !done(parser)) {
    const std::size_t size = boost::beast::read_size(buffer, kMaxReadSize);
    if (size == 0) co_return boost::beast::http::error::buffer_overflow;
    const auto [read_error, bytes] =
        co_await socket.async_read_some(buffer.prepare(size), boost::asio::as_tuple(boost::asio::use_awaitable));
    buffer.commit(bytes);
    if (read_error == boost::asio::error::eof) {
      if (!parser.got_some()) co_return boost::beast::http::error::end_of_stream;
      // What an end of stream means is the parser's: the end of a body delimited by it, or a
      // message cut short (partial_message).
      parse_buffered(parser, buffer, done, error);
      if (!error && !done(parser)) parser.put_eof(error);
      co_return error;
    }
    if (read_error) co_return read_error;
    parse_buffered(parser, buffer, done, error);
  }
  co_return error;
}

// The header only, as http::async_read_header reads it.
template <bool IsRequest>
boost::asio::awaitable<boost::system::error_code> buffer_first_read_header(
    boost::asio::ip::tcp::socket& socket, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<IsRequest>& parser) {
  parser.eager(false);
  return buffer_first_read(socket, buffer, parser, [](const auto& p) { return p.is_header_done(); });
}

// The whole message, as http::async_read reads it.
template <bool IsRequest>
boost::asio::awaitable<boost::system::error_code> buffer_first_read_message(
    boost::asio::ip::tcp::socket& socket, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<IsRequest>& parser) {
  parser.eager(true);
  return buffer_first_read(socket, buffer, parser, [](const auto& p) { return p.is_done(); });
}

// How much of a body one piece holds at most: what a streamed body is read and relayed in.
inline constexpr std::size_t kBodyPieceSize = std::size_t{64} * 1024;

namespace detail {

// Points `parser`'s body at `piece`. The returned test is true once body bytes have arrived there
// or the body has ended: a piece is one chunk's bytes at most, never several gathered.
template <bool IsRequest>
auto aim_at_piece(boost::beast::http::parser<IsRequest, boost::beast::http::buffer_body>& parser, char* piece,
                  std::size_t size) {
  auto& body = parser.get().body();
  body.data = piece;
  body.size = size;
  return [&body, size](const auto& p) { return p.is_done() || body.size < size; };
}

// The error and the length of the piece that aim_at_piece's parse left; a full piece is not an error.
template <bool IsRequest>
std::tuple<boost::system::error_code, std::size_t> piece_parsed(
    boost::system::error_code error,
    const boost::beast::http::parser<IsRequest, boost::beast::http::buffer_body>& parser, std::size_t size) {
  if (error == boost::beast::http::error::need_buffer) error = {};
  return {error, size - parser.get().body().size};
}

}  // namespace detail

// The next bytes of a body, into `piece`: at least one unless the body ends (then 0). One read may
// only get through a chunk's size line, so this reads on until body bytes arrive.
template <bool IsRequest>
boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> buffer_first_read_piece(
    boost::asio::ip::tcp::socket& socket, boost::beast::flat_buffer& buffer,
    boost::beast::http::parser<IsRequest, boost::beast::http::buffer_body>& parser, char* piece, std::size_t size) {
  const auto piece_ready = detail::aim_at_piece(parser, piece, size);
  const boost::system::error_code error = co_await buffer_first_read(socket, buffer, parser, piece_ready);
  co_return detail::piece_parsed(error, parser, size);
}

// What buffer_first_read_piece would give from the bytes `buffer` already holds, without touching
// the socket: 0 when none of the body is here yet (or it has ended). A relay that is about to write
// anyway sends these along in the same write, which wakes its peer once instead of twice.
template <bool IsRequest>
std::tuple<boost::system::error_code, std::size_t> parse_buffered_piece(
    boost::beast::flat_buffer& buffer, boost::beast::http::parser<IsRequest, boost::beast::http::buffer_body>& parser,
    char* piece, std::size_t size) {
  const auto piece_ready = detail::aim_at_piece(parser, piece, size);
  boost::system::error_code error;
  parse_buffered(parser, buffer, piece_ready, error);
  return detail::piece_parsed(error, parser, size);
}

}  // namespace snapbus::net
