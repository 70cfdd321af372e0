// Waits until the app answers its readiness check, the way Lambda Web Adapter does (HTTP GET of a
// path with a healthy status, or a TCP connect), but notices within about a millisecond instead of
// LWA's 10 ms polls.
//
//   ReadinessCheck check{.host = "127.0.0.1", .port = 8080, .path = "/", .protocol = ReadinessProtocol::http,
//                        .healthy = StatusSet::range(100, 499)};
//   Readiness result = co_await wait_until_ready(check, std::nullopt, [](std::string_view line) { log(line); });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "adapter_config.h"
#include "listen_notice.h"

namespace snapbus::adapter {

// An app whose processes announce themselves (ListenNotices: the library /opt/bootstrap preloads)
// is checked the moment it announces its listen(). Meanwhile it is polled only as a safety net:
// - every kHeardRefusedRetry while every process of it runs a program the library reaches, since
//   then its listen() is heard (what is left are processes started without the library and
//   runtimes that bypass libc other than Go: rare, and still found within that time);
// - at LWA's pace, kAnnouncedRefusedRetry, while one of them may listen unheard (a statically linked
//   program it exec'd or spawned, or Go, whose runtime makes the system call itself): no such app
//   is noticed later than under LWA.
// An app that announces nothing is checked every kRefusedRetry: that makes readiness visible within
// about a millisecond, but every wake-up costs CPU (on a VM a 1 ms cadence alone is 1-1.6% of a
// core). While nothing listens, a check on a loopback address asks the kernel for the listener
// (ListenerProbe, a third of a refused connect's CPU) and connects only every kDialAtLeastEvery,
// LWA's pace: a listener the lookup cannot see (a NAT redirect) is still found no later than under
// LWA. An app that answers but is not healthy yet is still booting, and is asked at LWA's pace,
// kUnhealthyRetry, rather than a thousand times a second.
inline constexpr std::chrono::milliseconds kRefusedRetry{1};
inline constexpr std::chrono::milliseconds kAnnouncedRefusedRetry{10};
inline constexpr std::chrono::milliseconds kHeardRefusedRetry{100};
inline constexpr std::chrono::milliseconds kUnhealthyRetry{10};
inline constexpr std::chrono::milliseconds kDialAtLeastEvery{10};

struct ReadinessCheck {
  std::string host;
  std::uint16_t port = 0;
  std::string path = "/";
  ReadinessProtocol protocol = ReadinessProtocol::http;
  StatusSet healthy = StatusSet::range(100, 499);
  // How soon to ask again (see below); the benchmark sets LWA's 10 ms to compare.
  std::chrono::milliseconds refused_retry = kRefusedRetry;
  std::chrono::milliseconds announced_refused_retry = kAnnouncedRefusedRetry;
  std::chrono::milliseconds heard_refused_retry = kHeardRefusedRetry;
  std::chrono::milliseconds unhealthy_retry = kUnhealthyRetry;
};

enum class Readiness {
  ready,      // the app answered healthy (HTTP) or accepted a connection (TCP)
  timed_out,  // not within the limit (async init: the app goes on starting; check again later)
};

// Progress: a line after 2 s, 4 s, 8 s, ... of waiting, naming the last reason.
using ReadinessLog = std::function<void(std::string_view line)>;

// Checks until ready or until `limit` has passed (nullopt: no limit, as LWA without async init);
// with `notices` (may be null), also whenever a listen() is announced. When ready, `ready_how` (may
// be null) says what showed it: "GET /health answered 200", "it accepted a TCP connection".
// Coroutines: the arguments are taken by value, so a caller's temporaries cannot dangle.
boost::asio::awaitable<Readiness> wait_until_ready(ReadinessCheck check,
                                                   std::optional<std::chrono::steady_clock::duration> limit,
                                                   ReadinessLog log, ListenNotices* notices = nullptr,
                                                   std::string* ready_how = nullptr);

struct CheckOutcome {
  enum class Kind {
    ready,
    refused,    // nothing listens yet
    not_ready,  // something answered, but not healthy (or not in time)
  };
  Kind kind = Kind::refused;
  std::string reason;  // why not: "Connection refused", "status 503", ...; or what showed it ready
};

// One check, also for the async-init case where the first invocation asks again. An app that
// accepts but does not answer within `timeout` is not ready.
boost::asio::awaitable<CheckOutcome> check_once(ReadinessCheck check,
                                                std::chrono::steady_clock::duration timeout = std::chrono::seconds(1));

}  // namespace snapbus::adapter
