// Eager writes on real loopback sockets: a small message leaves on the spot, one larger than the
// socket's buffers finishes asynchronously as the peer reads, byte for byte, and a peer that is gone
// is an error code, not an exception or a SIGPIPE.
#include "eager_write.h"

#include <array>
#include <chrono>
#include <string>
#include <thread>

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

http::response<http::string_body> response_with(std::string body) {
  http::response<http::string_body> response{http::status::ok, 11};
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

TEST(EagerWrite, ASmallMessageArrivesWhole) {
  asio::io_context io;
  ConnectedPair pair(io);
  auto response = response_with("hello");
  http::response_serializer<http::string_body> serializer(response);
  EXPECT_FALSE(run_to_end(io, write_eagerly(pair.near, serializer)));
  EXPECT_TRUE(serializer.is_done());

  pair.near.close();  // what was written stays readable; a write that failed leaves an end, not a wait
  beast::flat_buffer buffer;
  http::response<http::string_body> received;
  boost::system::error_code read_error;
  http::read(pair.far, buffer, received, read_error);
  EXPECT_FALSE(read_error) << read_error.message();
  EXPECT_EQ(received.body(), "hello");
}

// A streamed request's header and its first chunk leave in one write: the peer's first read has both.
TEST(EagerWrite, AHeaderAndItsFirstChunkLeaveInOneWrite) {
  asio::io_context io;
  ConnectedPair pair(io);
  http::request<http::empty_body> head{http::verb::post, "/upload", 11};
  head.chunked(true);
  http::request_serializer<http::empty_body> serializer(head);
  EXPECT_FALSE(run_to_end(io, write_header_and_chunk_eagerly(pair.near, serializer, "prelude")));
  EXPECT_TRUE(serializer.is_header_done());

  std::array<char, 4096> bytes{};
  boost::system::error_code read_error;
  const std::size_t got = pair.far.read_some(asio::buffer(bytes), read_error);
  ASSERT_FALSE(read_error) << read_error.message();
  EXPECT_EQ(std::string(bytes.data(), got),
            "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nprelude\r\n");
}

// 8 MB against a 64 KB send buffer: most of it waits for the peer, which reads on another thread.
TEST(EagerWrite, AMessageLargerThanTheSocketTakesFinishesAsThePeerReads) {
  asio::io_context io;
  ConnectedPair pair(io);
  pair.near.set_option(asio::socket_base::send_buffer_size(64 * 1024));
  std::string body(std::size_t{8} * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  auto response = response_with(body);
  http::response_serializer<http::string_body> serializer(response);

  http::response<http::string_body> received;
  boost::system::error_code read_error;
  std::thread reader([&] {
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(body.size());
    http::read(pair.far, buffer, parser, read_error);
    received = parser.release();
  });
  const auto error = run_to_end(io, write_eagerly(pair.near, serializer));
  pair.near.close();  // the reader sees the end of the stream even if the write stopped short
  reader.join();
  EXPECT_FALSE(error) << error.message();
  EXPECT_FALSE(read_error) << read_error.message();
  EXPECT_EQ(received.body(), body);
}

// A header larger than the socket takes (a Runtime API request may have 1 MiB of it) goes once:
// the part written at once is not sent again by the write that finishes it.
TEST(EagerWrite, AHeaderLargerThanTheSocketTakesArrivesOnce) {
  asio::io_context io;
  ConnectedPair pair(io);
  pair.near.set_option(asio::socket_base::send_buffer_size(64 * 1024));
  http::request<http::empty_body> head{http::verb::post, "/upload", 11};
  head.set("X-Large", std::string(60000, 'h'));
  for (int i = 0; i < 15; ++i)
    head.insert("X-Large-" + std::to_string(i), std::string(60000, static_cast<char>('a' + i)));
  head.chunked(true);
  std::string expected;
  {
    http::request_serializer<http::empty_body> copy(head);
    boost::system::error_code ignored;
    expected = detail::take_header(copy, ignored);
  }
  http::request_serializer<http::empty_body> serializer(head);
  std::string wire;
  std::thread reader([&] {
    boost::system::error_code error;
    std::array<char, 65536> buffer{};
    while (!error) {
      const std::size_t n = pair.far.read_some(asio::buffer(buffer), error);
      wire.append(buffer.data(), n);
    }
  });
  std::size_t written = 0;
  const auto error = run_to_end(io, write_header_eagerly(pair.near, serializer, &written));
  pair.near.close();  // the reader's end
  reader.join();
  EXPECT_FALSE(error) << error.message();
  EXPECT_TRUE(serializer.is_header_done());
  EXPECT_GT(expected.size(), std::size_t{900} * 1024);
  EXPECT_EQ(written, expected.size());
  EXPECT_EQ(wire.size(), expected.size());
  EXPECT_TRUE(wire == expected) << "the header must arrive once, byte for byte";
}

TEST(EagerWrite, AChunkLargerThanTheSocketTakesFinishesAsThePeerReads) {
  asio::io_context io;
  ConnectedPair pair(io);
  pair.near.set_option(asio::socket_base::send_buffer_size(64 * 1024));
  const std::string piece(std::size_t{4} * 1024 * 1024, 'x');
  std::string received;
  std::thread reader([&] {
    std::string wire;
    const std::string expected_end = "\r\n";
    boost::system::error_code error;
    std::array<char, 65536> buffer{};
    // The chunk's size line, the piece, then its CRLF.
    const std::size_t total = std::string("400000\r\n").size() + piece.size() + expected_end.size();
    while (wire.size() < total && !error) {
      const std::size_t n = pair.far.read_some(asio::buffer(buffer), error);
      wire.append(buffer.data(), n);
    }
    received = wire;
  });
  const auto error = run_to_end(io, write_eagerly(pair.near, http::make_chunk(asio::buffer(piece))));
  pair.near.close();  // the reader sees the end of the stream even if the write stopped short
  reader.join();
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(received, "400000\r\n" + piece + "\r\n");
}

// The hook that arms a caller's timer runs only when a write must wait: never for a message the
// socket takes at once (no timerfd_settime on its path), once for one that waits for the peer.
TEST(EagerWrite, BeforeWaitingRunsOnlyWhenTheSocketIsFull) {
  asio::io_context io;
  ConnectedPair pair(io);
  pair.near.set_option(asio::socket_base::send_buffer_size(64 * 1024));
  int waits = 0;
  EXPECT_FALSE(run_to_end(
      io, write_eagerly(pair.near, asio::buffer(std::string_view("small")), nullptr, [&waits] { ++waits; })));
  EXPECT_EQ(waits, 0);

  // Nothing reads until the write waits: the socket fills, whatever the machine's speed. The hook
  // then starts the reader, and the rest of the write completes as it reads.
  const std::string large(std::size_t{4} * 1024 * 1024, 'x');
  std::size_t received = 0;
  std::thread reader;
  const auto start_reader = [&] {
    ++waits;
    reader = std::thread([&] {
      boost::system::error_code error;
      std::array<char, 65536> buffer{};
      while (received < large.size() + 5 && !error) received += pair.far.read_some(asio::buffer(buffer), error);
    });
  };
  io.restart();
  std::size_t written = 0;
  const auto error = run_to_end(io, write_eagerly(pair.near, asio::buffer(large), &written, start_reader));
  pair.near.close();  // the reader sees the end of the stream even if the write stopped short
  if (reader.joinable()) reader.join();
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(written, large.size());
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(received, large.size() + 5);
}

TEST(EagerWrite, APeerThatIsGoneIsAnErrorCode) {
  asio::io_context io;
  ConnectedPair pair(io);
  pair.far.set_option(asio::socket_base::linger(true, 0));  // a reset, not a polite close
  pair.far.close();
  std::this_thread::sleep_for(20ms);
  const std::string piece(std::size_t{1024} * 1024, 'x');
  boost::system::error_code error;
  for (int attempt = 0; attempt < 3 && !error; ++attempt) {
    error = run_to_end(io, write_eagerly(pair.near, http::make_chunk(asio::buffer(piece))));
    io.restart();
  }
  EXPECT_TRUE(error == asio::error::connection_reset || error == asio::error::broken_pipe) << error.message();
}

}  // namespace
}  // namespace snapbus::net
