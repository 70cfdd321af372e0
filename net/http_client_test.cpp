// The client against a real HTTP/1.1 server on loopback: a small Beast server defined here, run on the
// same io_context as the client, whose handlers each test writes to misbehave exactly as it needs.
#include "snapbus/http_client.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/beast.hpp>

namespace snapbus::net {
namespace {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kAsValues = asio::as_tuple(asio::use_awaitable);

// Opens once; every wait before or after returns then. The test's way to hold a server handler back.
class Gate {
 public:
  explicit Gate(const asio::any_io_executor& executor)
      : timer_(executor, std::chrono::steady_clock::time_point::max()) {}
  void open() {
    open_ = true;
    timer_.cancel();
  }
  asio::awaitable<void> wait() {
    while (!open_) co_await timer_.async_wait(kAsValues);
  }

 private:
  asio::steady_timer timer_;
  bool open_ = false;
};

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(kAsValues);
}

// Polls `condition` every millisecond for up to 5 s.
asio::awaitable<bool> eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 5000 && !condition(); ++i) co_await sleep_for(1ms);
  co_return condition();
}

// One request as the server sees it: the header is read, the body is the handler's to read.
struct ServerTurn {
  beast::tcp_stream& stream;
  beast::flat_buffer& buffer;
  http::request_parser<http::empty_body>& header;
  int connection;      // which accepted connection, from 1
  int turn;            // which request on that connection, from 1
  bool close = false;  // close the connection after the handler, without telling the client
};

asio::awaitable<http::request<http::string_body>> read_rest(ServerTurn& t) {
  http::request_parser<http::string_body> parser(std::move(t.header));
  co_await http::async_read(t.stream, t.buffer, parser, kAsValues);
  co_return parser.release();
}

asio::awaitable<void> reply(ServerTurn& t, std::string body, http::status status = http::status::ok,
                            const http::fields& extra = {}) {
  http::response<http::string_body> res{status, 11};
  for (const auto& field : extra) res.set(field.name_string(), field.value());
  res.body() = std::move(body);
  res.prepare_payload();
  co_await http::async_write(t.stream, res, kAsValues);
}

class TestServer {
 public:
  using Handler = std::function<asio::awaitable<void>(ServerTurn&)>;

  TestServer(asio::io_context& io, Handler handler, const std::string& address = "127.0.0.1")
      : acceptor_(io), handler_(std::move(handler)) {
    boost::system::error_code error;
    const tcp::endpoint endpoint(asio::ip::make_address(address), 0);
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) return;
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io, accept_loop(), asio::detached);
  }

  [[nodiscard]] bool listening() const { return port_ != 0; }
  [[nodiscard]] HostPort where(const std::string& host = "127.0.0.1") const { return {host, std::to_string(port_)}; }
  [[nodiscard]] int connections() const { return connections_; }
  [[nodiscard]] int requests() const { return requests_; }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [error, socket] = co_await acceptor_.async_accept(kAsValues);
      if (error) co_return;
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket), ++connections_), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket, int connection) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (int turn = 1;; ++turn) {
      http::request_parser<http::empty_body> header;
      header.body_limit(boost::none);  // the handlers decide how much they read
      auto [error, bytes] = co_await http::async_read_header(stream, buffer, header, kAsValues);
      if (error) co_return;
      ++requests_;
      ServerTurn t{stream, buffer, header, connection, turn};
      co_await handler_(t);
      if (t.close) {
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.socket().close(ignored);
        co_return;
      }
    }
  }

  tcp::acceptor acceptor_;
  Handler handler_;
  std::uint16_t port_ = 0;
  int connections_ = 0;
  int requests_ = 0;
};

// Echoes the body, and the method and a request header as response headers.
asio::awaitable<void> echo(ServerTurn& t) {
  auto request = co_await read_rest(t);
  http::fields extra;
  extra.set("X-Method", std::string(request.method_string()));
  extra.set("X-Host", std::string(request[http::field::host]));
  extra.set("X-Trailer", std::string(request["X-Trailer"]));
  co_await reply(t, request.body(), http::status::ok, extra);
}

// Runs one test coroutine on `io` to its end (10 s at most, unless told), rethrowing what it threw.
void run(asio::io_context& io, const std::function<asio::awaitable<void>()>& test, std::chrono::seconds limit = 10s) {
  bool finished = false;
  std::exception_ptr thrown;
  asio::co_spawn(io, test(), [&](std::exception_ptr e) {
    finished = true;
    thrown = std::move(e);
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!finished && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
  ASSERT_TRUE(finished) << "the test coroutine did not finish within " << limit.count() << " s";
  if (thrown) std::rethrow_exception(thrown);
}

Request post(const std::string& target, std::string body) {
  Request req{http::verb::post, target, 11};
  req.body() = std::move(body);
  return req;
}

// The header of a chunked upload (begin_chunked) to /upload.
http::request_header<> upload_header() {
  http::request_header<> header;
  header.method(http::verb::post);
  header.target("/upload");
  return header;
}

TEST(ParseHostPort, AcceptsWhatAwsLambdaRuntimeApiHolds) {
  auto v4 = parse_host_port("127.0.0.1:9001");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, "9001");
  EXPECT_EQ(v4->authority(), "127.0.0.1:9001");
  auto v6 = parse_host_port("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->authority(), "[::1]:80");
  auto name = parse_host_port("localhost:65535");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
}

TEST(ParseHostPort, RefusesWithAReason) {
  for (const char* bad :
       {"", "127.0.0.1", "127.0.0.1:", ":9001", "::1:9001", "[::1]", "[::1", "host:65536", "host:90x1", "[::1]9001"}) {
    auto parsed = parse_host_port(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, boost::system::errc::invalid_argument) << bad;
    EXPECT_NE(parsed.error().message.find("is not host:port"), std::string::npos) << parsed.error().message;
  }
}

TEST(HttpClient, BufferedRequestsShareOneKeptAliveConnection) {
  asio::io_context io;
  TestServer server(io, echo);
  ASSERT_TRUE(server.listening());
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    for (const std::string body : {"one", "two", ""}) {
      auto res = co_await client.request(post("/echo", body));
      EXPECT_TRUE(res) << (res ? "" : res.error().message);
      if (!res) co_return;
      EXPECT_EQ(res->result(), http::status::ok);
      EXPECT_EQ(res->body(), body);
      EXPECT_EQ((*res)["X-Method"], "POST");
      EXPECT_EQ((*res)["X-Host"], server.where().authority());
    }
    EXPECT_EQ(server.connections(), 1);
    EXPECT_EQ(client.idle_connections(), 1U);
  });
}

// A server that never ends its trailers (or a chunk's size line) cannot make the client hold it all:
// past the header limit and two reads the answer fails, and the connection goes.
TEST(HttpClient, TrailersThatNeverEndFailTheAnswerAtABound) {
  asio::io_context io;
  std::size_t written = 0;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Endless: ";
    co_await asio::async_write(t.stream.socket(), asio::buffer(head), kAsValues);
    const std::string more(std::size_t{64} * 1024, 'x');
    while (written < (std::size_t{64} << 20)) {
      auto [error, bytes] = co_await asio::async_write(t.stream.socket(), asio::buffer(more), kAsValues);
      if (error) break;
      written += bytes;
    }
    t.close = true;
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 5s, .header_limit = 64 * 1024});
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(post("/", "x"));
    EXPECT_FALSE(res);
    if (res) co_return;
    EXPECT_NE(res.error().message.find("overflow"), std::string::npos) << res.error().message;
    EXPECT_EQ(client.idle_connections(), 0U);
  });
  // The client stopped reading at 192 KiB: what the server got out besides is what the sockets hold.
  EXPECT_LT(written, std::size_t{32} << 20);
}

// How long, in whole ms, until the peer acknowledged all `socket` sent; -1 past 30 ms, less than the
// 40 ms a delayed acknowledgement takes.
asio::awaitable<int> ms_until_acknowledged(tcp::socket& socket) {
  for (int waited = 0; waited <= 30; ++waited) {
    int unacknowledged = 1;
    ::ioctl(socket.native_handle(), SIOCOUTQ, &unacknowledged);
    if (unacknowledged == 0) co_return waited;
    co_await sleep_for(1ms);
  }
  co_return -1;
}

// What uvicorn with --workers N does: the header and the body in two writes, with Nagle's algorithm
// holding the body until the header is acknowledged. The server here waits for that acknowledgement
// itself, and allows 30 ms, less than the 40 ms a delayed acknowledgement takes; the first few
// exchanges of a connection are acknowledged at once anyway, so it makes eight.
TEST(HttpClient, AHeaderThatComesAloneIsAcknowledgedAtOnce) {
  asio::io_context io;
  std::vector<int> waited_ms;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    const std::string header = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n";
    co_await asio::async_write(t.stream.socket(), asio::buffer(header), kAsValues);
    waited_ms.push_back(co_await ms_until_acknowledged(t.stream.socket()));
    co_await asio::async_write(t.stream.socket(), asio::buffer(std::string_view("body")), kAsValues);
  });
  ASSERT_TRUE(server.listening());
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 8; ++i) {
      auto res = co_await client.request(post("/", "x"));
      EXPECT_TRUE(res) << (res ? "" : res.error().message);
      if (!res) co_return;
      EXPECT_EQ(res->body(), "body");
    }
  });
  EXPECT_EQ(server.connections(), 1);
  ASSERT_EQ(waited_ms.size(), 8U);
  for (std::size_t i = 0; i < waited_ms.size(); ++i) {
    EXPECT_GE(waited_ms[i], 0) << "exchange " << i + 1 << ": the header was not acknowledged within 30 ms";
  }
}

// The same for a streamed answer whose first chunk came with its header: a relay passes that chunk
// on before it reads again (arrived_piece()), and the acknowledgement goes with that read, so the
// server's next chunk, held by Nagle's algorithm until then, is not 40 ms late.
TEST(HttpClient, AStreamedAnswerIsAcknowledgedAtTheFirstReadOfItsBody) {
  asio::io_context io;
  std::vector<int> waited_ms;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst;\r\n";
    co_await asio::async_write(t.stream.socket(), asio::buffer(head), kAsValues);
    waited_ms.push_back(co_await ms_until_acknowledged(t.stream.socket()));
    co_await asio::async_write(t.stream.socket(), asio::buffer(std::string_view("5\r\nlast;\r\n0\r\n\r\n")), kAsValues);
  });
  ASSERT_TRUE(server.listening());
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 8; ++i) {
      auto stream = co_await client.open(post("/", "x"));
      EXPECT_TRUE(stream);
      if (!stream) co_return;
      auto arrived = stream->arrived_piece();
      EXPECT_TRUE(arrived && *arrived == "first;");
      std::string rest;
      for (;;) {
        auto piece = co_await stream->read_piece();
        EXPECT_TRUE(piece);
        if (!piece || piece->empty()) break;
        rest += *piece;
      }
      EXPECT_EQ(rest, "last;");
    }
  });
  EXPECT_EQ(server.connections(), 1);
  ASSERT_EQ(waited_ms.size(), 8U);
  for (std::size_t i = 0; i < waited_ms.size(); ++i) {
    EXPECT_GE(waited_ms[i], 0) << "exchange " << i + 1 << ": the first chunk was not acknowledged within 30 ms";
  }
}

TEST(HttpClient, DropAllNeverReusesAConnectionOpenedBefore) {
  asio::io_context io;
  Gate gate(io.get_executor());
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    if (t.header.get().target() == "/held") co_await gate.wait();
    co_await echo(t);
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/echo", "before")));
    EXPECT_EQ(client.idle_connections(), 1U);
    client.drop_all();
    EXPECT_EQ(client.idle_connections(), 0U);
    EXPECT_TRUE(co_await client.request(post("/echo", "after")));
    EXPECT_EQ(server.connections(), 2);

    // A connection in use while drop_all() runs is closed when its exchange ends, not pooled.
    EXPECT_EQ(client.idle_connections(), 1U);
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [&]() -> asio::awaitable<void> {
          co_await sleep_for(20ms);
          client.drop_all();
          gate.open();
        },
        asio::detached);
    auto held = co_await client.request(post("/held", "in flight"));
    EXPECT_TRUE(held);
    EXPECT_EQ(client.idle_connections(), 0U);
  });
}

TEST(HttpClient, IdleTimeoutRetiresPooledConnections) {
  asio::io_context io;
  TestServer server(io, echo);
  HttpClient client(io.get_executor(), server.where(), {.idle_timeout = 200ms});
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/echo", "1")));
    EXPECT_TRUE(co_await client.request(post("/echo", "2")));
    EXPECT_EQ(server.connections(), 1);
    co_await sleep_for(400ms);
    EXPECT_TRUE(co_await client.request(post("/echo", "3")));
    EXPECT_EQ(server.connections(), 2);
  });
}

TEST(HttpClient, PooledConnectionTheServerClosedIsNotUsed) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await echo(t);
    t.close = true;  // keep-alive promised, then closed while idle: the LWA #604 trap
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/echo", "1")));
    EXPECT_EQ(client.idle_connections(), 1U);
    co_await sleep_for(20ms);  // the end of stream reaches the client
    auto second = co_await client.request(post("/echo", "2"));
    EXPECT_TRUE(second) << (second ? "" : second.error().message);
    EXPECT_EQ(server.connections(), 2);
    EXPECT_EQ(server.requests(), 2);
  });
}

// A server that says how long it keeps an idle connection (Keep-Alive: timeout=N, as Node.js does)
// is taken at its word: past that the connection is not reused, though it still looks open. Frozen
// through the wait (Lambda between invocations), the server would close it as the request went out.
TEST(HttpClient, AConnectionIdleLongerThanTheServersKeepAliveTimeoutIsNotReused) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    http::fields extra;
    extra.set("Keep-Alive", "max=100, Timeout=1");
    co_await reply(t, "ok", http::status::ok, extra);
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/a", "1")));
    EXPECT_TRUE(co_await client.request(post("/a", "2")));  // well within the second: reused
    EXPECT_EQ(server.connections(), 1);
    co_await sleep_for(1100ms);
    EXPECT_TRUE(co_await client.request(post("/a", "3")));
    EXPECT_EQ(server.connections(), 2);
    EXPECT_EQ(server.requests(), 3);
  });
}

// A request never sent twice (POST) takes a pooled connection only while it is younger than
// unreplayable_idle_timeout; one that may be resent (GET) takes it up to idle_timeout.
TEST(HttpClient, APostTakesOnlyAConnectionYoungerThanTheUnreplayableIdleTimeout) {
  asio::io_context io;
  TestServer server(io, echo);
  HttpClient client(io.get_executor(), server.where(),
                    {.idle_timeout = std::chrono::seconds(30), .unreplayable_idle_timeout = 200ms});
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/echo", "1")));
    EXPECT_TRUE(co_await client.request(post("/echo", "2")));  // young: reused
    EXPECT_EQ(server.connections(), 1);
    co_await sleep_for(300ms);
    EXPECT_TRUE(co_await client.request(Request{http::verb::get, "/echo", 11}));  // a GET may: reused
    EXPECT_EQ(server.connections(), 1);
    co_await sleep_for(300ms);
    EXPECT_TRUE(co_await client.request(post("/echo", "3")));  // too old for a POST: a new one
    EXPECT_EQ(server.connections(), 2);
    EXPECT_EQ(server.requests(), 4);
  });
}

// The server reads the second request's header and closes without a byte of answer: it may have
// acted on it. Only a request that does no harm twice is sent again (on a fresh connection).
TEST(HttpClient, AReplayableRequestIsRetriedOnAFreshConnectionWhenAPooledOneDiesUnanswered) {
  for (const bool idempotency_key : {false, true}) {
    asio::io_context io;
    TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
      if (t.turn == 2) {
        t.close = true;  // the server gave up on the connection just as the request came: no answer
        co_return;
      }
      co_await echo(t);
    });
    HttpClient client(io.get_executor(), server.where());
    run(io, [&]() -> asio::awaitable<void> {
      EXPECT_TRUE(co_await client.request(post("/echo", "1")));
      Request second_request{http::verb::get, "/echo", 11};
      if (idempotency_key) {
        second_request = post("/echo", "2");
        second_request.set("Idempotency-Key", "k-2");
      }
      auto second = co_await client.request(std::move(second_request));
      EXPECT_TRUE(second) << (second ? "" : second.error().message);
      EXPECT_EQ(server.connections(), 2);
      EXPECT_EQ(server.requests(), 3);
    });
  }
}

TEST(HttpClient, APostIsNeverSentTwice) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    if (t.turn == 2) {
      co_await read_rest(t);  // read whole (and, for all the client knows, acted on)
      t.close = true;
      co_return;
    }
    co_await echo(t);
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/echo", "1")));
    auto second = co_await client.request(post("/echo", "2"));
    EXPECT_FALSE(second);
    if (!second) {
      EXPECT_EQ(second.error().code, http::error::end_of_stream) << second.error().message;
    }
    EXPECT_EQ(server.connections(), 1);
    EXPECT_EQ(server.requests(), 2);
  });
}

// A POST whose body write fails after its header went out whole: the app read the header and closed
// (it may have acted on it). As Go's net/http, a request that is not replayable is not sent again
// once any of it was written.
TEST(HttpClient, APostWhoseBodyWriteFailsAfterItsHeaderIsNotSentAgain) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    if (t.turn == 2) {
      t.close = true;  // the header is read, the body is not: the close resets the client's write
      co_return;
    }
    co_await echo(t);
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/echo", "1")));
    // Far more than loopback's socket buffers hold: the write is still going when the app closes.
    auto second = co_await client.request(post("/echo", std::string(std::size_t{16} << 20U, 'x')));
    EXPECT_FALSE(second);
    EXPECT_EQ(server.connections(), 1) << "the POST must not go again on a fresh connection";
    EXPECT_EQ(server.requests(), 2);
  });
}

// A write that times out on a pooled connection met a live server that stopped reading, not one that
// had closed the connection: it may hold part of the request, so the request is not sent again.
TEST(HttpClient, NoRetryWhenAWriteOnAPooledConnectionTimesOut) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    if (t.connection == 1 && t.turn == 2) {
      co_await sleep_for(3s);  // reads nothing: the client's write stalls
      t.close = true;
      co_return;
    }
    co_await echo(t);
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 200ms});
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/echo", "1")));
    // Far more than loopback's socket buffers hold.
    auto stalled = co_await client.request(post("/echo", std::string(64U << 20U, 'x')));
    EXPECT_FALSE(stalled);
    if (!stalled) {
      EXPECT_EQ(stalled.error().code, beast::error::timeout) << stalled.error().message;
    }
    EXPECT_EQ(server.connections(), 1);
  });
}

TEST(HttpClient, NoRetryWhenAFreshConnectionDiesUnanswered) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    t.close = true;
    co_return;
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(post("/echo", "1"));
    EXPECT_FALSE(res);
    if (res) co_return;
    EXPECT_EQ(res.error().code, http::error::end_of_stream);
    EXPECT_EQ(res.error().message, "read response from " + server.where().authority() + ": end of stream");
    EXPECT_EQ(server.requests(), 1);
  });
}

// Writes `bytes` as they are: interim answers, which Beast's serializer does not write.
asio::awaitable<void> write_raw(ServerTurn& t, std::string_view bytes) {
  co_await asio::async_write(t.stream, asio::buffer(bytes), kAsValues);
}

// An app that writes bytes after its answer: the connection is checked before it carries the next
// request, however recently used, or those bytes would be read as that request's answer and every
// later answer would go to the request before it.
TEST(HttpClient, BytesAnAppWritesAfterItsAnswerAreNeverTakenForTheNextAnswer) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    auto request = co_await read_rest(t);
    co_await reply(t, std::string(request.target()));
    if (t.connection == 1) {
      co_await sleep_for(5ms);  // in a segment of its own, after the client has the answer
      co_await write_raw(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTALE");
    }
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    auto first = co_await client.request(Request{http::verb::get, "/first", 11});
    EXPECT_TRUE(first && first->body() == "/first");
    co_await sleep_for(30ms);  // the stray bytes have arrived; the connection is still young
    auto second = co_await client.request(Request{http::verb::get, "/second", 11});
    EXPECT_TRUE(second) << (second ? "" : second.error().message);
    if (second) {
      EXPECT_EQ(second->body(), "/second");
    }
    EXPECT_EQ(server.connections(), 2) << "the connection with stray bytes must not be reused";
  });
}

// Interim answers (103 Early Hints, 100 Continue unasked, 102 Processing) come before the final
// one, in the same write or later. Taken for the answer, they would leave the final answer on the
// kept-alive connection to be read as the next request's: every answer one request late.
TEST(HttpClient, InterimAnswersAreSkippedAndEachRequestGetsItsOwnAnswer) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    auto request = co_await read_rest(t);
    co_await write_raw(t, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
    if (t.turn == 1) co_await write_raw(t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n");
    co_await sleep_for(5ms);  // the final answer in a later read than the interim ones
    co_await reply(t, "answer to " + std::string(request.target()));
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    for (const std::string target : {"/alice", "/bob", "/carol"}) {
      auto res = co_await client.request(Request{http::verb::get, target, 11});
      EXPECT_TRUE(res) << (res ? "" : res.error().message);
      if (!res) co_return;
      EXPECT_EQ(res->result(), http::status::ok) << target;
      EXPECT_EQ(res->body(), "answer to " + target);
    }
    auto stream = co_await client.open(Request{http::verb::get, "/dave", 11});
    EXPECT_TRUE(stream) << (stream ? "" : stream.error().message);
    if (!stream) co_return;
    EXPECT_EQ(stream->status(), 200U);
    auto piece = co_await stream->read_piece();
    EXPECT_TRUE(piece && !piece->empty());
    if (piece && !piece->empty()) {
      EXPECT_EQ(*piece, "answer to /dave");
    }
    EXPECT_EQ(server.connections(), 1);
  });
}

// The server saw a request it answered 103 to: if the connection then dies, the request is not sent again.
TEST(HttpClient, AConnectionThatDiesAfterAnInterimAnswerIsNotRetried) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    if (t.turn == 1) {
      co_await reply(t, "first");
      co_return;
    }
    co_await write_raw(t, "HTTP/1.1 103 Early Hints\r\n\r\n");
    t.close = true;
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(Request{http::verb::get, "/one", 11}));
    auto second = co_await client.request(Request{http::verb::get, "/two", 11});  // replayable, and pooled
    EXPECT_FALSE(second);
    EXPECT_EQ(server.connections(), 1);
    EXPECT_EQ(server.requests(), 2);
  });
}

// 101 Switching Protocols ends HTTP on the connection: it is the answer, and the connection is not pooled.
TEST(HttpClient, SwitchingProtocolsIsTheAnswerAndTheConnectionIsNotKept) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    co_await write_raw(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(Request{http::verb::get, "/socket", 11});
    EXPECT_TRUE(res) << (res ? "" : res.error().message);
    if (!res) co_return;
    EXPECT_EQ(res->result(), http::status::switching_protocols);
    EXPECT_EQ(client.idle_connections(), 0U);
  });
}

TEST(HttpClient, StreamedResponseArrivesPieceByPieceWithTrailers) {
  asio::io_context io;
  Gate gate(io.get_executor());
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    http::response<http::empty_body> head{http::status::created, 11};
    head.set(http::field::trailer, "X-Check");
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer(head);
    co_await http::async_write_header(t.stream, serializer, kAsValues);
    co_await asio::async_write(t.stream, http::make_chunk(asio::buffer(std::string_view("first;"))), kAsValues);
    co_await gate.wait();
    co_await asio::async_write(t.stream, http::make_chunk(asio::buffer(std::string_view("second;"))), kAsValues);
    http::fields trailers;
    trailers.set("X-Check", "done");
    co_await asio::async_write(t.stream, http::make_chunk_last(trailers), kAsValues);
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    auto stream = co_await client.open(post("/stream", ""));
    EXPECT_TRUE(stream);
    if (!stream) co_return;
    EXPECT_EQ(stream->status(), 201U);
    auto first = co_await stream->read_piece();
    EXPECT_TRUE(first && !first->empty());
    if (first && !first->empty()) {  // while the server still holds the second piece
      EXPECT_EQ(*first, "first;");
    }
    gate.open();
    auto second = co_await stream->read_piece();
    EXPECT_TRUE(second && !second->empty());
    if (second && !second->empty()) {
      EXPECT_EQ(*second, "second;");
    }
    auto end = co_await stream->read_piece();
    EXPECT_TRUE(end && end->empty());
    EXPECT_EQ(stream->header()["X-Check"], "done");
    EXPECT_EQ(client.idle_connections(), 1U);
  });
}

// Reads a request's chunked body as it arrives, each read's bytes one piece: false when a read failed.
asio::awaitable<bool> read_pieces(ServerTurn& t, http::request_parser<http::buffer_body>& parser,
                                  std::vector<std::string>& pieces) {
  while (!parser.is_done()) {
    char buf[256];
    parser.get().body().data = buf;
    parser.get().body().size = sizeof buf;
    auto [error, bytes] = co_await http::async_read_some(t.stream, t.buffer, parser, kAsValues);
    if (error && error != http::error::need_buffer) co_return false;
    const std::size_t got = sizeof buf - parser.get().body().size;
    if (got != 0) pieces.emplace_back(buf, got);
  }
  co_return true;
}

TEST(HttpClient, ChunkedUploadSendsEachPieceAtOnceAndTrailersAtTheEnd) {
  asio::io_context io;
  std::vector<std::string> pieces;
  std::string trailer;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    EXPECT_TRUE(t.header.chunked());
    http::request_parser<http::buffer_body> parser(std::move(t.header));
    if (!co_await read_pieces(t, parser, pieces)) co_return;
    trailer = std::string(parser.get()["X-Trailer"]);
    co_await reply(t, "got it", http::status::accepted);
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    http::request_header<> header = upload_header();
    header.set(http::field::trailer, "X-Trailer");
    auto upload = co_await client.begin_chunked(std::move(header), {}, "first");  // with the header
    EXPECT_TRUE(upload);
    if (!upload) co_return;
    EXPECT_TRUE(co_await eventually([&] { return !pieces.empty(); }));
    EXPECT_TRUE(co_await upload->write("a"));
    EXPECT_TRUE(co_await eventually([&] { return pieces.size() == 2; }));
    EXPECT_TRUE(co_await upload->write(""));  // nothing sent, the body goes on
    EXPECT_TRUE(co_await upload->write("bb"));
    EXPECT_TRUE(co_await eventually([&] { return pieces.size() == 3; }));
    const Trailers trailers{{"X-Trailer", "the end"}};
    auto answer = co_await upload->finish(trailers);
    EXPECT_TRUE(answer);
    if (!answer) co_return;
    auto res = co_await std::move(*answer).read_all();
    EXPECT_TRUE(res);
    if (res) {
      EXPECT_EQ(res->body(), "got it");
    }
    EXPECT_EQ(pieces, (std::vector<std::string>{"first", "a", "bb"}));
    EXPECT_EQ(trailer, "the end");
    EXPECT_EQ(client.idle_connections(), 1U);
  });
}

// ---- relay_to: an answer's body passed on through an upload -------------------------------------

// A sink for uploads: records each piece of the chunked body as it arrives, then answers 202.
// `close_at_once` makes it close the connection as soon as it has the header, reading nothing.
TestServer::Handler recording_sink(std::vector<std::string>& pieces, bool close_at_once = false) {
  return [&pieces, close_at_once](ServerTurn& t) -> asio::awaitable<void> {
    if (close_at_once) {
      t.close = true;
      co_return;
    }
    http::request_parser<http::buffer_body> parser(std::move(t.header));
    if (co_await read_pieces(t, parser, pieces)) co_await reply(t, "", http::status::accepted);
  };
}

// Begins a chunked answer to the request: its header alone.
asio::awaitable<void> begin_chunked_answer(ServerTurn& t) {
  co_await read_rest(t);
  http::response<http::empty_body> head{http::status::ok, 11};
  head.chunked(true);
  http::response_serializer<http::empty_body> serializer(head);
  co_await http::async_write_header(t.stream, serializer, kAsValues);
}

asio::awaitable<void> write_chunk(ServerTurn& t, std::string_view piece) {
  co_await asio::async_write(t.stream, http::make_chunk(asio::buffer(piece)), kAsValues);
}

asio::awaitable<void> end_chunked_answer(ServerTurn& t) {
  co_await asio::async_write(t.stream, http::make_chunk_last(), kAsValues);
}

// Relays the answer to POST /stream from `source` into an upload to `sink`, then runs `check` on
// how the relay ended, the upload (still open) and the source's client.
void relay_and_check(asio::io_context& io, const TestServer& source, const TestServer& sink,
                     const std::function<asio::awaitable<void>(RelayEnd&, ChunkedUpload&, HttpClient&)>& check) {
  HttpClient from(io.get_executor(), source.where());
  HttpClient to(io.get_executor(), sink.where());
  run(io, [&]() -> asio::awaitable<void> {
    auto answer = co_await from.open(post("/stream", ""));
    auto upload = co_await to.begin_chunked(upload_header());
    EXPECT_TRUE(answer && upload);
    if (!answer || !upload) co_return;
    RelayEnd end = co_await answer->relay_to(*upload);
    co_await check(end, *upload, from);
  });
}

// Each piece reaches the upload as its own chunk before the next is written: the source waits to
// see the first piece at the sink before it writes the second, which a relay that gathered pieces
// would never let happen. The source's connection is pooled again after the body's end.
TEST(HttpClient, RelayToPassesEachPieceOnAsItArrives) {
  asio::io_context io;
  std::vector<std::string> pieces;
  bool first_arrived_alone = false;
  TestServer sink(io, recording_sink(pieces));
  TestServer source(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await begin_chunked_answer(t);
    co_await write_chunk(t, "first;");
    first_arrived_alone = co_await eventually([&] { return pieces.size() == 1; });
    co_await write_chunk(t, std::string(3000, 's'));
    co_await end_chunked_answer(t);
  });
  relay_and_check(io, source, sink,
                  [&](RelayEnd& end, ChunkedUpload& upload, HttpClient& from) -> asio::awaitable<void> {
                    EXPECT_TRUE(end.read) << end.read.error().message;
                    EXPECT_TRUE(end.write) << end.write.error().message;
                    auto accepted = co_await upload.finish();
                    EXPECT_TRUE(accepted);
                    if (accepted) {
                      EXPECT_EQ(accepted->status(), 202U);
                    }
                    EXPECT_EQ(from.idle_connections(), 1U);
                  });
  EXPECT_TRUE(first_arrived_alone);
  std::string second;
  for (std::size_t i = 1; i < pieces.size(); ++i) second += pieces[i];
  ASSERT_FALSE(pieces.empty());
  EXPECT_EQ(pieces.front(), "first;");
  EXPECT_EQ(second, std::string(3000, 's'));
}

// An answer that breaks off mid-body is the read's failure; what came before it was passed on, and
// the upload is still open for the caller to end as it decides.
TEST(HttpClient, RelayToReportsAnAnswerCutShortAsTheReadsFailure) {
  asio::io_context io;
  std::vector<std::string> pieces;
  TestServer sink(io, recording_sink(pieces));
  TestServer source(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await begin_chunked_answer(t);
    co_await write_chunk(t, "before the break;");
    t.close = true;
  });
  relay_and_check(io, source, sink,
                  [&](RelayEnd& end, ChunkedUpload& upload, HttpClient& from) -> asio::awaitable<void> {
                    EXPECT_FALSE(end.read);
                    EXPECT_TRUE(end.write);
                    EXPECT_TRUE(co_await upload.finish());
                    EXPECT_EQ(from.idle_connections(), 0U);
                  });
  EXPECT_EQ(pieces, std::vector<std::string>{"before the break;"});
}

// An upload whose server has gone is the write's failure, and the relay stops there instead of
// reading the rest of the answer.
TEST(HttpClient, RelayToReportsAnUploadThatFailsAsTheWritesFailure) {
  asio::io_context io;
  std::vector<std::string> pieces;
  int written = 0;
  TestServer sink(io, recording_sink(pieces, /*close_at_once=*/true));
  TestServer source(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await begin_chunked_answer(t);
    for (; written < 200; ++written) {
      co_await write_chunk(t, "piece;");
      co_await sleep_for(1ms);
    }
    co_await end_chunked_answer(t);
  });
  relay_and_check(io, source, sink, [&](RelayEnd& end, ChunkedUpload&, HttpClient&) -> asio::awaitable<void> {
    EXPECT_TRUE(end.read);
    EXPECT_FALSE(end.write);
    co_return;
  });
  EXPECT_LT(written, 200);
  EXPECT_TRUE(pieces.empty());
}

// A trailer value with CR LF would end the trailers early and forge a field: the upload is refused
// and its connection closed, so the server sees a body cut short, never the forged field; the upload
// is spent.
TEST(HttpClient, TrailersThatWouldBreakTheFramingAreRefusedAndTheBodyIsLeftUnended) {
  asio::io_context io;
  boost::system::error_code server_saw;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    http::request_parser<http::string_body> parser(std::move(t.header));
    auto [error, bytes] = co_await http::async_read(t.stream, t.buffer, parser, kAsValues);
    server_saw = error;
    t.close = true;
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    http::request_header<> header = upload_header();
    auto upload = co_await client.begin_chunked(std::move(header), {}, "body");
    EXPECT_TRUE(upload);
    if (!upload) co_return;
    const Trailers forged{{"X-Note", "a\r\nX-Forged: yes"}};
    auto answer = co_await upload->finish(forged);
    EXPECT_FALSE(answer);
    if (answer) co_return;
    EXPECT_EQ(answer.error().code, boost::system::errc::invalid_argument);
    EXPECT_NE(answer.error().message.find("control character"), std::string::npos) << answer.error().message;
    const auto after = co_await upload->write("more");
    EXPECT_EQ(after ? boost::system::error_code{} : after.error().code, boost::system::errc::operation_not_permitted);
    EXPECT_EQ(client.idle_connections(), 0U);
    EXPECT_TRUE(co_await eventually([&] { return static_cast<bool>(server_saw); }));
  });
  EXPECT_EQ(server_saw, http::error::partial_message) << server_saw.message();
}

// A piece that the socket cannot take while the server reads nothing waits at most the I/O timeout:
// the write arms the timer when it starts to wait, not before (a piece the socket takes at once
// costs no timer system call).
TEST(HttpClient, AChunkedUploadsWriteThatStallsTimesOut) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await sleep_for(3s);  // reads nothing after the header: the client's writes stall
    t.close = true;
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 200ms});
  run(io, [&]() -> asio::awaitable<void> {
    http::request_header<> header = upload_header();
    auto upload = co_await client.begin_chunked(std::move(header), {});
    EXPECT_TRUE(upload);
    if (!upload) co_return;
    const auto started = std::chrono::steady_clock::now();
    // Far more than loopback's socket buffers hold.
    auto written = co_await upload->write(std::string(64U << 20U, 'x'));
    EXPECT_FALSE(written);
    if (!written) {
      EXPECT_EQ(written.error().code, beast::error::timeout) << written.error().message;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  });
}

// The I/O timeout limits a write that does not progress, not the time between pieces: a streamed
// response may pause for minutes (a model thinking, a server-sent-events heartbeat) within Lambda's
// 15 minutes.
TEST(HttpClient, AChunkedUploadMayPauseLongerThanTheIoTimeoutBetweenPieces) {
  asio::io_context io;
  std::string body;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    auto request = co_await read_rest(t);
    body = request.body();
    co_await reply(t, "got it", http::status::accepted);
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 100ms});
  run(io, [&]() -> asio::awaitable<void> {
    http::request_header<> header = upload_header();
    auto upload = co_await client.begin_chunked(std::move(header), {}, "first,");
    EXPECT_TRUE(upload);
    if (!upload) co_return;
    co_await sleep_for(300ms);  // after the header and its first piece
    auto written = co_await upload->write("second,");
    EXPECT_TRUE(written) << (written ? "" : written.error().message);
    co_await sleep_for(300ms);  // after a piece
    written = co_await upload->write("third");
    EXPECT_TRUE(written) << (written ? "" : written.error().message);
    co_await sleep_for(300ms);
    auto answer = co_await upload->finish({});
    EXPECT_TRUE(answer) << (answer ? "" : answer.error().message);
    if (!answer) co_return;
    auto res = co_await std::move(*answer).read_all();
    EXPECT_TRUE(res) << (res ? "" : res.error().message);
    EXPECT_EQ(body, "first,second,third");
  });
}

// A streamed answer whose reader stops for a while (behind the Runtime API, a client that reads
// slowly) holds a write back longer than io_timeout: with no_io_timeout it waits, as Lambda would.
TEST(HttpClient, WithNoIoTimeoutAWriteWaitsForAReaderThatPauses) {
  asio::io_context io;
  std::size_t received = 0;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await sleep_for(500ms);  // reads nothing yet: the client's write stalls
    auto request = co_await read_rest(t);
    received = request.body().size();
    co_await reply(t, "got it", http::status::accepted);
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 100ms});
  const std::string piece(32U << 20U, 'x');  // far more than loopback's socket buffers hold
  run(
      io,
      [&]() -> asio::awaitable<void> {
        http::request_header<> header = upload_header();
        auto upload = co_await client.begin_chunked(std::move(header), {.no_io_timeout = true});
        EXPECT_TRUE(upload);
        if (!upload) co_return;
        auto written = co_await upload->write(piece);
        EXPECT_TRUE(written) << (written ? "" : written.error().message);
        auto answer = co_await upload->finish({});
        EXPECT_TRUE(answer) << (answer ? "" : answer.error().message);
        if (!answer) co_return;
        auto res = co_await std::move(*answer).read_all();
        EXPECT_TRUE(res) << (res ? "" : res.error().message);
        EXPECT_EQ(received, piece.size());
      },
      // 32 MiB through ThreadSanitizer's instrumentation took 7-8 s of the usual 10 on a busy machine.
      30s);
}

// Uploads to a server that reads none of the body: pieces of 1 MiB until a write fails, 64 MiB at
// most (far more than loopback's socket buffers hold). The upload, and whether a write failed.
asio::awaitable<std::pair<NetResult<ChunkedUpload>, bool>> upload_until_refused(HttpClient& client) {
  http::request_header<> header = upload_header();
  auto upload = co_await client.begin_chunked(std::move(header), {.no_io_timeout = true});
  if (!upload) co_return std::pair(std::move(upload), false);
  const std::string piece(std::size_t{1} << 20, 'x');
  NetResult<void> written;
  for (int i = 0; i < 64 && written; ++i) written = co_await upload->write(piece);
  co_return std::pair(std::move(upload), !written);
}

TEST(HttpClient, AnUploadRefusedEarlyStillHasTheServersAnswer) {
  // As Go's net/http (Lambda's Runtime API) refuses a body it will not read: it answers, then
  // closes with the rest unread, so the kernel resets the connection and the upload's writes fail.
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await reply(t, R"({"errorType":"RequestEntityTooLarge"})", http::status::payload_too_large);
    t.close = true;
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    auto [upload, refused] = co_await upload_until_refused(client);
    EXPECT_TRUE(upload && refused);
    if (!upload || !refused) co_return;
    EXPECT_FALSE(co_await upload->write("more"));  // the upload is broken: nothing more is sent
    auto answer = co_await upload->early_answer();
    EXPECT_TRUE(answer) << (answer ? "" : answer.error().message);
    if (!answer) co_return;
    EXPECT_EQ(answer->status(), 413U);
    auto res = co_await std::move(*answer).read_all();
    EXPECT_TRUE(res) << (res ? "" : res.error().message);
    if (res) {
      EXPECT_EQ(res->body(), R"({"errorType":"RequestEntityTooLarge"})");
    }
    EXPECT_FALSE(co_await upload->early_answer());  // spent
  });
}

TEST(HttpClient, ABufferedRequestRefusedEarlyHasTheServersAnswer) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await reply(t, "too large", http::status::payload_too_large);
    t.close = true;
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(post("/big", std::string(std::size_t{64} << 20, 'x')));
    EXPECT_TRUE(res) << (res ? "" : res.error().message);
    if (!res) co_return;
    EXPECT_EQ(res->result_int(), 413U);
    EXPECT_EQ(res->body(), "too large");
  });
  EXPECT_EQ(server.requests(), 1);  // heard, not sent again
}

// A pooled connection whose write fails may be dead from before the request (then the request goes
// again on a fresh one); an answer begun there and cut short means the server saw this request, so a
// POST must not reach it twice.
TEST(HttpClient, AnAnswerCutShortAfterAFailedWriteIsNotSentAgain) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    if (t.connection == 1 && t.turn == 2) {
      const std::string_view partial = "HTTP/1.1 41";
      co_await asio::async_write(t.stream, asio::buffer(partial), kAsValues);
      t.close = true;  // the body unread: the close is a reset
      co_return;
    }
    co_await read_rest(t);
    co_await reply(t, "ok");
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    auto pooled = co_await client.request(post("/first", "x"));
    EXPECT_TRUE(pooled) << (pooled ? "" : pooled.error().message);
    auto cut = co_await client.request(post("/big", std::string(std::size_t{64} << 20, 'x')));
    EXPECT_FALSE(cut);
  });
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests(), 2);  // not sent again on a fresh connection
}

// A server that gave up on an idle connection with a 408 left that answer in the pool; RFC 9110 lets
// the request, even a POST, go again on a fresh connection, as the server never had it whole.
TEST(HttpClient, A408ThatClosesAPooledConnectionSendsTheRequestAgain) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    if (t.connection == 1 && t.turn == 2) {
      http::fields closing;
      closing.set(http::field::connection, "close");
      co_await reply(t, "timed out", http::status::request_timeout, closing);
      t.close = true;
      co_return;
    }
    co_await reply(t, "ok");
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    auto first = co_await client.request(post("/first", "x"));
    EXPECT_TRUE(first) << (first ? "" : first.error().message);
    auto second = co_await client.request(post("/second", "y"));
    EXPECT_TRUE(second) << (second ? "" : second.error().message);
    if (second) {
      EXPECT_EQ(second->result(), http::status::ok);
      EXPECT_EQ(second->body(), "ok");
    }
  });
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests(), 3);
}

// Only the pooled connection's stale answer is suspect: a 408 on a fresh connection, or one that
// keeps the connection alive (the app's own answer), is the caller's.
TEST(HttpClient, A408OnAFreshConnectionOrKeptAliveIsTheAnswer) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    http::fields fields;
    if (t.connection == 1) fields.set(http::field::connection, "close");
    co_await reply(t, "timed out", http::status::request_timeout, fields);
    t.close = t.connection == 1;
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    auto fresh = co_await client.request(post("/fresh", "x"));
    EXPECT_TRUE(fresh && fresh->result() == http::status::request_timeout);
    auto kept = co_await client.request(post("/kept", "y"));  // a second connection, which the 408 keeps
    EXPECT_TRUE(kept && kept->result() == http::status::request_timeout);
    auto pooled = co_await client.request(post("/pooled", "z"));
    EXPECT_TRUE(pooled && pooled->result() == http::status::request_timeout);
  });
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpClient, NoEarlyAnswerWhereTheServerSentNone) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    t.close = true;  // closes without a word
    co_return;
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    http::request_header<> header;
    header.method(http::verb::post);
    header.target("/early");
    auto unwritten = co_await client.begin_chunked(std::move(header));
    EXPECT_TRUE(unwritten);
    if (unwritten) {
      EXPECT_FALSE(co_await unwritten->early_answer());  // no write has failed: not a question to ask yet
    }
    auto [upload, refused] = co_await upload_until_refused(client);
    EXPECT_TRUE(upload && refused);
    if (!upload || !refused) co_return;
    auto answer = co_await upload->early_answer();
    EXPECT_FALSE(answer);
    if (!answer) {
      EXPECT_NE(answer.error().message.find("read response from"), std::string::npos);
    }
  });
}

TEST(HttpClient, ReadTimeoutUnlessNoIoTimeout) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    co_await sleep_for(300ms);
    co_await reply(t, "late");
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 100ms});
  run(io, [&]() -> asio::awaitable<void> {
    auto timed_out = co_await client.request(post("/slow", ""));
    EXPECT_FALSE(timed_out);
    if (!timed_out) {
      EXPECT_EQ(timed_out.error().code, beast::error::timeout);
    }
    auto polled = co_await client.request(post("/slow", ""), {.no_io_timeout = true});
    EXPECT_TRUE(polled) << (polled ? "" : polled.error().message);
    if (polled) {
      EXPECT_EQ(polled->body(), "late");
    }
  });
}

TEST(HttpClient, BodyLimitForBufferedAnswers) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    co_await reply(t, std::string(100, 'x'));
  });
  HttpClient client(io.get_executor(), server.where(), {.body_limit = 10});
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(post("/big", ""));
    EXPECT_FALSE(res);
    if (!res) {
      EXPECT_EQ(res.error().code, http::error::body_limit);
    }
  });
}

// Reads the request, then writes an answer's header, Content-Length: 10, and the first three bytes of
// its body ("abc"): the rest is the caller's to send, late, or never.
asio::awaitable<void> begin_ten_byte_answer(ServerTurn& t) {
  co_await read_rest(t);
  const std::string_view head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  co_await asio::async_write(t.stream, asio::buffer(head), kAsValues);
}

// A body of known length is read into the answer as it comes, however it is cut into writes; one cut
// short by a close is an error, never a shorter body.
TEST(HttpClient, AnAnswerOfKnownLengthIsReadAcrossWritesAndFailsWhenCutShort) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await begin_ten_byte_answer(t);
    if (t.turn == 2) {
      t.close = true;
      co_return;
    }
    co_await sleep_for(50ms);
    co_await asio::async_write(t.stream, asio::buffer(std::string_view("defg")), kAsValues);
    co_await sleep_for(50ms);
    co_await asio::async_write(t.stream, asio::buffer(std::string_view("hij")), kAsValues);
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    auto whole = co_await client.request(post("/pieces", ""));
    EXPECT_TRUE(whole) << (whole ? "" : whole.error().message);
    if (whole) {
      EXPECT_EQ(whole->body(), "abcdefghij");
    }
    EXPECT_EQ(client.idle_connections(), 1U) << "the body ended where its length said";
    auto cut = co_await client.request(post("/cut", ""));
    EXPECT_FALSE(cut);
    if (!cut) {
      EXPECT_EQ(cut.error().code, http::error::partial_message) << cut.error().message;
    }
  });
}

// read_all() after read_piece(): the rest of a body of known length, not the whole length again.
TEST(HttpClient, ReadAllAfterAPieceGivesTheRestOfTheBody) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await begin_ten_byte_answer(t);
    co_await sleep_for(50ms);
    co_await asio::async_write(t.stream, asio::buffer(std::string_view("defghij")), kAsValues);
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 2s});
  run(io, [&]() -> asio::awaitable<void> {
    auto stream = co_await client.open(Request{http::verb::get, "/pieces", 11});
    EXPECT_TRUE(stream) << (stream ? "" : stream.error().message);
    if (!stream) co_return;
    auto piece = co_await stream->read_piece();
    EXPECT_TRUE(piece && !piece->empty());
    if (!piece || piece->empty()) co_return;
    EXPECT_EQ(*piece, "abc");
    auto rest = co_await std::move(*stream).read_all();
    EXPECT_TRUE(rest) << (rest ? "" : rest.error().message);
    if (rest) {
      EXPECT_EQ(rest->body(), "defghij");
    }
  });
}

// A body of known length whose sender stalls midway meets the read timeout.
TEST(HttpClient, ABodyOfKnownLengthThatStallsTimesOut) {
  asio::io_context io;
  TestServer server(io, [&](ServerTurn& t) -> asio::awaitable<void> {
    co_await begin_ten_byte_answer(t);
    co_await sleep_for(500ms);
  });
  HttpClient client(io.get_executor(), server.where(), {.io_timeout = 100ms});
  run(io, [&]() -> asio::awaitable<void> {
    auto stalled = co_await client.request(Request{http::verb::get, "/stall", 11});
    EXPECT_FALSE(stalled);
    if (!stalled) {
      EXPECT_EQ(stalled.error().code, beast::error::timeout) << stalled.error().message;
    }
  });
}

// Beast's default body limit for an answer (8 MB) is checked against Content-Length with the header:
// a file served with its length (FastAPI's FileResponse) must still stream, and a buffered answer
// is held to the client's own body_limit only.
TEST(HttpClient, AnAnswerLongerThanBeastsDefaultBodyLimitIsRead) {
  constexpr std::size_t kLength = std::size_t{9} << 20U;
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    co_await reply(t, std::string(kLength, 'f'));
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    auto stream = co_await client.open(Request{http::verb::get, "/file", 11});
    EXPECT_TRUE(stream) << (stream ? "" : stream.error().message);
    if (!stream) co_return;
    EXPECT_EQ(stream->header()[http::field::content_length], std::to_string(kLength));
    std::size_t streamed = 0;
    for (;;) {
      auto piece = co_await stream->read_piece();
      EXPECT_TRUE(piece) << (piece ? "" : piece.error().message);
      if (!piece || piece->empty()) break;
      streamed += piece->size();
    }
    EXPECT_EQ(streamed, kLength);
    auto buffered = co_await client.request(Request{http::verb::get, "/file", 11});
    EXPECT_TRUE(buffered) << (buffered ? "" : buffered.error().message);
    if (buffered) {
      EXPECT_EQ(buffered->body().size(), kLength);
    }
  });
}

// 40 fields of 500 bytes: 20 KB of header, more than Beast's default 8 KiB, as a web app's answer
// with a stack of cookies may carry.
http::fields twenty_kilobytes_of_fields() {
  http::fields fields;
  for (int i = 0; i < 40; ++i) fields.set("X-Field-" + std::to_string(i), std::string(500, 'v'));
  return fields;
}

TEST(HttpClient, AnAnswersHeaderMayBeLongerThanBeastsDefault) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    co_await reply(t, "ok", http::status::ok, twenty_kilobytes_of_fields());
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(post("/cookies", ""));
    EXPECT_TRUE(res) << (res ? "" : res.error().message);
    if (res) {
      EXPECT_EQ(res->body(), "ok");
      EXPECT_EQ((*res)["X-Field-39"], std::string(500, 'v'));
    }
  });
}

TEST(HttpClient, HeaderLimitForAnswers) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    co_await reply(t, "ok", http::status::ok, twenty_kilobytes_of_fields());
  });
  HttpClient client(io.get_executor(), server.where(), {.header_limit = 1024});
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(post("/cookies", ""));
    EXPECT_FALSE(res);
    if (!res) {
      EXPECT_EQ(res.error().code, http::error::header_limit);
    }
  });
}

TEST(HttpClient, ConnectionRefusedIsAResultThatNamesTheServer) {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = closed.local_endpoint().port();
  }
  HttpClient client(io.get_executor(), {"127.0.0.1", std::to_string(port)});
  run(io, [&]() -> asio::awaitable<void> {
    auto res = co_await client.request(post("/", ""));
    EXPECT_FALSE(res);
    if (res) co_return;
    EXPECT_EQ(res.error().code, asio::error::connection_refused);
    EXPECT_NE(res.error().message.find("connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << res.error().message;
    EXPECT_THROW((void)res.value(), boost::system::system_error);
  });
}

TEST(HttpClient, ConnectTimeoutWhenTheServerNeverAccepts) {
  asio::io_context io;
  // A listener whose accept queue is full drops further SYNs: those connects hang until the timeout.
  tcp::acceptor full(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  const HostPort where{"127.0.0.1", std::to_string(full.local_endpoint().port())};
  run(io, [&]() -> asio::awaitable<void> {
    std::vector<std::unique_ptr<HttpClient>> clients;  // each keeps its half-open connection
    for (int i = 0; i < 8; ++i) {
      clients.push_back(std::make_unique<HttpClient>(co_await asio::this_coro::executor, where,
                                                     ClientOptions{.connect_timeout = 100ms, .io_timeout = 100ms}));
      auto res = co_await clients.back()->request(post("/", ""));
      EXPECT_FALSE(res);
      if (!res && res.error().message.rfind("connect to ", 0) == 0) {
        EXPECT_EQ(res.error().code, beast::error::timeout) << res.error().message;
        co_return;
      }
    }
    ADD_FAILURE() << "no connect ever timed out";
  });
}

TEST(HttpClient, ConnectionCloseIsNotPooledAndASpentUploadRefusesMore) {
  asio::io_context io;
  TestServer server(io, [](ServerTurn& t) -> asio::awaitable<void> {
    co_await read_rest(t);
    http::fields close;
    close.set(http::field::connection, "close");
    co_await reply(t, "bye", http::status::ok, close);
    t.close = true;
  });
  HttpClient client(io.get_executor(), server.where());
  run(io, [&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await client.request(post("/", "")));
    EXPECT_EQ(client.idle_connections(), 0U);
    http::request_header<> header = upload_header();
    auto upload = co_await client.begin_chunked(std::move(header));
    EXPECT_TRUE(upload);
    if (!upload) co_return;
    EXPECT_TRUE(co_await upload->finish());
    auto again = co_await upload->write("late");
    EXPECT_FALSE(again);
    if (!again) {
      EXPECT_EQ(again.error().code, boost::system::errc::operation_not_permitted);
    }
  });
}

TEST(HttpClient, Ipv6AndHostNames) {
  asio::io_context io;
  TestServer v4(io, echo);
  HttpClient by_name(io.get_executor(), v4.where("localhost"));
  TestServer v6(io, echo, "::1");
  if (!v6.listening()) GTEST_SKIP() << "no IPv6 loopback here";
  auto where = parse_host_port("[::1]:" + v6.where().port);
  ASSERT_TRUE(where);
  HttpClient by_v6(io.get_executor(), *where);
  run(io, [&]() -> asio::awaitable<void> {
    auto named = co_await by_name.request(post("/echo", "n"));
    EXPECT_TRUE(named) << (named ? "" : named.error().message);
    auto res = co_await by_v6.request(post("/echo", "six"));
    EXPECT_TRUE(res) << (res ? "" : res.error().message);
    if (!res) co_return;
    EXPECT_EQ(res->body(), "six");
    EXPECT_EQ((*res)["X-Host"], "[::1]:" + v6.where().port);
  });
}

}  // namespace
}  // namespace snapbus::net
