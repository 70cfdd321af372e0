#include "wake_signal.h"

#include <gtest/gtest.h>
#include <boost/asio.hpp>

namespace snapbus::emulator {
namespace {

namespace asio = boost::asio;

TEST(WakeSignal, OneNotifyWakesEveryWaiterAndOnlyThen) {
  asio::io_context io;
  WakeSignal signal(io.get_executor());
  int woken = 0;
  auto waiter = [&]() -> asio::awaitable<void> {
    co_await signal.wait();
    ++woken;
  };
  asio::co_spawn(io, waiter(), asio::detached);
  asio::co_spawn(io, waiter(), asio::detached);
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(woken, 0);  // nothing expires by itself
  io.restart();
  signal.notify();
  io.run_for(std::chrono::milliseconds(500));
  EXPECT_EQ(woken, 2);
}

}  // namespace
}  // namespace snapbus::emulator
