// Runs a coroutine that returns an error code on a test's io_context to its end, or fails the test
// after 10 s, for the tests of net/'s reads and writes on real sockets.
//
//   asio::io_context io;
//   boost::system::error_code error = snapbus::net::testing::run_to_end(io, write_eagerly(socket, serializer));
#pragma once

#include <chrono>
#include <future>
#include <utility>

#include <gtest/gtest.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace snapbus::net::testing {

inline boost::system::error_code run_to_end(boost::asio::io_context& io,
                                            boost::asio::awaitable<boost::system::error_code> work) {
  using namespace std::chrono_literals;
  auto result = boost::asio::co_spawn(io, std::move(work), boost::asio::use_future);
  io.run_for(10s);
  io.restart();  // the same io_context may run the test's next coroutine
  EXPECT_EQ(result.wait_for(0s), std::future_status::ready) << "the coroutine did not finish in 10 s";
  return result.wait_for(0s) == std::future_status::ready ? result.get() : boost::asio::error::timed_out;
}

}  // namespace snapbus::net::testing
