#include "snapbus/http_server.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace snapbus::net {
namespace {

// A socket connected to 127.0.0.1:port, or -1.
int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether all of `bytes` went out in one send.
bool send_whole(int fd, std::string_view bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// What the peer sends until `until` has come, it closes, or 10 s have passed.
std::string read_until(int fd, const std::string& until) {
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received.find(until) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    received.append(buf, static_cast<std::size_t>(n));
  }
  return received;
}

// A server whose handler echoes what it read: the body (limit 16 bytes), or for POST /pieces the
// pieces as they came and the trailer X-Result.
// Errors in the default plain-text format unless the test gives another.
class EchoServer {
 public:
  explicit EchoServer(HttpServerOptions options = {}) {
    endpoint_ = http_listen(
        io_, "127.0.0.1", 0,
        [this](HttpExchange& ex) -> asio::awaitable<void> {
          if (ex.request().target() == "/watched" || ex.request().target() == "/watched-briefly") {
            // A long poll that watches for the peer's close: counted, or "still open" when it is over.
            const auto waits =
                ex.request().target() == "/watched" ? std::chrono::milliseconds(10000) : std::chrono::milliseconds(200);
            asio::steady_timer wait(co_await asio::this_coro::executor, waits);
            bool closed = false;
            ex.watch_peer_close([&] {
              closed = true;
              wait.cancel();
            });
            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
            ex.stop_watching();
            if (closed) {
              ++watched_closes_;
              co_return;
            }
            co_await ex.respond(http::status::ok, "still open", "text/plain");
            co_return;
          }
          if (ex.request().target() == "/pieces") {
            std::string seen;
            const Trailers trailers = co_await ex.read_body_pieces(
                1 << 20, [&](std::string_view piece) { seen += "[" + std::string(piece) + "]"; });
            if (const std::string* result = find_trailer(trailers, "X-Result")) seen += *result;
            co_await ex.respond(http::status::ok, seen, "text/plain");
            co_return;
          }
          if (ex.request().target() == "/count-pieces") {
            std::size_t pieces = 0;
            std::size_t bytes = 0;
            co_await ex.read_body_pieces(16 << 20, [&](std::string_view piece) {
              ++pieces;
              bytes += piece.size();
            });
            co_await ex.respond(http::status::ok,
                                "pieces=" + std::to_string(pieces) + " bytes=" + std::to_string(bytes), "text/plain");
            co_return;
          }
          if (ex.request().target() == "/slow") {
            // A long poll: the handler waits past both timeouts before it answers.
            asio::steady_timer wait(co_await asio::this_coro::executor, std::chrono::milliseconds(600));
            co_await wait.async_wait(asio::use_awaitable);
            co_await ex.respond(http::status::ok, "late", "text/plain");
            co_return;
          }
          if (ex.request().target() == "/chunks") {
            co_await ex.begin_chunked(http::status::ok, {});
            co_await ex.write_chunk("abc");
            co_await ex.write_chunk("de");
            const Trailers trailers{{"X-Result", "done"}};
            co_await ex.end_chunked(trailers);
            co_return;
          }
          if (ex.request().target() == "/first-chunk-then-wait") {
            co_await ex.begin_chunked(http::status::ok, {}, "abc");
            asio::steady_timer wait(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
            co_await wait.async_wait(asio::use_awaitable);
            co_await ex.write_chunk("de");
            co_await ex.end_chunked();
            co_return;
          }
          if (ex.request().target() == "/streamed-nothing") {
            co_await ex.begin_chunked(http::status::no_content, {}, "dropped");
            co_await ex.write_chunk("dropped too");
            const Trailers trailers{{"X-Result", "dropped"}};
            co_await ex.end_chunked(trailers);
            co_return;
          }
          if (ex.request().target() == "/nothing") {
            co_await ex.respond(http::status::no_content, {}, {});
            co_return;
          }
          if (ex.request().target() == "/fail") throw HttpError(http::status::conflict, "Nope", "told to fail");
          if (ex.request().target() == "/bug") throw std::logic_error("a handler's own bug");
          std::string body = co_await ex.read_body(16);
          co_await ex.respond(http::status::ok, body, "text/plain");
        },
        std::move(options));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    io_.stop();
    thread_.join();
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return endpoint_.port(); }
  // How many /watched requests saw their peer close.
  [[nodiscard]] int watched_closes() const { return watched_closes_; }

  // What the first read after sending `request` gets: one write of the server's, if it made it at once.
  std::string first_read(const std::string& request) const {
    const int fd = connect_loopback(port());
    if (fd < 0) return "";
    std::string received;
    (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) > 0) {
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) received.assign(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return received;
  }

  std::string exchange(const std::string& request, const std::string& until) const {
    const int fd = connect_loopback(port());
    if (fd < 0) return "connect failed";
    (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string received = read_until(fd, until);
    ::close(fd);
    return received;
  }

 private:
  asio::io_context io_;
  tcp::endpoint endpoint_;
  std::atomic<int> watched_closes_ = 0;
  std::thread thread_;
};

TEST(HttpServer, KeepAliveServesSeveralRequests) {
  EchoServer server;
  const std::string reply = server.exchange(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nonePOST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
      "3\r\n\r\ntwo",
      "two");
  EXPECT_NE(reply.find("one"), std::string::npos);
  EXPECT_NE(reply.find("two"), std::string::npos);
}

TEST(HttpServer, AWatchSeesACloseThatFollowsOtherBytes) {
  // A watch that ended at the first byte missed the close after it: a long poll's answer then went
  // to a client that was gone.
  EchoServer server;
  const int fd = connect_loopback(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_whole(fd, "GET /watched HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the watch is on
  ASSERT_TRUE(send_whole(fd, "x"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the watch has seen the byte
  ::close(fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.watched_closes() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.watched_closes(), 1);
}

TEST(HttpServer, ARequestPipelinedDuringAWatchIsServedAfterIt) {
  EchoServer server;
  const int fd = connect_loopback(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_whole(fd, "GET /watched-briefly HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // sent while the watch is on
  ASSERT_TRUE(send_whole(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"));
  const std::string reply = read_until(fd, "two");
  ::close(fd);
  const auto first = reply.find("still open");
  ASSERT_NE(first, std::string::npos) << reply;
  EXPECT_NE(reply.find("two", first), std::string::npos) << reply;
  EXPECT_EQ(server.watched_closes(), 0);
}

TEST(HttpServer, A204HasNoContentLength) {
  // RFC 9110 section 8.6: a server must not send Content-Length in a 204; the next answer on the
  // connection still reads right.
  EchoServer server;
  const std::string reply = server.exchange(
      "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo", "two");
  const std::string first = reply.substr(0, reply.find("\r\n\r\n"));
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 204 No Content\r\n")) << reply;
  EXPECT_EQ(first.find("Content-Length"), std::string::npos) << reply;
  EXPECT_NE(reply.find("HTTP/1.1 200 OK"), std::string::npos) << reply;
}

TEST(HttpServer, ABigBodyIsReadInPiecesOfUpTo64KiB) {
  // A buffer the size of the header made Beast read 512 bytes at a time: 2,048 pieces for 1 MiB.
  EchoServer server;
  const std::string body(std::size_t{1} << 20, 'b');
  const std::string reply = server.exchange(
      "POST /count-pieces HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
      "bytes=");
  const auto at = reply.find("pieces=");
  ASSERT_NE(at, std::string::npos) << reply;
  const std::size_t pieces = std::stoul(reply.substr(at + 7));
  EXPECT_NE(reply.find("bytes=1048576"), std::string::npos) << reply;
  EXPECT_LE(pieces, 256U) << reply;
}

std::string tagged_error(std::string_view type, std::string_view message) {
  return "<" + std::string(type) + "|" + std::string(message) + ">";
}

TEST(HttpServer, MalformedRequestGets400InThePlainFormat) {
  EchoServer server;
  const std::string reply = server.exchange("GARBAGE\r\n\r\n", "\n\n");
  EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Content-Type: text/plain"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\r\n\r\nInvalidRequest: malformed HTTP request"), std::string::npos) << reply;
}

TEST(HttpServer, ErrorsUseTheFormatTheServerWasGiven) {
  EchoServer server({.error_format = {.content_type = "application/x-tagged", .body = tagged_error}});
  const std::string malformed = server.exchange("GARBAGE\r\n\r\n", ">");
  EXPECT_NE(malformed.find("Content-Type: application/x-tagged"), std::string::npos) << malformed;
  EXPECT_NE(malformed.find("<InvalidRequest|malformed HTTP request"), std::string::npos) << malformed;
  const std::string fail = server.exchange("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", ">");
  EXPECT_NE(fail.find("HTTP/1.1 409"), std::string::npos) << fail;
  EXPECT_NE(fail.find("<Nope|told to fail>"), std::string::npos) << fail;
}

TEST(HttpServer, HeaderLimitIsTheServers) {
  EchoServer server({.header_limit = 256});
  const std::string reply =
      server.exchange("GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(400, 'a') + "\r\n\r\n", "\n\n");
  EXPECT_NE(reply.find("HTTP/1.1 431"), std::string::npos) << reply;
  EXPECT_NE(reply.find("header is over 256 bytes"), std::string::npos) << reply;
}

// Beast's fields cannot hold a value over 65,533 bytes. Within the header limit, such a field is
// left out and reported when the server was given on_dropped_field, and refused with 431 when not.
TEST(HttpServer, AFieldTooLongForBeastIsLeftOutWhenTheServerSaysSo) {
  const std::string request = "POST / HTTP/1.1\r\nHost: x\r\nX-Cause: " + std::string(std::size_t{80} * 1024, 'c') +
                              "\r\nContent-Length: 2\r\n\r\nok";
  std::vector<std::pair<std::string, std::size_t>> dropped;
  std::mutex mutex;
  {
    EchoServer server({.header_limit = 1024 * 1024, .on_dropped_field = [&](std::string_view name, std::size_t size) {
                         const std::lock_guard lock(mutex);
                         dropped.emplace_back(name, size);
                       }});
    const std::string reply = server.exchange(request, "\r\n\r\nok");
    EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply.substr(0, 200);
  }
  ASSERT_EQ(dropped.size(), 1U);
  EXPECT_EQ(dropped[0].first, "X-Cause");
  EXPECT_EQ(dropped[0].second, std::size_t{80} * 1024);

  EchoServer strict({.header_limit = 1024 * 1024});
  const std::string refused = strict.exchange(request, "\n\n");
  EXPECT_NE(refused.find("HTTP/1.1 431"), std::string::npos) << refused.substr(0, 200);
  EXPECT_NE(refused.find("65,533"), std::string::npos) << refused.substr(0, 400);
}

TEST(HttpServer, OversizedBodyGets413AndHandlerErrorsTheirStatus) {
  EchoServer server;
  const std::string big = server.exchange(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789", "bytes\n");
  EXPECT_NE(big.find("HTTP/1.1 413"), std::string::npos) << big;
  const std::string fail = server.exchange("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", "fail\n");
  EXPECT_NE(fail.find("HTTP/1.1 409"), std::string::npos) << fail;
  EXPECT_NE(fail.find("Nope: told to fail"), std::string::npos) << fail;
}

TEST(HttpServer, AHandlerThatThrowsSomethingElseGets500AndTheServerGoesOn) {
  EchoServer server;
  const std::string reply = server.exchange("GET /bug HTTP/1.1\r\nHost: x\r\n\r\n", "bug");
  EXPECT_NE(reply.find("HTTP/1.1 500"), std::string::npos) << reply;
  EXPECT_NE(reply.find("a handler's own bug"), std::string::npos) << reply;
  const std::string next = server.exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok", "\r\n\r\nok");
  EXPECT_NE(next.find("HTTP/1.1 200"), std::string::npos) << next;
}

TEST(HttpServer, ExpectContinueIsAnswered) {
  EchoServer server;
  const std::string reply =
      server.exchange("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", "hi");
  EXPECT_EQ(reply.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0U) << reply;
}

// An HTTP/1.0 client keeps its connection only when the answer says keep-alive (1.1 assumes it), and
// cannot read chunks: a streamed answer reaches it as plain bytes that end with the connection.
TEST(HttpServer, AnHttp10ClientIsToldKeepAliveAndGetsNoChunks) {
  EchoServer server;
  const std::string kept = server.exchange(
      "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\none"
      "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\ntwo",
      "two");
  EXPECT_NE(kept.find("Connection: keep-alive\r\n"), std::string::npos) << kept;
  EXPECT_NE(kept.find("one"), std::string::npos) << kept;
  EXPECT_NE(kept.find("two"), std::string::npos) << kept;

  const std::string streamed = server.exchange("GET /chunks HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "abcde");
  EXPECT_EQ(streamed.find("chunked"), std::string::npos) << streamed;
  EXPECT_NE(streamed.find("Connection: close\r\n"), std::string::npos) << streamed;
  EXPECT_NE(streamed.find("\r\n\r\nabcde"), std::string::npos) << streamed;

  const std::string chunked = server.exchange("GET /chunks HTTP/1.1\r\nHost: x\r\n\r\n", "done");
  EXPECT_NE(chunked.find("Transfer-Encoding: chunked"), std::string::npos) << chunked;
  EXPECT_NE(chunked.find("X-Result: done"), std::string::npos) << chunked;
}

// The head and the first chunk leave in one write: the reader's first read has both, while the next
// chunk is 200 ms away. An HTTP/1.0 client gets the same bytes unframed.
TEST(HttpServer, AChunkedAnswersFirstPieceLeavesWithItsHead) {
  EchoServer server;
  const std::string chunked = server.first_read("GET /first-chunk-then-wait HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(chunked.starts_with("HTTP/1.1 200 OK\r\n")) << chunked;
  EXPECT_TRUE(chunked.ends_with("Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")) << chunked;
  const std::string whole = server.exchange("GET /first-chunk-then-wait HTTP/1.1\r\nHost: x\r\n\r\n", "0\r\n\r\n");
  EXPECT_TRUE(whole.ends_with("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")) << whole;
  const std::string unframed = server.exchange("GET /first-chunk-then-wait HTTP/1.0\r\n\r\n", "abcde");
  EXPECT_TRUE(unframed.ends_with("\r\n\r\nabcde")) << unframed;
}

// A streamed 204 is its head alone, with no chunked framing, and the connection serves the next request.
TEST(HttpServer, AStreamed204IsItsHeadAlone) {
  EchoServer server;
  const std::string replies = server.exchange(
      "GET /streamed-nothing HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
      "4\r\n\r\nnext",
      "next");
  EXPECT_TRUE(replies.starts_with("HTTP/1.1 204 No Content\r\n")) << replies;
  EXPECT_EQ(replies.find("Transfer-Encoding"), std::string::npos) << replies;
  EXPECT_EQ(replies.find("dropped"), std::string::npos) << replies;
  EXPECT_NE(replies.find("\r\n\r\nHTTP/1.1 200 OK\r\n"), std::string::npos) << replies;
}

TEST(HttpServer, ChunkedPiecesAndTrailers) {
  EchoServer server;
  const std::string reply = server.exchange(
      "POST /pieces HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Result\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\nX-Result: done\r\n\r\n",
      "done");
  EXPECT_NE(reply.find("abc"), std::string::npos) << reply;
  EXPECT_NE(reply.find("de]done"), std::string::npos) << reply;
}

using Clock = std::chrono::steady_clock;
const HttpServerOptions kShortTimeouts{.header_timeout = std::chrono::milliseconds(200),
                                       .idle_timeout = std::chrono::milliseconds(300)};

TEST(HttpServer, SlowHeaderIsCutOff) {
  EchoServer server(kShortTimeouts);
  const auto start = Clock::now();
  const std::string reply = server.exchange("GET / HTTP/1.1\r\nHost: x\r\nX-Slow", "never");
  EXPECT_EQ(reply, "");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));  // closed by the server, not the test's deadline
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosed) {
  EchoServer server(kShortTimeouts);
  const auto start = Clock::now();
  const std::string reply = server.exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "never");
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpServer, LongPollOutlivesTheTimeouts) {
  EchoServer server(kShortTimeouts);
  const std::string reply = server.exchange("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", "late");
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
  EXPECT_NE(reply.find("late"), std::string::npos) << reply;
}

// kNoTimeout is the largest duration there is: added to the clock as it stands, it would wrap to a
// deadline long past, and close at once a connection that may wait for ever.
TEST(HttpServer, NoTimeoutKeepsSilentAndIdleConnectionsOpen) {
  EchoServer server({.header_timeout = kNoTimeout, .idle_timeout = kNoTimeout});
  const int fd = connect_loopback(server.port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 2; ++i) {
    // Silent before its first request, then idle between requests.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    const std::string reply = read_until(fd, "\r\n\r\n");
    EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << "request " << i << ": " << reply;
  }
  ::close(fd);
}

TEST(HttpServer, LingeringConnectionsHoldNoDrainBuffer) {
  EchoServer server;
  constexpr int kConnections = 300;
  const std::size_t before = ::mallinfo2().uordblks;
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = connect_loopback(server.port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  }
  // Every answer read: the server now lingers on each connection (for a second) until the peer closes.
  for (const int fd : fds) {
    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (received.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      received.append(buf, static_cast<std::size_t>(n));
    }
    ASSERT_NE(received.find("HTTP/1.1 200"), std::string::npos) << received;
  }
  const std::size_t during = ::mallinfo2().uordblks;
  for (const int fd : fds) ::close(fd);
  // A 64 KB buffer per lingering connection would be 19 MB here.
  EXPECT_LT(during - std::min(during, before), std::size_t{8} * 1024 * 1024);
}

TEST(HttpServer, ChunkedBodiesRespectTheLimitToo) {
  EchoServer server;
  const std::string reply = server.exchange(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n",
      "bytes\n");
  EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
}

}  // namespace
}  // namespace snapbus::net
