// Writes that finish without the event loop when the socket takes everything at once, as a small
// HTTP message on loopback always does.
//
//   http::response_serializer<http::string_body> serializer(response);
//   boost::system::error_code error = co_await write_eagerly(socket, serializer);
//   const ChunkFrame chunk(piece);
//   error = co_await write_eagerly(socket, chunk.buffers());
//   error = co_await write_header_and_chunk_eagerly(socket, chunked_head_serializer, first_piece);
//
// An asynchronous write whose first attempt succeeds still completes through the io_context's
// queue, and each trip through that queue costs a non-blocking epoll_wait: most of the dozen per
// invocation a relay used to make. Here the write is tried on the spot (the socket is put in
// non-blocking mode for synchronous calls; Asio's own operations are unaffected), and only what the
// socket did not take waits for it asynchronously.
//
// `before_waiting`, when given, runs only when part of the message must wait for the socket: a
// caller that limits a write's time (IoDeadline) arms its timer there, and a write that completes on
// the spot, the usual case, pays no timerfd_settime on the path of what it sends.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "chunk_frame.h"

namespace snapbus::net {

// Whether a write on the spot stopped because the socket took no more, so that the rest must wait.
inline bool socket_was_full(const boost::system::error_code& error) {
  return error == boost::asio::error::would_block || error == boost::asio::error::try_again;
}

namespace detail {

inline boost::system::error_code make_non_blocking(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code error;
  if (!socket.non_blocking()) socket.non_blocking(true, error);
  return error;
}

// The header `serializer` holds, as bytes, and marked as written. Not Beast's synchronous
// write_header: on a non-blocking socket that takes part of the header, it returns would_block
// without marking that part written, and the asynchronous write then sends it again.
template <bool IsRequest, typename Body, typename Fields>
std::string take_header(boost::beast::http::serializer<IsRequest, Body, Fields>& serializer,
                        boost::system::error_code& error) {
  serializer.split(true);
  std::string header;
  serializer.next(error, [&header](boost::system::error_code&, const auto& buffers) {
    for (const auto buffer : boost::beast::buffers_range_ref(buffers)) {
      header.append(static_cast<const char*>(buffer.data()), buffer.size());
    }
  });
  if (!error) serializer.consume(header.size());
  return header;
}

}  // namespace detail

// The whole message (or what is left of it) that `serializer` holds. `written`, when given, gets
// how many bytes the socket took, also when the write failed.
template <bool IsRequest, typename Body, typename Fields>
boost::asio::awaitable<boost::system::error_code> write_eagerly(
    boost::asio::ip::tcp::socket& socket, boost::beast::http::serializer<IsRequest, Body, Fields>& serializer,
    std::size_t* written = nullptr, const std::function<void()>& before_waiting = {}) {
  boost::system::error_code error = detail::make_non_blocking(socket);
  std::size_t at_once = 0;
  if (!error) at_once = boost::beast::http::write(socket, serializer, error);
  if (written != nullptr) *written = at_once;
  if (!socket_was_full(error)) co_return error;
  if (before_waiting) before_waiting();
  auto [rest_error, rest] =
      co_await boost::beast::http::async_write(socket, serializer, boost::asio::as_tuple(boost::asio::use_awaitable));
  if (written != nullptr) *written += rest;
  co_return rest_error;
}

// write_eagerly's first half, without a coroutine: what the socket takes of `buffers` now, and the
// error, which is socket_was_full when the rest must wait (write_rest). For a caller on the path of
// every request, where write_eagerly's own coroutine would cost a frame and a resumption each time:
//
//   std::size_t written = write_now(socket, buffers, error);
//   if (socket_was_full(error)) error = co_await write_rest(socket, buffers, written, &written);
//
// One attempt, one system call: a socket that took only part of the bytes has no room for the rest
// now, and a second attempt would only fail. (Asio's write would make it, and walk its
// consuming_buffers besides: a few hundred instructions per chunk of a relayed stream.)
template <typename ConstBufferSequence>
std::size_t write_now(boost::asio::ip::tcp::socket& socket, const ConstBufferSequence& buffers,
                      boost::system::error_code& error) {
  error = detail::make_non_blocking(socket);
  if (error) return 0;
  const std::size_t at_once = socket.write_some(buffers, error);
  if (!error && at_once < boost::asio::buffer_size(buffers)) error = boost::asio::error::would_block;
  return at_once;
}

// The rest of `buffers` after the `at_once` bytes write_now sent, waiting for the socket. What it
// sends is added to `written`, when given.
template <typename ConstBufferSequence>
boost::asio::awaitable<boost::system::error_code> write_rest(boost::asio::ip::tcp::socket& socket,
                                                             const ConstBufferSequence& buffers, std::size_t at_once,
                                                             std::size_t* written = nullptr,
                                                             const std::function<void()>& before_waiting = {}) {
  if (before_waiting) before_waiting();
  boost::beast::buffers_suffix<ConstBufferSequence> rest(buffers);
  rest.consume(at_once);
  auto [rest_error, more] =
      co_await boost::asio::async_write(socket, rest, boost::asio::as_tuple(boost::asio::use_awaitable));
  if (written != nullptr) *written += more;
  co_return rest_error;
}

// A buffer sequence (a chunk, the last chunk and its trailers).
template <typename ConstBufferSequence>
boost::asio::awaitable<boost::system::error_code> write_eagerly(boost::asio::ip::tcp::socket& socket,
                                                                const ConstBufferSequence& buffers,
                                                                std::size_t* written = nullptr,
                                                                const std::function<void()>& before_waiting = {}) {
  boost::system::error_code error;
  const std::size_t at_once = write_now(socket, buffers, error);
  if (written != nullptr) *written = at_once;
  if (!socket_was_full(error)) co_return error;
  co_return co_await write_rest(socket, buffers, at_once, written, before_waiting);
}

// Only the header that `serializer` holds (a chunked body follows). `written` as above.
template <bool IsRequest, typename Body, typename Fields>
boost::asio::awaitable<boost::system::error_code> write_header_eagerly(
    boost::asio::ip::tcp::socket& socket, boost::beast::http::serializer<IsRequest, Body, Fields>& serializer,
    std::size_t* written = nullptr, const std::function<void()>& before_waiting = {}) {
  boost::system::error_code error;
  const std::string header = detail::take_header(serializer, error);
  if (error) co_return error;
  co_return co_await write_eagerly(socket, boost::asio::const_buffer(header.data(), header.size()), written,
                                   before_waiting);
}

// The header that `serializer` holds and, in the same write, `piece` as the body's first chunk: a
// peer that can do nothing with a header alone (a Runtime API waiting for a streamed response's
// prelude) then wakes once, not twice. An empty `piece` sends the header alone (an empty chunk
// would end the body).
template <bool IsRequest, typename Fields>
boost::asio::awaitable<boost::system::error_code> write_header_and_chunk_eagerly(
    boost::asio::ip::tcp::socket& socket,
    boost::beast::http::serializer<IsRequest, boost::beast::http::empty_body, Fields>& serializer,
    std::string_view piece, std::size_t* written = nullptr, const std::function<void()>& before_waiting = {}) {
  boost::system::error_code error;
  const std::string header = detail::take_header(serializer, error);
  if (error) co_return error;
  const ChunkFrame frame(piece);
  const auto chunk = frame.buffers();
  const std::array<boost::asio::const_buffer, 4> header_and_chunk = {
      boost::asio::const_buffer(header.data(), header.size()), chunk[0], chunk[1], chunk[2]};
  co_return co_await write_eagerly(socket, header_and_chunk, written, before_waiting);
}

}  // namespace snapbus::net
