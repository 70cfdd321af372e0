// A broadcast condition for coroutines on one io_context thread: wait() suspends until the next
// notify(), which wakes every waiter at once. Waiters re-check what they wait for in a loop.
//
//   WakeSignal changed(io.get_executor());
//   while (!done) co_await changed.wait();     // one coroutine
//   done = true; changed.notify();             // another
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace snapbus::emulator {

class WakeSignal {
 public:
  explicit WakeSignal(const boost::asio::any_io_executor& executor);

  boost::asio::awaitable<void> wait();
  // Cancelling a timer that never expires is what wakes its waiters.
  void notify() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace snapbus::emulator
