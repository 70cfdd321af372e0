// An address resolves on the spot, with no resolver thread in the process (the thread count is
// read from /proc); a name still goes through getaddrinfo.
#include "snapbus/resolve_endpoints.h"

#include <filesystem>
#include <future>
#include <iterator>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

namespace snapbus::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::ptrdiff_t thread_count() {
  return std::distance(std::filesystem::directory_iterator("/proc/self/task"), std::filesystem::directory_iterator());
}

// The endpoints for host and port, resolved on a fresh io_context (failing the test after 10 s).
tcp::resolver::results_type resolved(const std::string& host, const std::string& port,
                                     boost::system::error_code& error) {
  asio::io_context io;
  auto result = asio::co_spawn(io, resolve_endpoints(host, port, error), asio::use_future);
  io.run_for(10s);
  EXPECT_EQ(result.wait_for(0s), std::future_status::ready) << "resolving " << host << " did not finish";
  return result.wait_for(0s) == std::future_status::ready ? result.get() : tcp::resolver::results_type();
}

TEST(ResolveEndpoints, AnAddressNeedsNoResolverThread) {
  const auto threads_before = thread_count();
  boost::system::error_code error;
  const auto v4 = resolved("127.0.0.1", "9001", error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_EQ(v4.size(), 1U);
  EXPECT_EQ(v4.begin()->endpoint(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 9001));
  const auto v6 = resolved("::1", "8080", error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_EQ(v6.size(), 1U);
  EXPECT_EQ(v6.begin()->endpoint(), tcp::endpoint(asio::ip::make_address("::1"), 8080));
  EXPECT_EQ(thread_count(), threads_before);
}

TEST(ResolveEndpoints, ANameGoesThroughTheResolver) {
  boost::system::error_code error;
  const auto endpoints = resolved("localhost", "9001", error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_FALSE(endpoints.empty());
  for (const auto& entry : endpoints) {
    EXPECT_TRUE(entry.endpoint().address().is_loopback()) << entry.endpoint();
    EXPECT_EQ(entry.endpoint().port(), 9001);
  }
}

}  // namespace
}  // namespace snapbus::net
