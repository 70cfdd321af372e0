// TCP sockets on 127.0.0.1 for the adapter's tests and benchmarks: an app that starts listening
// later, or a port nothing listens on.
//
//   const std::uint16_t port = free_loopback_port();   // nothing listens here now
//   snapbus::UniqueFd app = bind_loopback(port);        // ... until the "app" starts
//   ::listen(app.get(), 16);
//   const snapbus::UniqueFd closed = hold_closed_loopback_port();  // nothing will, while it lives
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "snapbus/unique_fd.h"

namespace snapbus::adapter::testing {

// A socket bound to 127.0.0.1:`port` (0: any free port), not yet listening. SO_REUSEADDR, so a
// port just probed can be bound again at once.
inline UniqueFd bind_loopback(std::uint16_t port = 0) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("bind 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }
  return fd;
}

inline std::uint16_t port_of(const UniqueFd& fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// A port that nothing listens on now, for a server that starts later. Taken at random below the
// kernel's ephemeral range: a port from bind(0) comes from that range, where an outgoing connection
// of a test running beside this one may take it as its own port before the server binds it.
inline std::uint16_t free_loopback_port() {
  int ephemeral_low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> ephemeral_low;
  std::random_device seed;
  std::mt19937 random(seed());
  std::uniform_int_distribution<int> below_ephemeral(10000, std::max(ephemeral_low - 1, 10000));
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto port = static_cast<std::uint16_t>(below_ephemeral(random));
    try {
      static_cast<void>(bind_loopback(port));
      return port;
    } catch (const std::runtime_error&) {
      // taken: another
    }
  }
  return port_of(bind_loopback());
}

// A port that nothing listens on while the socket returned lives, for a test that needs refusals:
// bound without SO_REUSEADDR, so no other test's server can take the port (a free port, merely
// probed, was once taken by one running in parallel), and never listening, so connects are refused.
inline UniqueFd hold_closed_loopback_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(errno));
  }
  return fd;
}

}  // namespace snapbus::adapter::testing
