#include "listener_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "testing/loopback_socket.h"

namespace snapbus::adapter {
namespace {

using boost::asio::ip::address_v4;
using boost::asio::ip::address_v6;
using boost::asio::ip::make_address;
using boost::asio::ip::tcp;
using testing::bind_loopback;
using testing::free_loopback_port;

ListenerProbe opened() {
  std::string why_not;
  std::optional<ListenerProbe> probe = ListenerProbe::open(&why_not);
  if (!probe) throw std::runtime_error("ListenerProbe::open: " + why_not);
  return std::move(*probe);
}

std::uint16_t port_of(const UniqueFd& fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
  }
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
}

// What a connect() to 127.0.0.1:port says: 0 when it was taken, else its errno.
int connect_result(std::uint16_t port) {
  const UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
}

TEST(ListenerProbe, OpensOnThisKernelAndSaysWhyNotOtherwise) {
  std::string why_not;
  const std::optional<ListenerProbe> probe = ListenerProbe::open(&why_not);
  EXPECT_TRUE(probe.has_value()) << why_not;
  EXPECT_EQ(why_not, "");
}

TEST(ListenerProbe, AgreesWithConnectBeforeDuringAndAfterAListen) {
  ListenerProbe probe = opened();
  UniqueFd app = bind_loopback();  // bound, not listening yet: a connect is refused
  const std::uint16_t port = port_of(app);
  const tcp::endpoint endpoint(address_v4::loopback(), port);

  EXPECT_EQ(probe.listening(endpoint), false);
  EXPECT_EQ(connect_result(port), ECONNREFUSED);

  ASSERT_EQ(::listen(app.get(), 4), 0);
  EXPECT_EQ(probe.listening(endpoint), true);
  EXPECT_EQ(connect_result(port), 0);

  app.reset();
  EXPECT_EQ(probe.listening(endpoint), false);
  EXPECT_EQ(connect_result(port), ECONNREFUSED);
}

TEST(ListenerProbe, FindsAListenerOnEveryAddressThroughAnyLoopbackAddress) {
  ListenerProbe probe = opened();
  const UniqueFd app(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(app.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(app.get(), 4), 0);
  const std::uint16_t port = port_of(app);
  EXPECT_EQ(probe.listening(tcp::endpoint(make_address("127.0.0.1"), port)), true);
  EXPECT_EQ(probe.listening(tcp::endpoint(make_address("127.0.0.53"), port)), true);
}

TEST(ListenerProbe, LooksUpIpv6Loopback) {
  ListenerProbe probe = opened();
  const UniqueFd app(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  if (!app || ::bind(app.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    GTEST_SKIP() << "no IPv6 loopback here: " << std::strerror(errno);
  }
  const tcp::endpoint endpoint(address_v6::loopback(), port_of(app));
  EXPECT_EQ(probe.listening(endpoint), false);
  ASSERT_EQ(::listen(app.get(), 4), 0);
  EXPECT_EQ(probe.listening(endpoint), true);
  // Listening on ::1 only: IPv4's loopback would be refused, and the lookup says so.
  EXPECT_EQ(probe.listening(tcp::endpoint(address_v4::loopback(), endpoint.port())), false);
}

TEST(ListenerProbe, CannotTellForAnAddressThatIsNotLoopback) {
  ListenerProbe probe = opened();
  EXPECT_EQ(probe.listening(tcp::endpoint(make_address("192.0.2.1"), free_loopback_port())), std::nullopt);
  EXPECT_EQ(probe.listening(tcp::endpoint(make_address("0.0.0.0"), free_loopback_port())), std::nullopt);
}

TEST(ListenerProbe, ManyLookupsInARowEachGetTheirOwnAnswer) {
  ListenerProbe probe = opened();
  UniqueFd app = bind_loopback();
  ASSERT_EQ(::listen(app.get(), 4), 0);
  const UniqueFd closed = testing::hold_closed_loopback_port();
  const tcp::endpoint open_port(address_v4::loopback(), port_of(app));
  const tcp::endpoint closed_port(address_v4::loopback(), port_of(closed));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(probe.listening(open_port), true) << "lookup " << i;
    ASSERT_EQ(probe.listening(closed_port), false) << "lookup " << i;
  }
}

}  // namespace
}  // namespace snapbus::adapter
