#include "readiness.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include "snapbus/unique_fd.h"
#include "testing/loopback_socket.h"

namespace snapbus::adapter {
namespace {

using testing::bind_loopback;
using testing::free_loopback_port;
using testing::hold_closed_loopback_port;
using testing::port_of;

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Every wait in these tests is bounded: a broken check fails as timed_out instead of hanging.
constexpr auto kTestLimit = 10s;

// A tiny HTTP server on a thread: answers each request with the next status of `statuses` (the last
// one repeats), after `listen_delay`, each answer `answer_delay` after its request. Counts the
// requests it answered.
class TinyApp {
 public:
  TinyApp(std::uint16_t port, std::vector<unsigned> statuses, std::chrono::milliseconds listen_delay,
          std::chrono::milliseconds answer_delay = std::chrono::milliseconds::zero())
      : statuses_(std::move(statuses)), answer_delay_(answer_delay) {
    thread_ = std::thread([this, port, listen_delay] {
      std::this_thread::sleep_for(listen_delay);
      listener_ = bind_loopback(port);
      ::listen(listener_.get(), 16);
      listening_at_ = std::chrono::steady_clock::now();
      listening_.store(true);
      serve();
    });
  }
  ~TinyApp() {
    while (!listening_.load()) std::this_thread::sleep_for(1ms);
    stop_.store(true);
    if (listener_) ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  TinyApp(const TinyApp&) = delete;
  TinyApp& operator=(const TinyApp&) = delete;

  [[nodiscard]] int requests() const { return requests_.load(); }
  [[nodiscard]] std::chrono::steady_clock::time_point listening_at() const {
    while (!listening_.load()) std::this_thread::sleep_for(1ms);
    return listening_at_;
  }

 private:
  void serve() {
    while (!stop_.load()) {
      UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client) return;
      std::string head;
      char buffer[1024];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(client.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        head.append(buffer, static_cast<std::size_t>(n));
      }
      std::this_thread::sleep_for(answer_delay_);
      const int index = requests_.fetch_add(1);
      const unsigned status = statuses_[std::min<std::size_t>(index, statuses_.size() - 1)];
      const std::string reply =
          "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      (void)::write(client.get(), reply.data(), reply.size());
    }
  }

  std::vector<unsigned> statuses_;
  std::chrono::milliseconds answer_delay_;
  UniqueFd listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{false};
  std::atomic<int> requests_{0};
  std::chrono::steady_clock::time_point listening_at_;
};

Readiness wait(const ReadinessCheck& check, std::chrono::steady_clock::duration limit,
               std::vector<std::string>* lines = nullptr, std::string* ready_how = nullptr) {
  asio::io_context io;
  auto result = asio::co_spawn(io,
                               wait_until_ready(
                                   check, limit,
                                   [&](std::string_view line) {
                                     if (lines != nullptr) lines->emplace_back(line);
                                   },
                                   nullptr, ready_how),
                               asio::use_future);
  io.run();
  return result.get();
}

TEST(Readiness, TcpIsReadyOnlyOnceTheAppListens) {
  const std::uint16_t port = free_loopback_port();
  TinyApp app(port, {200}, 150ms);
  const ReadinessCheck check{.host = "127.0.0.1", .port = port, .protocol = ReadinessProtocol::tcp};
  std::string how;
  ASSERT_EQ(wait(check, kTestLimit, nullptr, &how), Readiness::ready);
  EXPECT_GE(std::chrono::steady_clock::now(), app.listening_at());
  EXPECT_EQ(how, "it accepted a TCP connection");
}

TEST(Readiness, HttpWaitsForAHealthyStatus) {
  const std::uint16_t port = free_loopback_port();
  TinyApp app(port, {503, 503, 500, 200}, 50ms);
  const ReadinessCheck check{.host = "127.0.0.1", .port = port, .path = "/health", .protocol = ReadinessProtocol::http};
  std::string how;
  ASSERT_EQ(wait(check, kTestLimit, nullptr, &how), Readiness::ready);
  EXPECT_EQ(app.requests(), 4);                // the 5xx answers were not taken for readiness
  EXPECT_EQ(how, "GET /health answered 200");  // what the log line names
}

TEST(Readiness, DefaultHealthySetTakesA404AsReadyLikeLwa) {
  const std::uint16_t port = free_loopback_port();
  TinyApp app(port, {404}, 0ms);
  ASSERT_EQ(wait({.host = "127.0.0.1", .port = port}, kTestLimit), Readiness::ready);
  EXPECT_EQ(app.requests(), 1);
}

TEST(Readiness, AnUnhealthyAppTimesOutAtTheLimit) {
  const std::uint16_t port = free_loopback_port();
  TinyApp app(port, {404}, 0ms);
  const ReadinessCheck check{.host = "127.0.0.1", .port = port, .healthy = StatusSet::range(200, 299)};
  EXPECT_EQ(wait(check, 200ms), Readiness::timed_out);
  // Asked at LWA's 10 ms pace while it answers: a booting app is not flooded.
  EXPECT_GE(app.requests(), 2);
  EXPECT_LE(app.requests(), 40);
}

TEST(Readiness, NothingListeningTimesOutAndSaysWhy) {
  const UniqueFd closed = hold_closed_loopback_port();
  const std::uint16_t port = port_of(closed);
  EXPECT_EQ(wait({.host = "127.0.0.1", .port = port}, 50ms), Readiness::timed_out);
  asio::io_context io;
  auto outcome = asio::co_spawn(io, check_once({.host = "127.0.0.1", .port = port}), asio::use_future);
  io.run();
  const CheckOutcome result = outcome.get();
  EXPECT_EQ(result.kind, CheckOutcome::Kind::refused);
  EXPECT_FALSE(result.reason.empty());
}

// As LWA's check: an answer that takes longer than any per-attempt limit (a health endpoint that
// checks a database) is waited for, not abandoned and asked again for ever.
TEST(Readiness, AHealthCheckSlowerThanASecondIsWaitedFor) {
  const std::uint16_t port = free_loopback_port();
  const TinyApp app(port, {200}, 0ms, 1500ms);
  std::string how;
  EXPECT_EQ(wait({.host = "127.0.0.1", .port = port}, kTestLimit, nullptr, &how), Readiness::ready);
  EXPECT_EQ(how, "GET / answered 200");
  EXPECT_EQ(app.requests(), 1) << "an attempt was abandoned and made again";
}

TEST(Readiness, AnAppThatAcceptsButNeverAnswersIsNotReady) {
  UniqueFd listener = bind_loopback();
  ASSERT_EQ(::listen(listener.get(), 4), 0);  // the kernel accepts; nobody ever reads
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(wait({.host = "127.0.0.1", .port = port_of(listener)}, 300ms), Readiness::timed_out);
  // The limit bounds the attempt too: async init must give up in time for Lambda's 10 s Init.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
}

TEST(Readiness, LogsProgressWhileWaiting) {
  const UniqueFd closed = hold_closed_loopback_port();
  const std::uint16_t port = port_of(closed);
  std::vector<std::string> lines;
  EXPECT_EQ(wait({.host = "127.0.0.1", .port = port, .path = "/up"}, 2200ms, &lines), Readiness::timed_out);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_NE(lines[0].find("app is not ready after 2"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("/up"), std::string::npos) << lines[0];
}

// This machine's first IPv4 address that is up and not loopback, or "" when it has none.
std::string non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (const ifaddrs* entry = list; entry != nullptr && found.empty(); entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    if ((entry->ifa_flags & IFF_UP) == 0 || (entry->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    if (::inet_ntop(AF_INET, &address->sin_addr, text, sizeof text) != nullptr) found = text;
  }
  ::freeifaddrs(list);
  return found;
}

// The kernel's listener lookup answers for loopback only: any other check host is polled by
// connecting, and an app listening on every interface is found there too.
TEST(Readiness, ACheckHostThatIsNotLoopbackIsFoundByConnecting) {
  const std::string host = non_loopback_ipv4();
  if (host.empty()) GTEST_SKIP() << "this machine has no IPv4 address besides loopback";
  const UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  std::vector<std::string> lines;
  std::string how;
  EXPECT_EQ(
      wait({.host = host, .port = port_of(listener), .protocol = ReadinessProtocol::tcp}, kTestLimit, &lines, &how),
      Readiness::ready);
  EXPECT_EQ(how, "it accepted a TCP connection");
  EXPECT_TRUE(lines.empty()) << lines.front();
}

}  // namespace
}  // namespace snapbus::adapter
