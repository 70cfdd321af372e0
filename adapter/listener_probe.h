// Asks the kernel whether a TCP listener would take a connection to a loopback address, without
// connecting: one NETLINK_SOCK_DIAG lookup of the listener an incoming SYN would find.
//
//   std::string why_not;
//   std::optional<ListenerProbe> probe = ListenerProbe::open(&why_not);
//   if (probe) {
//     std::optional<bool> listening = probe->listening(endpoint);  // nullopt: connect to find out
//   }
//
// Why: while the app starts, readiness asks a thousand times a second, and nearly every answer is
// "nothing listens". A refused connect() builds a socket, a SYN and a RST for that (about 15 us of
// CPU on a 2-vCPU VM); the lookup is a hash probe and two system calls (about 4.5 us), and the app
// never sees a connection attempt. Linux only; where the kernel does not answer as it should (no
// inet_diag, netlink filtered, another network namespace's view), open() says so and the caller
// connects as before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/ip/tcp.hpp>

#include "snapbus/unique_fd.h"

namespace snapbus::adapter {

class ListenerProbe {
 public:
  // Opens the netlink socket and checks the kernel's answers against a listener of its own on
  // 127.0.0.1 (found while it listens, not found once closed): a kernel that cannot look sockets
  // up (inet_diag not loaded answers "not found" for everything) must not make every app look
  // unready. nullopt, with the reason in `why_not` (may be null), when the check fails.
  static std::optional<ListenerProbe> open(std::string* why_not = nullptr);

  // true: a listener takes connections to `endpoint`; false: nothing listens there (a connect
  // would be refused). nullopt: cannot tell (not a loopback address, or the lookup failed): connect.
  std::optional<bool> listening(const boost::asio::ip::tcp::endpoint& endpoint);

 private:
  explicit ListenerProbe(UniqueFd netlink) : netlink_(std::move(netlink)) {}

  UniqueFd netlink_;
  std::uint32_t sequence_ = 0;
};

}  // namespace snapbus::adapter
