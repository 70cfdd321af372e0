#include "runtime_proxy.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "snapbus/http_server.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kPatience = 10s;

// What a Runtime API received: everything but the fields each hop sets for itself.
struct Received {
  std::string method;
  std::string target;
  unsigned version = 11;
  std::vector<std::pair<std::string, std::string>> fields;
  bool chunked = false;
  std::vector<std::string> pieces;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::string body() const {
    std::string all;
    for (const auto& piece : pieces) all += piece;
    return all;
  }
  bool operator==(const Received&) const = default;
};

bool per_hop(std::string_view name) {
  return boost::beast::iequals(name, "host") || boost::beast::iequals(name, "content-length") ||
         boost::beast::iequals(name, "connection");
}

// A stand-in for the Runtime and Extensions APIs that records every request. invocation/next and
// event/next answer an event once the test releases them; restore/next answers at once; everything
// else 202.
class RecordingRuntimeApi {
 public:
  // `port` 0 picks a free one; `restore_status` is what restore/next answers.
  explicit RecordingRuntimeApi(std::uint16_t port = 0, http::status restore_status = http::status::ok) {
    const auto endpoint = net::http_listen(
        io_, "127.0.0.1", port,
        [this, restore_status](net::HttpExchange& ex) -> asio::awaitable<void> {
          Received received;
          received.method = std::string(http::to_string(ex.request().method()));
          received.target = std::string(ex.request().target());
          for (const auto& field : ex.request()) {
            if (!per_hop(field.name_string())) received.fields.emplace_back(field.name_string(), field.value());
          }
          received.chunked = ex.request()[http::field::transfer_encoding] == "chunked";
          received.version = ex.request().version();
          const std::size_t index = record(received);
          const net::Trailers trailers = co_await ex.read_body_pieces(1 << 24, [this, index](std::string_view piece) {
            const std::lock_guard lock(mutex_);
            received_[index].pieces.emplace_back(piece);
            pieces_.notify_all();
          });
          {
            const std::lock_guard lock(mutex_);
            for (const auto& [name, value] : trailers) received_[index].trailers.emplace_back(name, value);
          }
          const std::string path = received.target.substr(0, received.target.find('?'));
          if (path.ends_with("invocation/next") || path.ends_with("extension/event/next")) {
            asio::steady_timer release(io_, kPatience);
            held_.push_back(&release);
            co_await release.async_wait(asio::as_tuple(asio::use_awaitable));
            std::erase(held_, &release);
            http::fields headers;
            headers.set(lambda::kHeaderRequestId, "request-" + std::to_string(++events_));
            headers.set(lambda::kHeaderDeadlineMs, "4102444800000");
            co_await ex.respond(http::status::ok, R"({"event":)" + std::to_string(events_) + "}", "application/json",
                                &headers);
          } else if (path.ends_with("restore/next")) {
            if (restore_status == http::status::ok) {
              co_await ex.respond(http::status::ok, "", "");
            } else {
              co_await ex.respond(restore_status, R"({"errorType":"InvalidStateTransition","errorMessage":"no"})");
            }
          } else {
            co_await ex.respond(http::status::accepted, R"({"status":"OK"})");
          }
        },
        {.header_limit = lambda::kRuntimeApiHeaderLimit});  // as the Runtime API and the proxy take
    port_ = endpoint.port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RecordingRuntimeApi() {
    io_.stop();
    thread_.join();
  }
  RecordingRuntimeApi(const RecordingRuntimeApi&) = delete;
  RecordingRuntimeApi& operator=(const RecordingRuntimeApi&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  // Lets the oldest invocation/next or event/next being held answer.
  void release_next() {
    asio::post(io_, [this] {
      if (held_.empty()) return;
      held_.front()->cancel();
      held_.erase(held_.begin());  // now: a second release before the first resumes is another call's
    });
  }
  std::vector<Received> received() const {
    const std::lock_guard lock(mutex_);
    return received_;
  }
  // Waits until `count` requests arrived, and their last has `pieces` pieces so far.
  bool wait_for(std::size_t count, std::size_t pieces = 0) {
    std::unique_lock lock(mutex_);
    return pieces_.wait_for(lock, kPatience,
                            [&] { return received_.size() >= count && received_[count - 1].pieces.size() >= pieces; });
  }

 private:
  std::size_t record(const Received& received) {
    const std::lock_guard lock(mutex_);
    received_.push_back(received);
    pieces_.notify_all();
    return received_.size() - 1;
  }

  asio::io_context io_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::vector<asio::steady_timer*> held_;  // the long polls held, oldest first; io_'s thread only
  int events_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable pieces_;
  std::vector<Received> received_;
};

// The proxy under test on its own thread, with a bracket whose steps are recorded.
class ProxyUnderTest {
 public:
  // The before-snapshot step takes `hook_time`, as hooks that do some work.
  ProxyUnderTest(std::uint16_t upstream_port, bool snap_start, const std::optional<lambda::FunctionError>& failure = {},
                 std::chrono::milliseconds hook_time = {}) {
    std::optional<RuntimeProxy::Bracket> bracket;
    if (snap_start) {
      bracket = RuntimeProxy::Bracket{
          .before_snapshot = [this, failure, hook_time]() -> asio::awaitable<std::optional<lambda::FunctionError>> {
            note("before-snapshot");
            asio::steady_timer working(co_await asio::this_coro::executor, hook_time);
            co_await working.async_wait(asio::as_tuple(asio::use_awaitable));
            co_return failure;
          },
          .after_restore = [this]() -> asio::awaitable<std::optional<lambda::FunctionError>> {
            note("after-restore");
            co_return std::nullopt;
          }};
    }
    const RuntimeProxy::Log log = [this](std::string_view line) { note_log(line); };
    proxy_.emplace(io_.get_executor(), net::HostPort{"127.0.0.1", std::to_string(upstream_port)}, bracket, log);
    // Listening as proxy mode does (proxy_adapter.cpp).
    port_ = net::http_listen(
                io_, "127.0.0.1", 0, [this](net::HttpExchange& ex) { return proxy_->handle(ex); },
                RuntimeProxy::listen_options(log))
                .port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ProxyUnderTest() {
    io_.stop();
    thread_.join();
  }
  ProxyUnderTest(const ProxyUnderTest&) = delete;
  ProxyUnderTest& operator=(const ProxyUnderTest&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  std::vector<std::string> steps() const {
    const std::lock_guard lock(mutex_);
    return steps_;
  }
  // The proxy's log, one line after another.
  std::string logged() const {
    const std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  void note(std::string step) {
    const std::lock_guard lock(mutex_);
    steps_.push_back(std::move(step));
  }
  void note_log(std::string_view line) {
    const std::lock_guard lock(mutex_);
    log_.append(line).append("\n");
  }

  asio::io_context io_;  // first: destroyed after the proxy's sockets and timers
  std::optional<RuntimeProxy> proxy_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> steps_;
  std::string log_;
};

// A client that writes exactly the bytes it is given, as a runtime client would.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }
  http::response<http::string_body> read_response() {
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response);
    return response;
  }
  void close() { socket_.close(); }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

// Reads with a deadline: a proxy that never answers fails the test instead of hanging it.
http::response<http::string_body> answer_of(RawClient& client) {
  auto answer = std::async(std::launch::async, [&client] { return client.read_response(); });
  if (answer.wait_for(kPatience) != std::future_status::ready) {
    client.close();
    ADD_FAILURE() << "no answer within the patience";
  }
  return answer.get();
}

const std::vector<std::string>& calls() {
  static const std::vector<std::string> requests{
      std::string(
          "POST /2018-06-01/runtime/invocation/request-1/response HTTP/1.1\r\nHost: api\r\n"
          "Content-Type: application/json\r\nX-Custom: a\r\nX-Custom: b\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"),
      std::string("POST /2018-06-01/runtime/invocation/request-2/error HTTP/1.1\r\nHost: api\r\n"
                  "Lambda-Runtime-Function-Error-Type: Handler.Failed\r\nContent-Length: 40\r\n\r\n"
                  "{\"errorType\":\"x\",\"errorMessage\":\"\\u00e9\"}"),
      std::string("POST /2020-01-01/extension/register HTTP/1.1\r\nHost: api\r\nLambda-Extension-Name: lwa\r\n"
                  "Content-Length: 24\r\n\r\n{\"events\":[\"SHUTDOWN\"]}\n"),
      std::string("POST /2018-06-01/runtime/invocation/request-3/response HTTP/1.1\r\nHost: api\r\n"
                  "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
                  "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
                  "Content-Type: application/vnd.awslambda.http-integration-response\r\n\r\n"
                  "5\r\nfirst\r\n6\r\nsecond\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.Broken\r\n"
                  "Lambda-Runtime-Function-Error-Body: eyJ4IjoxfQ==\r\n\r\n"),
      // Trailers no Trailer header announced: the Runtime API takes them all the same.
      std::string("POST /2018-06-01/runtime/invocation/request-4/response HTTP/1.1\r\nHost: api\r\n"
                  "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "4\r\nonly\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.Unannounced\r\n\r\n"),
      // An error body trailer longer than Beast's fields hold (65,533 bytes): a long error, base64.
      std::string("POST /2018-06-01/runtime/invocation/request-5/response HTTP/1.1\r\nHost: api\r\n"
                  "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "4\r\nlong\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.Long\r\n"
                  "Lambda-Runtime-Function-Error-Body: ") +
          std::string(std::size_t{200} * 1024, 'Q') + "\r\n\r\n",
  };
  return requests;
}

TEST(RuntimeProxyTest, WhatTheRuntimeApiReceivesIsWhatTheClientSent) {
  RecordingRuntimeApi direct;
  RecordingRuntimeApi behind;
  ProxyUnderTest proxy(behind.port(), false);
  for (const std::string& call : calls()) {
    RawClient to_direct(direct.port());
    to_direct.send(call);
    EXPECT_EQ(answer_of(to_direct).result_int(), 202);
    RawClient to_proxy(proxy.port());
    to_proxy.send(call);
    const auto answer = answer_of(to_proxy);
    EXPECT_EQ(answer.result_int(), 202);
    EXPECT_EQ(answer.body(), R"({"status":"OK"})");
  }
  const auto want = direct.received();
  const auto got = behind.received();
  ASSERT_EQ(got.size(), calls().size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].method, want[i].method) << i;
    EXPECT_EQ(got[i].target, want[i].target) << i;
    EXPECT_EQ(got[i].fields, want[i].fields) << i;
    EXPECT_EQ(got[i].chunked, want[i].chunked) << i;
    EXPECT_EQ(got[i].body(), want[i].body()) << i;
    EXPECT_EQ(got[i].trailers, want[i].trailers) << i;
  }
  EXPECT_EQ(got[3].trailers.size(), 2U) << "the error trailers of a streamed response arrive";
  EXPECT_EQ(got[4].trailers.size(), 1U) << "so do trailers no Trailer header announced";
  ASSERT_EQ(got[5].trailers.size(), 2U) << "and trailers longer than Beast's fields hold";
  EXPECT_EQ(got[5].trailers[1].second.size(), std::size_t{200} * 1024);
}

// curl sends Expect: 100-continue before a large body. The proxy answers it itself (it reads the
// body before it forwards anything), so the client's answer is the Runtime API's final one, never
// the upstream's interim 100.
TEST(RuntimeProxyTest, AClientThatExpects100ContinueGetsTheFinalAnswer) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  for (const char* framing : {"Content-Length: 11\r\n", "Transfer-Encoding: chunked\r\n"}) {
    const bool chunked = std::string_view(framing).starts_with("Transfer");
    RawClient client(proxy.port());
    client.send(std::string("POST /2018-06-01/runtime/invocation/request-1/response HTTP/1.1\r\nHost: api\r\n") +
                framing + "Expect: 100-continue\r\n\r\n");
    EXPECT_EQ(answer_of(client).result_int(), 100) << framing;
    client.send(chunked ? "b\r\n{\"ok\":true}\r\n0\r\n\r\n" : "{\"ok\":true}");
    const auto answer = answer_of(client);
    EXPECT_EQ(answer.result_int(), 202) << framing;
    EXPECT_EQ(answer.body(), R"({"status":"OK"})") << framing;
  }
  ASSERT_EQ(upstream.received().size(), 2U);
  for (const auto& received : upstream.received()) EXPECT_EQ(received.body(), R"({"ok":true})");
}

// Chunked, or with a Content-Length (a runtime that knows its streamed response's length ahead):
// each piece goes on as it comes, as the Runtime API passes on either framing.
TEST(RuntimeProxyTest, AStreamedPieceIsPassedOnBeforeTheNextIsSent) {
  struct Framing {
    std::string header;
    std::string first;
    std::string rest;
  };
  for (const Framing& framing : {Framing{"Transfer-Encoding: chunked", "5\r\nfirst\r\n", "6\r\nsecond\r\n0\r\n\r\n"},
                                 Framing{"Content-Length: 11", "first", "second"}}) {
    RecordingRuntimeApi upstream;
    ProxyUnderTest proxy(upstream.port(), false);
    RawClient client(proxy.port());
    client.send("POST /2018-06-01/runtime/invocation/r/response HTTP/1.1\r\nHost: api\r\n" + framing.header +
                "\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n\r\n" + framing.first);
    ASSERT_TRUE(upstream.wait_for(1, 1)) << framing.header << ": the first piece must reach the Runtime API while the "
                                         << "client still writes";
    EXPECT_EQ(upstream.received()[0].pieces, std::vector<std::string>{"first"}) << framing.header;
    client.send(framing.rest);
    EXPECT_EQ(answer_of(client).result_int(), 202) << framing.header;
    EXPECT_EQ(upstream.received()[0].body(), "firstsecond") << framing.header;
  }
}

// An HTTP/1.0 client's streamed response goes upstream chunked, and so as HTTP/1.1: on an HTTP/1.0
// request the Runtime API would ignore Transfer-Encoding and take the body as empty.
TEST(RuntimeProxyTest, AnHttp10ClientsStreamedResponseGoesUpstreamAsHttp11) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  RawClient client(proxy.port());
  client.send(
      "POST /2018-06-01/runtime/invocation/r/response HTTP/1.0\r\nHost: api\r\nContent-Length: 11\r\n"
      "Lambda-Runtime-Function-Response-Mode: streaming\r\n\r\nfirstsecond");
  EXPECT_EQ(answer_of(client).result_int(), 202);
  const auto received = upstream.received();
  ASSERT_EQ(received.size(), 1U);
  EXPECT_EQ(received[0].version, 11U);
  EXPECT_TRUE(received[0].chunked);
  EXPECT_EQ(received[0].body(), "firstsecond");
}

// Also when the client sent something after its call before it left (an old client's extra CRLF):
// the close that follows other bytes is seen too.
TEST(RuntimeProxyTest, AnEventIsNotLostWhenTheClientLeavesItsLongPoll) {
  for (const std::string after_the_call : {"", "\r\n"}) {
    RecordingRuntimeApi upstream;
    ProxyUnderTest proxy(upstream.port(), false);
    const std::string next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n";
    {
      RawClient impatient(proxy.port());
      impatient.send(next);
      ASSERT_TRUE(upstream.wait_for(1));
      if (!after_the_call.empty()) {
        impatient.send(after_the_call);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // seen by the proxy before the close
      }
      impatient.close();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the close is seen before the event comes
    upstream.release_next();
    RawClient second(proxy.port());
    second.send(next);
    const auto answer = answer_of(second);
    EXPECT_EQ(answer.result_int(), 200);
    EXPECT_EQ(answer[lambda::kHeaderRequestId], "request-1") << after_the_call.size() << " bytes after the call";
    EXPECT_EQ(answer.body(), R"({"event":1})");
    EXPECT_EQ(upstream.received().size(), 1U) << "one long poll upstream, not one per client call";
  }
}

// No runtime client sends one, but a body on a long poll goes upstream as sent, and the connection
// carries the client's next call: read whole, it is not mistaken for that call.
TEST(RuntimeProxyTest, ALongPollsBodyGoesUpstreamWithIt) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), true);
  RawClient client(proxy.port());
  client.send("GET /2018-06-01/runtime/restore/next HTTP/1.1\r\nHost: api\r\nContent-Length: 9\r\n\r\nrestore=1");
  EXPECT_EQ(answer_of(client).result_int(), 200);
  client.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\nContent-Length: 6\r\n\r\nnext=1");
  ASSERT_TRUE(upstream.wait_for(2));
  upstream.release_next();
  EXPECT_EQ(answer_of(client).body(), R"({"event":1})");
  client.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n");
  ASSERT_TRUE(upstream.wait_for(3));
  upstream.release_next();
  EXPECT_EQ(answer_of(client).body(), R"({"event":2})");
  const auto received = upstream.received();
  ASSERT_EQ(received.size(), 3U);
  EXPECT_EQ(received[0].method, "GET");
  EXPECT_EQ(received[0].body(), "restore=1");
  EXPECT_EQ(received[1].body(), "next=1");
  EXPECT_EQ(received[2].body(), "");
  EXPECT_EQ(proxy.steps(), (std::vector<std::string>{"before-snapshot", "after-restore"}));
}

// An extension's event/next is kept the same way, for that extension alone: another extension's
// call polls for itself, and the one that left gets its own event when it asks again.
TEST(RuntimeProxyTest, AnExtensionsEventIsKeptForThatExtensionWhenItLeavesItsLongPoll) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  const auto next_of = [](std::string_view identifier) {
    return fmt::format(
        "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: api\r\n"
        "Lambda-Extension-Identifier: {}\r\n\r\n",
        identifier);
  };
  {
    RawClient impatient(proxy.port());
    impatient.send(next_of("ext-a"));
    ASSERT_TRUE(upstream.wait_for(1));
    impatient.close();
  }
  RawClient other(proxy.port());
  other.send(next_of("ext-b"));
  ASSERT_TRUE(upstream.wait_for(2)) << "another extension's call must poll for itself";
  upstream.release_next();  // ext-a's event, after its client left
  RawClient again(proxy.port());
  again.send(next_of("ext-a"));
  const auto kept = answer_of(again);
  EXPECT_EQ(kept.result_int(), 200);
  EXPECT_EQ(kept.body(), R"({"event":1})");
  upstream.release_next();
  const auto own = answer_of(other);
  EXPECT_EQ(own.body(), R"({"event":2})");
  const auto received = upstream.received();
  ASSERT_EQ(received.size(), 2U) << "ext-a's second call takes the kept poll instead of polling again";
  const auto identifier_of = [](const Received& call) {
    for (const auto& [name, value] : call.fields) {
      if (name == lambda::kHeaderExtensionIdentifier) return value;
    }
    return std::string();
  };
  EXPECT_EQ(identifier_of(received[0]), "ext-a");
  EXPECT_EQ(identifier_of(received[1]), "ext-b");
}

// A kept poll whose connection to the Runtime API broke holds no event: the next call polls anew
// (the Runtime API is back by then) instead of getting the dead poll's error.
TEST(RuntimeProxyTest, AKeptPollThatFailedIsNotHandedToTheNextCall) {
  std::optional<RecordingRuntimeApi> upstream(std::in_place);
  const std::uint16_t port = upstream->port();
  ProxyUnderTest proxy(port, false);
  const std::string next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n";
  {
    RawClient impatient(proxy.port());
    impatient.send(next);
    ASSERT_TRUE(upstream->wait_for(1));
    impatient.close();
  }
  upstream.reset();  // the poll's connection breaks
  // Time for the proxy to see its poll fail (one FIN on loopback), before the Runtime API is back.
  std::this_thread::sleep_for(500ms);
  upstream.emplace(port);
  RawClient second(proxy.port());
  second.send(next);
  ASSERT_TRUE(upstream->wait_for(1)) << "the call must poll the Runtime API that came back";
  upstream->release_next();
  const auto answer = answer_of(second);
  EXPECT_EQ(answer.result_int(), 200) << answer.body();
  EXPECT_EQ(answer.body(), R"({"event":1})");
}

// A runtime that takes concurrent invocations (Lambda Managed Instances) polls with several
// clients at once: each must get an event of its own, as without the proxy.
TEST(RuntimeProxyTest, ConcurrentLongPollsEachGetTheirOwnEvent) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  const std::string next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n";
  RawClient first(proxy.port());
  RawClient second(proxy.port());
  first.send(next);
  second.send(next);
  ASSERT_TRUE(upstream.wait_for(2)) << "each poll goes upstream";
  upstream.release_next();
  upstream.release_next();
  const auto one = answer_of(first);
  const auto two = answer_of(second);
  EXPECT_EQ(one.result_int(), 200);
  EXPECT_EQ(two.result_int(), 200);
  EXPECT_NE(one[lambda::kHeaderRequestId], two[lambda::kHeaderRequestId]);
  EXPECT_EQ(upstream.received().size(), 2U);
}

// Trailers are held whole before they are parsed, so their size has a bound: the header limit (the
// Runtime API's 1 MiB) and a read. Past it the call is refused with a reason, and the proxy lives on.
TEST(RuntimeProxyTest, TrailersPastTheHeaderLimitAreRefusedAndTheProxyGoesOn) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  RawClient client(proxy.port());
  const std::string upload =
      "POST /2018-06-01/runtime/invocation/request-1/response HTTP/1.1\r\nHost: api\r\n"
      "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\nLambda-Runtime-Function-Error-Body: " +
      std::string(std::size_t{2} << 20, 'x') + "\r\n\r\n";
  // The proxy stops reading and closes: the rest of the upload may meet a reset.
  auto sent = std::async(std::launch::async, [&client, &upload] {
    try {
      client.send(upload);
    } catch (const boost::system::system_error&) {
    }
  });
  const auto answer = answer_of(client);
  EXPECT_EQ(answer.result_int(), 400);
  EXPECT_NE(answer.body().find("trailers are over"), std::string::npos) << answer.body().substr(0, 200);
  EXPECT_EQ(sent.wait_for(kPatience), std::future_status::ready);
  EXPECT_TRUE(upstream.received().empty() || upstream.received()[0].trailers.empty());

  RawClient next_client(proxy.port());
  next_client.send("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(answer_of(next_client).result_int(), 202);
}

TEST(RuntimeProxyTest, ABracketRunsAroundTheClientsRestoreNext) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), true);
  RawClient client(proxy.port());
  client.send("GET /2018-06-01/runtime/restore/next HTTP/1.1\r\nHost: api\r\n\r\n");
  EXPECT_EQ(answer_of(client).result_int(), 200);
  EXPECT_EQ(proxy.steps(), (std::vector<std::string>{"before-snapshot", "after-restore"}));
  ASSERT_EQ(upstream.received().size(), 1U);
  EXPECT_EQ(upstream.received()[0].target, "/2018-06-01/runtime/restore/next");
}

// With a query string on the first poll too: the Runtime API routes on the path, and so does the proxy.
TEST(RuntimeProxyTest, AClientThatNeverAsksForRestoreNextGetsTheBracketBeforeItsFirstEvent) {
  for (const std::string query : {"", "?client=x"}) {
    RecordingRuntimeApi upstream;
    ProxyUnderTest proxy(upstream.port(), true);
    RawClient client(proxy.port());
    client.send("GET /2018-06-01/runtime/invocation/next" + query + " HTTP/1.1\r\nHost: api\r\n\r\n");
    ASSERT_TRUE(upstream.wait_for(2)) << query;
    upstream.release_next();
    EXPECT_EQ(answer_of(client).result_int(), 200);
    EXPECT_EQ(proxy.steps(), (std::vector<std::string>{"before-snapshot", "after-restore"})) << query;
    const auto received = upstream.received();
    EXPECT_EQ(received[0].target, "/2018-06-01/runtime/restore/next");
    EXPECT_EQ(received[1].target, "/2018-06-01/runtime/invocation/next" + query);

    // Once is enough: the next event is fetched without another bracket.
    client.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n");
    ASSERT_TRUE(upstream.wait_for(3));
    upstream.release_next();
    EXPECT_EQ(answer_of(client).result_int(), 200);
    EXPECT_EQ(proxy.steps().size(), 2U);
  }
}

// restore/next refused: no snapshot was restored, but before-snapshot closed what it closes, so
// after-restore runs to reopen it. The client's own call gets the refusal; the proxy's own leaves the
// client's invocation/next to go on as without the proxy.
TEST(RuntimeProxyTest, ARefusedRestoreNextStillRunsAfterRestoreAndTheClientGoesOn) {
  for (const bool clients_own : {true, false}) {
    RecordingRuntimeApi upstream(0, http::status::forbidden);
    ProxyUnderTest proxy(upstream.port(), true);
    RawClient client(proxy.port());
    if (clients_own) {
      client.send("GET /2018-06-01/runtime/restore/next HTTP/1.1\r\nHost: api\r\n\r\n");
      const auto refused = answer_of(client);
      EXPECT_EQ(refused.result_int(), 403);
      EXPECT_NE(refused.body().find("InvalidStateTransition"), std::string::npos) << refused.body();
    }
    client.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n");
    ASSERT_TRUE(upstream.wait_for(2)) << clients_own;
    upstream.release_next();
    const auto event = answer_of(client);
    EXPECT_EQ(event.result_int(), 200) << clients_own << ": " << event.body();
    EXPECT_EQ(proxy.steps(), (std::vector<std::string>{"before-snapshot", "after-restore"})) << clients_own;
    const auto received = upstream.received();
    ASSERT_EQ(received.size(), 2U);
    EXPECT_EQ(received[0].target, "/2018-06-01/runtime/restore/next");
    EXPECT_EQ(received[1].target, "/2018-06-01/runtime/invocation/next");
  }
}

// A client that gives up on its first poll while the hooks run, and polls again on a new connection:
// no poll goes upstream for the call that was given up, so the first event reaches the one asking.
TEST(RuntimeProxyTest, AFirstPollGivenUpDuringTheBracketDoesNotTakeTheEvent) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), true, std::nullopt, 400ms);
  const std::string next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: api\r\n\r\n";
  {
    RawClient impatient(proxy.port());
    impatient.send(next);
    std::this_thread::sleep_for(50ms);  // the bracket has begun
    impatient.close();
  }
  RawClient again(proxy.port());
  again.send(next);
  ASSERT_TRUE(upstream.wait_for(2));
  upstream.release_next();
  const auto answer = answer_of(again);
  EXPECT_EQ(answer.result_int(), 200);
  EXPECT_EQ(answer[lambda::kHeaderRequestId], "request-1");
  const auto received = upstream.received();
  ASSERT_EQ(received.size(), 2U) << "a poll went upstream for the call given up";
  EXPECT_EQ(received[0].target, "/2018-06-01/runtime/restore/next");
  EXPECT_EQ(proxy.steps(), (std::vector<std::string>{"before-snapshot", "after-restore"}));
}

// A response whose upload breaks off would reach Lambda broken without the proxy, which fails the
// invocation at once; the proxy forwarded none of it, so it fails the invocation itself, instead of
// leaving it to the function's timeout.
TEST(RuntimeProxyTest, AResponseCutShortFailsItsInvocationUpstream) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  {
    RawClient dying(proxy.port());
    dying.send(
        "POST /2018-06-01/runtime/invocation/request-9/response HTTP/1.1\r\nHost: api\r\n"
        "Content-Length: 100\r\n\r\n{\"partial\":");
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(upstream.wait_for(1, 1));
  const Received error = upstream.received()[0];
  EXPECT_EQ(error.method, "POST");
  EXPECT_EQ(error.target, "/2018-06-01/runtime/invocation/request-9/error");
  const auto type = std::find_if(error.fields.begin(), error.fields.end(), [](const auto& field) {
    return boost::beast::iequals(field.first, lambda::kHeaderFunctionErrorType);
  });
  ASSERT_NE(type, error.fields.end());
  EXPECT_EQ(type->second, "Runtime.TruncatedResponse");
  EXPECT_NE(error.body().find("closed its connection before the body"), std::string::npos) << error.body();

  // Another call cut short was never made: nothing goes upstream for it.
  {
    RawClient dying(proxy.port());
    dying.send("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\nContent-Length: 50\r\n\r\n{");
    std::this_thread::sleep_for(20ms);
  }
  RawClient after(proxy.port());
  after.send("POST /2020-01-01/extension/register HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(answer_of(after).result_int(), 202);
  const auto received = upstream.received();
  ASSERT_EQ(received.size(), 2U);
  EXPECT_EQ(received[1].target, "/2020-01-01/extension/register");
}

TEST(RuntimeProxyTest, AFailedBeforeSnapshotGoesUpstreamAsInitErrorAndToTheClient) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), true,
                       lambda::FunctionError{.type = "Runtime.BeforeSnapshotError", .message = "pid 7 (w) failed"});
  RawClient client(proxy.port());
  client.send("GET /2018-06-01/runtime/restore/next HTTP/1.1\r\nHost: api\r\n\r\n");
  const auto answer = answer_of(client);
  EXPECT_EQ(answer.result_int(), 500);
  EXPECT_NE(answer.body().find("Runtime.BeforeSnapshotError"), std::string::npos) << answer.body();
  ASSERT_TRUE(upstream.wait_for(1, 1));
  const Received init_error = upstream.received()[0];
  EXPECT_EQ(init_error.target, "/2018-06-01/runtime/init/error");
  EXPECT_NE(init_error.body().find("pid 7 (w) failed"), std::string::npos) << init_error.body();
  EXPECT_EQ(proxy.steps(), std::vector<std::string>{"before-snapshot"});

  // The client then reports its failed restore/next, as awslambdaric does: Lambda has the proxy's
  // report and would refuse a second one, so the proxy takes it and answers as Lambda would.
  client.send(
      "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\n"
      "Lambda-Runtime-Function-Error-Type: Runtime.BeforeSnapshotError\r\nContent-Length: 2\r\n\r\n{}");
  const auto reported = answer_of(client);
  EXPECT_EQ(reported.result_int(), 202);
  EXPECT_EQ(reported.body(), R"({"status":"OK"})");
  EXPECT_EQ(upstream.received().size(), 1U);
}

TEST(RuntimeProxyTest, AnOversizedHeaderIsRefusedAndNeverReachesTheRuntimeApi) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  RawClient client(proxy.port());
  // Over the Runtime API's limit, in fields it could each hold.
  std::string fields;
  for (int i = 0; fields.size() <= lambda::kRuntimeApiHeaderLimit; ++i) {
    fields += "X-Big-" + std::to_string(i) + ": " + std::string(std::size_t{60} * 1024, 'x') + "\r\n";
  }
  client.send("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\n" + fields + "Content-Length: 2\r\n\r\n{}");
  const auto answer = answer_of(client);
  EXPECT_EQ(answer.result_int(), 431);
  EXPECT_NE(answer.body().find("header is over"), std::string::npos) << answer.body();
  EXPECT_TRUE(upstream.received().empty());

  // The proxy goes on serving.
  RawClient next_client(proxy.port());
  next_client.send("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(answer_of(next_client).result_int(), 202);
}

// A field longer than snapbus's fields hold goes within the Runtime API's limit: it is left out, and
// the proxy says so.
TEST(RuntimeProxyTest, AFieldTooLongToHoldIsLeftOutAndLogged) {
  RecordingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  RawClient client(proxy.port());
  client.send("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\nX-Huge: " +
              std::string(std::size_t{70} * 1024, 'x') + "\r\nX-Small: kept\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(answer_of(client).result_int(), 202);
  const auto received = upstream.received();
  ASSERT_EQ(received.size(), 1U);
  const auto& fields = received[0].fields;
  EXPECT_EQ(std::count_if(fields.begin(), fields.end(), [](const auto& f) { return f.first == "X-Huge"; }), 0);
  EXPECT_EQ(std::count_if(fields.begin(), fields.end(), [](const auto& f) { return f.first == "X-Small"; }), 1);
  EXPECT_NE(proxy.logged().find("the X-Huge header (71680 bytes)"), std::string::npos) << proxy.logged();
}

// A Runtime API that refuses a response at its header, as Lambda's (Go's net/http) refuses one
// it will not take: it answers, then closes with the body unread, so the kernel resets the
// connection under the rest of the upload.
class EarlyRefusingRuntimeApi {
 public:
  static constexpr std::string_view kAnswer = R"({"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"})";

  EarlyRefusingRuntimeApi() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] {
      for (;;) {
        boost::system::error_code error;
        tcp::socket socket(io_);
        acceptor_.accept(socket, error);
        if (error) return;  // closed: the test is over
        boost::asio::streambuf header;
        asio::read_until(socket, header, "\r\n\r\n", error);
        const std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
                                   std::to_string(kAnswer.size()) + "\r\nConnection: close\r\n\r\n" +
                                   std::string(kAnswer);
        asio::write(socket, asio::buffer(answer), error);
        socket.close(error);
      }
    });
  }
  ~EarlyRefusingRuntimeApi() {
    // A blocking accept() that never got its connection is woken by shutdown(), not by close().
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  EarlyRefusingRuntimeApi(const EarlyRefusingRuntimeApi&) = delete;
  EarlyRefusingRuntimeApi& operator=(const EarlyRefusingRuntimeApi&) = delete;

  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(RuntimeProxyTest, TheRuntimeApisEarlyRefusalOfAResponseReachesTheClient) {
  EarlyRefusingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  // 8 MiB, streamed in 64 KiB chunks or buffered: far more than the sockets between proxy and
  // Runtime API hold.
  const std::string head = "POST /2018-06-01/runtime/invocation/not-the-id/response HTTP/1.1\r\nHost: api\r\n";
  const std::string piece(std::size_t{64} * 1024, 'x');
  std::string streamed =
      head + "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 128; ++i) streamed += "10000\r\n" + piece + "\r\n";
  streamed += "0\r\n\r\n";
  std::string buffered = head + "Content-Length: 8388608\r\n\r\n";
  for (int i = 0; i < 128; ++i) buffered += piece;
  for (const std::string* upload : {&streamed, &buffered}) {
    RawClient client(proxy.port());
    auto sent = std::async(std::launch::async, [&client, upload] { client.send(*upload); });
    const auto answer = answer_of(client);
    EXPECT_EQ(answer.result_int(), 400) << (upload == &streamed ? "streamed" : "buffered");
    EXPECT_EQ(answer.body(), EarlyRefusingRuntimeApi::kAnswer);
    EXPECT_EQ(sent.wait_for(kPatience), std::future_status::ready);
  }
}

// Sends `piece` every 20 ms, for 5 s at most, until `answered`: an upload still going when its
// answer comes.
std::future<void> keep_sending(RawClient& client, std::string piece, const std::atomic<bool>& answered) {
  return std::async(std::launch::async, [&client, piece = std::move(piece), &answered] {
    try {
      for (int i = 0; i < 250 && !answered; ++i) {
        client.send(piece);
        std::this_thread::sleep_for(20ms);
      }
    } catch (const boost::system::system_error&) {
      // The proxy closed the connection after its answer, as the Runtime API does.
    }
  });
}

// A Content-Length past any limit of the proxy's own server (256 MiB by default) is the Runtime
// API's to refuse, as it would be without the proxy.
TEST(RuntimeProxyTest, AResponseOfAnySizeIsTheRuntimeApisToRefuse) {
  EarlyRefusingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  RawClient client(proxy.port());
  client.send(
      "POST /2018-06-01/runtime/invocation/not-the-id/response HTTP/1.1\r\nHost: api\r\n"
      "Content-Length: 1099511627776\r\n\r\n");
  // The body goes on until the answer comes: the proxy hears of the refusal at its next write
  // upstream, as the client would without it.
  std::atomic<bool> answered = false;
  auto uploading = keep_sending(client, std::string(std::size_t{16} * 1024, 'x'), answered);
  const auto answer = answer_of(client);
  answered = true;
  EXPECT_EQ(answer.result_int(), 400);
  EXPECT_EQ(answer.body(), EarlyRefusingRuntimeApi::kAnswer);
  EXPECT_EQ(uploading.wait_for(kPatience), std::future_status::ready);
}

// A stream that has not ended (a function streaming as long as it runs) learns of the refusal as
// without the proxy, while it still writes: the proxy stops reading it once the Runtime API has.
TEST(RuntimeProxyTest, AStreamStillGoingGetsTheRuntimeApisRefusalAtOnce) {
  EarlyRefusingRuntimeApi upstream;
  ProxyUnderTest proxy(upstream.port(), false);
  RawClient client(proxy.port());
  client.send(
      "POST /2018-06-01/runtime/invocation/not-the-id/response HTTP/1.1\r\nHost: api\r\n"
      "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::atomic<bool> answered = false;
  // Never the last chunk.
  auto streaming = keep_sending(client, "400\r\n" + std::string(1024, 's') + "\r\n", answered);
  const auto started = std::chrono::steady_clock::now();
  const auto answer = answer_of(client);
  answered = true;
  EXPECT_EQ(answer.result_int(), 400);
  EXPECT_EQ(answer.body(), EarlyRefusingRuntimeApi::kAnswer);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "the answer must not wait for the stream's end";
  EXPECT_EQ(streaming.wait_for(kPatience), std::future_status::ready);
}

TEST(RuntimeProxyTest, AnUpstreamThatIsGoneIsABadGateway) {
  const std::uint16_t nowhere = [] {
    RecordingRuntimeApi gone;
    return gone.port();
  }();
  ProxyUnderTest proxy(nowhere, false);
  RawClient client(proxy.port());
  client.send("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}");
  const auto answer = answer_of(client);
  EXPECT_EQ(answer.result_int(), 502);
  EXPECT_NE(answer.body().find("Proxy.UpstreamError"), std::string::npos) << answer.body();
}

}  // namespace
}  // namespace snapbus::adapter
