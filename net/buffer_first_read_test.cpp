// Buffer-first reads on real loopback sockets: what the buffer holds is parsed without a trip
// through the event loop, what is still to come is read (also in pieces), and a peer that goes away
// is Beast's error, as with Beast's own reads.
#include "buffer_first_read.h"

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "testing/connected_pair.h"
#include "testing/run_to_end.h"

namespace snapbus::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using testing::ConnectedPair;
using testing::run_to_end;

void write_all(tcp::socket& socket, const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }

constexpr const char* kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// buffer_first_read_piece, run to its end: its error and the piece it read.
std::tuple<boost::system::error_code, std::string> read_piece(asio::io_context& io, tcp::socket& socket,
                                                              beast::flat_buffer& buffer,
                                                              http::response_parser<http::buffer_body>& parser) {
  std::array<char, 64> piece{};
  std::size_t got = 0;
  auto read = [&]() -> asio::awaitable<boost::system::error_code> {
    auto [error, bytes] = co_await buffer_first_read_piece(socket, buffer, parser, piece.data(), piece.size());
    got = bytes;
    co_return error;
  };
  const auto error = run_to_end(io, read());
  return {error, std::string(piece.data(), got)};
}

TEST(BufferFirstRead, AHeaderLeavesTheBodyInTheBufferForTheNextRead) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, kResponse);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> header;
  EXPECT_FALSE(run_to_end(io, buffer_first_read_header(pair.near, buffer, header)));
  EXPECT_TRUE(header.is_header_done());
  EXPECT_EQ(header.get()[http::field::content_length], "5");
  http::response_parser<http::string_body> whole(std::move(header));
  EXPECT_FALSE(run_to_end(io, buffer_first_read_message(pair.near, buffer, whole)));
  EXPECT_EQ(whole.get().body(), "hello");
  EXPECT_EQ(buffer.size(), 0U);
}

// What they are for: a body the header's read already brought is parsed within the handler that
// asks for it. Beast's read of the same body completes through the io_context's queue, and each
// such trip costs a relay a system call (a non-blocking epoll_wait).
TEST(BufferFirstRead, ABodyAlreadyBufferedIsReadWithinTheHandlerThatAsks) {
  const auto read_in_first_handler = [](bool buffer_first) {
    asio::io_context io;
    ConnectedPair pair(io);
    write_all(pair.far, kResponse);
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> header;
    http::read_header(pair.near, buffer, header);  // brings the body along on loopback
    EXPECT_EQ(buffer.size(), 5U);
    http::response_parser<http::string_body> whole(std::move(header));
    bool finished = false;
    auto read = [&]() -> asio::awaitable<void> {
      if (buffer_first) {
        co_await buffer_first_read_message(pair.near, buffer, whole);
      } else {
        co_await http::async_read(pair.near, buffer, whole, asio::as_tuple(asio::use_awaitable));
      }
      finished = true;
    };
    asio::co_spawn(io, read(), asio::detached);
    io.run_one_for(10s);  // the coroutine's start
    const bool at_once = finished;
    io.run_for(10s);
    EXPECT_TRUE(finished && whole.is_done());
    EXPECT_EQ(whole.get().body(), "hello");
    return at_once;
  };
  EXPECT_TRUE(read_in_first_handler(true));
  EXPECT_FALSE(read_in_first_handler(false)) << "Beast's read no longer goes through the queue: this gains nothing";
}

// A parser that is not eager (one moved from a header parser) takes a chunk's size line and its
// data in separate steps. Beast's read stops after the first: the data that came with it is taken
// within the same handler, not by another read through the event loop.
TEST(BufferFirstRead, AChunkIsReadWithinTheHandlerThatReceivesIt) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  http::read_header(pair.near, buffer, parser);
  std::array<char, 64> piece{};
  std::size_t got = 0;
  bool finished = false;
  auto read = [&]() -> asio::awaitable<void> {
    std::tie(std::ignore, got) =
        co_await buffer_first_read_piece(pair.near, buffer, parser, piece.data(), piece.size());
    finished = true;
  };
  asio::co_spawn(io, read(), asio::detached);
  io.run_one_for(10s);  // the coroutine's start: nothing to read yet, so the read waits
  ASSERT_FALSE(finished);
  write_all(pair.far, "5\r\nhello\r\n");
  std::this_thread::sleep_for(20ms);
  io.run_one_for(10s);  // the socket's readiness: the read, and what follows it
  EXPECT_TRUE(finished) << "a step that needed no read went through the event loop";
  io.run_for(10s);
  EXPECT_EQ(std::string(piece.data(), got), "hello");
}

TEST(BufferFirstRead, AMessageThatComesLaterInPiecesIsRead) {
  asio::io_context io;
  ConnectedPair pair(io);
  std::thread peer([&] {
    std::this_thread::sleep_for(50ms);
    write_all(pair.far, "HTTP/1.1 200 OK\r\nContent-");
    std::this_thread::sleep_for(50ms);
    write_all(pair.far, "Length: 5\r\n\r\nhel");
    std::this_thread::sleep_for(50ms);
    write_all(pair.far, "lo");
  });
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  const auto error = run_to_end(io, buffer_first_read_message(pair.near, buffer, parser));
  peer.join();
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(parser.get().body(), "hello");
}

TEST(BufferFirstRead, AChunkedBodyIsReadUntilBytesOfItArrive) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n");
  std::thread peer([&] {
    std::this_thread::sleep_for(50ms);
    write_all(pair.far, "hello\r\n0\r\n\r\n");
  });
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  EXPECT_FALSE(run_to_end(io, buffer_first_read_header(pair.near, buffer, parser)));
  const auto [error, piece] = read_piece(io, pair.near, buffer, parser);
  peer.join();
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(piece, "hello");
}

TEST(BufferFirstRead, ABufferedPieceIsWhatArrivedWithTheHeaderAndNoMore) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\n");
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  ASSERT_FALSE(run_to_end(io, buffer_first_read_header(pair.near, buffer, parser)));
  write_all(pair.far, "abc\r\n0\r\n\r\n");  // in the socket, not yet in the buffer
  std::this_thread::sleep_for(20ms);
  std::array<char, 64> piece{};
  auto [error, got] = parse_buffered_piece(buffer, parser, piece.data(), piece.size());
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(std::string(piece.data(), got), "hello");
  std::tie(error, got) = parse_buffered_piece(buffer, parser, piece.data(), piece.size());
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(got, 0U) << "the next chunk's size line is here, its bytes are not: the socket was read";
  EXPECT_EQ(buffer.size(), 0U);
  const auto [read_error, next] = read_piece(io, pair.near, buffer, parser);
  EXPECT_FALSE(read_error) << read_error.message();
  EXPECT_EQ(next, "abc");
}

TEST(BufferFirstRead, ABufferedPieceReportsAMalformedChunk) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n");
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  ASSERT_FALSE(run_to_end(io, buffer_first_read_header(pair.near, buffer, parser)));
  std::array<char, 64> piece{};
  const auto [error, got] = parse_buffered_piece(buffer, parser, piece.data(), piece.size());
  EXPECT_EQ(error, http::error::bad_chunk);
  EXPECT_EQ(got, 0U);
}

TEST(BufferFirstRead, APieceTakesWhatFitsAndTheRestComesNext) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  EXPECT_FALSE(run_to_end(io, buffer_first_read_header(pair.near, buffer, parser)));
  std::array<char, 4> piece{};
  std::string body;
  auto read = [&]() -> asio::awaitable<boost::system::error_code> {
    for (;;) {
      auto [error, got] = co_await buffer_first_read_piece(pair.near, buffer, parser, piece.data(), piece.size());
      if (error || got == 0) co_return error;
      body.append(piece.data(), got);
    }
  };
  EXPECT_FALSE(run_to_end(io, read()));
  EXPECT_EQ(body, "0123456789");
  EXPECT_TRUE(parser.is_done());
}

TEST(BufferFirstRead, ABodyWithoutALengthEndsWithTheConnection) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, "HTTP/1.1 200 OK\r\n\r\nall of it");
  pair.far.shutdown(tcp::socket::shutdown_send);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  EXPECT_FALSE(run_to_end(io, buffer_first_read_message(pair.near, buffer, parser)));
  EXPECT_EQ(parser.get().body(), "all of it");
}

TEST(BufferFirstRead, APeerThatClosesBeforeAByteIsTheEndOfTheStream) {
  asio::io_context io;
  ConnectedPair pair(io);
  pair.far.shutdown(tcp::socket::shutdown_send);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  EXPECT_EQ(run_to_end(io, buffer_first_read_header(pair.near, buffer, parser)), http::error::end_of_stream);
}

TEST(BufferFirstRead, APeerThatClosesMidMessageIsAPartialMessage) {
  asio::io_context io;
  ConnectedPair pair(io);
  write_all(pair.far, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nnot fifty");
  pair.far.shutdown(tcp::socket::shutdown_send);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  EXPECT_EQ(run_to_end(io, buffer_first_read_message(pair.near, buffer, parser)), http::error::partial_message);
}

TEST(BufferFirstRead, AMalformedBufferedHeaderIsTheParsersError) {
  asio::io_context io;
  ConnectedPair pair(io);
  beast::flat_buffer buffer;
  const std::string garbage = "HTTP/1.1 OK? no\r\n\r\n";
  asio::buffer_copy(buffer.prepare(garbage.size()), asio::buffer(garbage));
  buffer.commit(garbage.size());
  http::response_parser<http::empty_body> parser;
  const auto error = run_to_end(io, buffer_first_read_header(pair.near, buffer, parser));
  EXPECT_TRUE(error) << "a malformed status line cannot parse";
  EXPECT_NE(error, http::error::need_more);
}

// Beast's fields cannot hold a value over 65,533 bytes and throw std::length_error for one, even
// within the parser's header limit: a peer's message must get an error code, never an exception
// that ends the process (a Node.js runtime sends its whole error as a trailer).
TEST(BufferFirstRead, AFieldTooLargeForBeastIsAnErrorNotAnException) {
  const std::string huge(std::size_t{70} * 1024, 'x');
  {
    asio::io_context io;
    ConnectedPair pair(io);
    // Written from a thread: the far side would block on a full socket while nobody reads.
    std::jthread writer(
        [&] { write_all(pair.far, "HTTP/1.1 200 OK\r\nX-Big: " + huge + "\r\nContent-Length: 0\r\n\r\n"); });
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> header;
    header.header_limit(1024 * 1024);
    EXPECT_EQ(run_to_end(io, buffer_first_read_header(pair.near, buffer, header)), http::error::header_limit);
  }
  {
    asio::io_context io;
    ConnectedPair pair(io);
    std::jthread writer([&] {
      write_all(pair.far, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Error: " + huge +
                              "\r\n\r\n");
    });
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> header;
    ASSERT_FALSE(run_to_end(io, buffer_first_read_header(pair.near, buffer, header)));
    http::response_parser<http::string_body> whole(std::move(header));
    whole.header_limit(1024 * 1024);
    EXPECT_EQ(run_to_end(io, buffer_first_read_message(pair.near, buffer, whole)), http::error::header_limit);
  }
}

}  // namespace
}  // namespace snapbus::net
