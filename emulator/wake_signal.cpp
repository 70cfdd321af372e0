#include "wake_signal.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace snapbus::emulator {

WakeSignal::WakeSignal(const boost::asio::any_io_executor& executor)
    : timer_(executor, boost::asio::steady_timer::time_point::max()) {}

boost::asio::awaitable<void> WakeSignal::wait() {
  boost::system::error_code ec;
  co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

}  // namespace snapbus::emulator
