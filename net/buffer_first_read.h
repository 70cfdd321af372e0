// HTTP reads that parse what the buffer already holds before they touch the socket.
//
//   http::response_parser<http::empty_body> header;
//   boost::system::error_code error = co_await buffer_first_read_header(socket, buffer, header);
//   http::response_parser<http::string_body> whole(std::move(header));
//   error = co_await buffer_first_read_message(socket, buffer, whole);  // often no read at all
//   auto [error, got] = co_await buffer_first_read_piece(socket, buffer, pieces, piece.data(), piece.size());
//
// One read from a socket usually brings a small message whole: header and body. Beast's reads
// parse the buffered part too, but when that needs no I/O they complete through the io_context's
// queue, and each trip through that queue costs a non-blocking epoll_wait: one per relayed body
// here. These parse the buffer on the spot and use Beast's asynchronous read only for bytes still
// to come, which always means I/O, so Beast completes them directly. (Trying the socket on the
// spot as well would not pay: most reads here wait for a peer still at work, and a wait started
// after a failed attempt costs Asio an epoll_ctl, more than the trip it saves.)
#pragma once

#include <cstddef>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

namespace snapbus::net {

// Feeds `parser` what `buffer` holds until `done(parser)` or the buffer runs short. Leaves
// `error` clear when more input is needed; otherwise it is the parser's (need_buffer when a
// buffer_body is full).
template <bool IsRequest, typename Done>
void parse_buffered(boost::beast::http::basic_parser<IsRequest>& parser, boost::beast::flat_buffer& buffer,
                    const Done& done, boost::system::error_code& error) {
  // A parser that is not eager takes one step per call (a chunk's size line, then its data): loop.
  while (!done(parser) && buffer.size() > 0) {
    const std::size_t used = parser.put(buffer.data(), error);
    buffer.consume(used);
    if (error == boost::beast::http::error::need_more) {
      error = {};
      return;
    }
    if (error || used == 0) return;
  }
}

// Parses until `done(parser)`: first what `buffer` holds, then what the socket brings. Errors are
// Beast's: end_of_stream for a peer that closed before a byte, need_buffer for a full buffer_body.
template <bool IsRequest, typename Done>
boost::asio::awaitable<boost::system::error_code> buffer_first_read(boost::asio::ip::tcp::socket& socket,
                                                                    boost::beast::flat_buffer& buffer,
                                                                    boost::beast::http::basic_parser<IsRequest>& parser,
                                                                    Done done) {
  boost::system::error_code error;
  parse_buffered(parser, buffer, done, error);
  while (!error && !done(parser)) {
    auto [read_error, bytes] = co_await boost::beast::http::async_read_some(
        socket, buffer, parser, boost::asio::as_tuple(boost::asio::use_awaitable));
    error = read_error;
    // Beast's read stops after one step of a parser that is not eager (a chunk's size line, say):
    // the rest of what it read is parsed here, not by another read that would need no I/O.
    if (!error) parse_buffered(parser, buffer, done, error);
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

// The next bytes of a body, into `piece`: at least one unless the body ends (then 0). One read may
// only get through a chunk's size line, so this reads on until body bytes arrive; a full piece is
// not an error.
template <bool IsRequest>
boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> buffer_first_read_piece(
    boost::asio::ip::tcp::socket& socket, boost::beast::flat_buffer& buffer,
    boost::beast::http::parser<IsRequest, boost::beast::http::buffer_body>& parser, char* piece, std::size_t size) {
  auto& body = parser.get().body();
  body.data = piece;
  body.size = size;
  boost::system::error_code error = co_await buffer_first_read(
      socket, buffer, parser, [&body, size](const auto& p) { return p.is_done() || body.size < size; });
  if (error == boost::beast::http::error::need_buffer) error = {};
  co_return std::tuple{error, size - body.size};
}

}  // namespace snapbus::net
