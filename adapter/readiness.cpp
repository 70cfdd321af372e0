#include "readiness.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "listener_probe.h"
#include "snapbus/resolve_endpoints.h"
#include "snapbus/unique_fd.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::string host_header(const ReadinessCheck& check) {
  const bool ipv6 = check.host.find(':') != std::string::npos;
  return ipv6 ? fmt::format("[{}]:{}", check.host, check.port) : fmt::format("{}:{}", check.host, check.port);
}

using Endpoints = tcp::resolver::results_type;

// A connect to the first endpoint that does not refuse, issued directly rather than through Asio:
// on loopback a closed port refuses at once, and while the app starts that is every attempt, so a
// refused attempt costs four system calls and builds no stream, timer or epoll registration. A
// non-blocking connect() says EINPROGRESS even then (the RST is handled as the call releases the
// socket), so its pending error is read before anything waits for it.
struct Dialed {
  UniqueFd fd;
  tcp::endpoint endpoint;
  bool in_progress = false;
  int error = ECONNREFUSED;  // of the last endpoint tried, when none answered
};

Dialed dial(const Endpoints& endpoints) {
  Dialed dialed;
  for (const auto& entry : endpoints) {
    dialed.endpoint = entry.endpoint();
    dialed.fd.reset(::socket(dialed.endpoint.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!dialed.fd) {
      dialed.error = errno;
      return dialed;
    }
    if (::connect(dialed.fd.get(), dialed.endpoint.data(), static_cast<socklen_t>(dialed.endpoint.size())) == 0) {
      return dialed;
    }
    dialed.error = errno;
    if (dialed.error == EINPROGRESS) {
      int pending = 0;
      socklen_t length = sizeof pending;
      if (::getsockopt(dialed.fd.get(), SOL_SOCKET, SO_ERROR, &pending, &length) != 0 || pending == 0) {
        dialed.in_progress = true;
        return dialed;
      }
      dialed.error = pending;
    }
    dialed.fd.reset();
  }
  return dialed;
}

// The refused case is decided here, synchronously, so that the usual attempt while the app starts
// allocates nothing: no coroutine frame, no message string.
std::optional<CheckOutcome> refused_or_failed(const Dialed& dialed) {
  if (dialed.fd) return std::nullopt;
  if (dialed.error == ECONNREFUSED) return CheckOutcome{CheckOutcome::Kind::refused, "connection refused"};
  return CheckOutcome{CheckOutcome::Kind::not_ready, std::strerror(dialed.error)};
}

// Finishes an attempt whose connect did not fail at once.
asio::awaitable<CheckOutcome> attempt(const ReadinessCheck& check, Dialed dialed,
                                      std::optional<std::chrono::steady_clock::duration> timeout) {
  using Kind = CheckOutcome::Kind;
  const auto system_error = [](int code) { return beast::error_code(code, boost::system::system_category()); };
  // The socket that answered is the one the check uses: the app sees one connection per attempt.
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  beast::error_code error;
  stream.socket().assign(dialed.endpoint.protocol(), dialed.fd.release(), error);
  if (error) co_return CheckOutcome{Kind::not_ready, error.message()};
  if (timeout) {
    stream.expires_after(*timeout);
  } else {
    stream.expires_never();
  }
  if (dialed.in_progress) {
    co_await stream.socket().async_wait(tcp::socket::wait_write, asio::redirect_error(asio::use_awaitable, error));
    int pending = 0;
    socklen_t length = sizeof pending;
    if (!error) ::getsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_ERROR, &pending, &length);
    if (pending != 0) error = system_error(pending);
    if (error == asio::error::connection_refused) co_return CheckOutcome{Kind::refused, error.message()};
    if (error) co_return CheckOutcome{Kind::not_ready, error.message()};
  }
  if (check.protocol == ReadinessProtocol::tcp) co_return CheckOutcome{Kind::ready, "it accepted a TCP connection"};

  http::request<http::empty_body> request(http::verb::get, check.path, 11);
  request.set(http::field::host, host_header(check));
  request.set(http::field::user_agent, "snapbus-readiness");
  request.keep_alive(false);
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, error));
  if (error) co_return CheckOutcome{Kind::not_ready, fmt::format("sending the check failed: {}", error.message())};

  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // only the status matters; the body is never read
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, error));
  if (error) co_return CheckOutcome{Kind::not_ready, fmt::format("no HTTP answer: {}", error.message())};
  const unsigned status = parser.get().result_int();
  if (check.healthy.contains(status)) {
    co_return CheckOutcome{Kind::ready, fmt::format("GET {} answered {}", check.path, status)};
  }
  co_return CheckOutcome{Kind::not_ready, fmt::format("status {}", status)};
}

// True when the kernel says nothing listens on any of `endpoints`: a connect would be refused.
bool nothing_listens(ListenerProbe& probe, const Endpoints& endpoints) {
  for (const auto& entry : endpoints) {
    if (probe.listening(entry.endpoint()) != false) return false;
  }
  return true;
}

// The kernel's listener lookup answers for loopback addresses only, so for a check host elsewhere
// every poll connects and the lookup is not opened: its self-check would cost a netlink socket and
// two listens for nothing, and a failed one would log a line that changes nothing.
std::optional<ListenerProbe> probe_for(const Endpoints& endpoints, const ReadinessLog& log) {
  const bool any_loopback = std::any_of(endpoints.begin(), endpoints.end(),
                                        [](const auto& entry) { return entry.endpoint().address().is_loopback(); });
  if (!any_loopback) return std::nullopt;
  std::string no_lookups;
  std::optional<ListenerProbe> probe = ListenerProbe::open(&no_lookups);
  if (!probe) log(fmt::format("readiness: connecting to find out whether the app listens ({})", no_lookups));
  return probe;
}

std::chrono::milliseconds refused_retry(const ReadinessCheck& check, ListenNotices* notices) {
  if (notices == nullptr || !notices->app_announced()) return check.refused_retry;
  return notices->every_listen_heard() ? check.heard_refused_retry : check.announced_refused_retry;
}

}  // namespace

asio::awaitable<CheckOutcome> check_once(ReadinessCheck check, std::chrono::steady_clock::duration timeout) {
  beast::error_code error;
  const Endpoints endpoints = co_await net::resolve_endpoints(check.host, std::to_string(check.port), error);
  if (error) {
    co_return CheckOutcome{CheckOutcome::Kind::not_ready,
                           fmt::format("cannot resolve {}: {}", check.host, error.message())};
  }
  Dialed dialed = dial(endpoints);
  if (auto outcome = refused_or_failed(dialed)) co_return *outcome;
  co_return co_await attempt(check, std::move(dialed), timeout);
}

asio::awaitable<Readiness> wait_until_ready(ReadinessCheck check,
                                            std::optional<std::chrono::steady_clock::duration> limit, ReadinessLog log,
                                            ListenNotices* notices, std::string* ready_how) {
  // Whatever ends the wait (ready, the limit, an exception) ends the watch of the notices.
  const std::unique_ptr<ListenNotices, void (*)(ListenNotices*)> stop_watching(
      notices, [](ListenNotices* watched) { watched->stop_watching(); });
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer pause(executor);
  const auto start = std::chrono::steady_clock::now();
  auto next_report = start + 2s;
  Endpoints endpoints;
  std::optional<ListenerProbe> probe;
  auto last_dial = start - kDialAtLeastEvery;
  for (;;) {
    const auto attempt_start = std::chrono::steady_clock::now();
    // An attempt waits for its answer as long as the wait may last, as LWA's does: a health check
    // that always takes longer than some per-attempt limit would never count as ready, and a server
    // whose listening socket accepts before its workers do answers once they are up.
    std::optional<std::chrono::steady_clock::duration> attempt_timeout;
    if (limit) attempt_timeout = std::max<std::chrono::steady_clock::duration>(start + *limit - attempt_start, 1ms);
    // co_await stays out of conditional expressions: GCC 12 miscompiles temporaries there.
    beast::error_code error;
    // A name is resolved once per wait, not once per attempt (an address needs no resolving at all).
    if (endpoints.empty()) {
      endpoints = co_await net::resolve_endpoints(check.host, std::to_string(check.port), error);
      if (!error) probe = probe_for(endpoints, log);
    }
    CheckOutcome outcome{CheckOutcome::Kind::not_ready, ""};
    if (error) {
      outcome.reason = fmt::format("cannot resolve {}: {}", check.host, error.message());
    } else if (probe && attempt_start - last_dial < kDialAtLeastEvery && nothing_listens(*probe, endpoints)) {
      outcome = CheckOutcome{CheckOutcome::Kind::refused, "nothing listens there"};
    } else {
      last_dial = attempt_start;
      Dialed dialed = dial(endpoints);
      if (auto quick = refused_or_failed(dialed)) {
        outcome = std::move(*quick);
      } else {
        outcome = co_await attempt(check, std::move(dialed), attempt_timeout);
      }
    }
    if (outcome.kind == CheckOutcome::Kind::ready) {
      if (ready_how != nullptr) *ready_how = std::move(outcome.reason);
      co_return Readiness::ready;
    }

    const auto now = std::chrono::steady_clock::now();
    if (limit && now - start >= *limit) co_return Readiness::timed_out;
    if (now >= next_report) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      log(fmt::format("app is not ready after {} ms ({} {}:{}{}: {})", waited.count(),
                      check.protocol == ReadinessProtocol::http ? "GET" : "connect to", check.host, check.port,
                      check.protocol == ReadinessProtocol::http ? check.path : "", outcome.reason));
      next_report = start + 2 * (now - start);
    }
    auto retry = check.unhealthy_retry;
    if (outcome.kind == CheckOutcome::Kind::refused) retry = refused_retry(check, notices);
    auto wake = attempt_start + retry;
    if (limit) wake = std::min(wake, start + *limit);
    if (notices != nullptr) {
      co_await notices->wait_until(wake);
    } else {
      pause.expires_at(wake);
      co_await pause.async_wait(asio::use_awaitable);
    }
  }
}

}  // namespace snapbus::adapter
