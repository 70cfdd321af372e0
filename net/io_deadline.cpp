#include "io_deadline.h"

#include <cstdint>

#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>

namespace snapbus::net {

struct IoDeadline::State {
  explicit State(boost::asio::ip::tcp::socket& owner) : timer(owner.get_executor()), socket(&owner) {}
  boost::asio::steady_timer timer;
  boost::asio::ip::tcp::socket* socket;  // null once the IoDeadline is gone
  Clock::time_point due = Clock::time_point::max();
  // When the pending wait ends; max when no wait is pending.
  Clock::time_point armed_for = Clock::time_point::max();
  // Which wait is current: a wait that was replaced (re-armed earlier) completes as operation_aborted,
  // possibly after its successor started, and must then change nothing.
  std::uint64_t wait_number = 0;
  bool timed_out = false;
};

IoDeadline::IoDeadline(boost::asio::ip::tcp::socket& socket) : state_(std::make_shared<State>(socket)) {}

IoDeadline::~IoDeadline() {
  state_->socket = nullptr;
  // Asio declares that cancel() may throw, and a destructor must not; a wait left pending only
  // keeps the io_context busy until it fires, and then changes nothing.
  try {
    state_->timer.cancel();
  } catch (const boost::system::system_error&) {
  }
}

void IoDeadline::expire_after(Clock::duration limit) {
  state_->due = Clock::now() + limit;
  if (state_->due < state_->armed_for) arm(state_);
}

void IoDeadline::expire_never() { state_->due = Clock::time_point::max(); }

void IoDeadline::stop() {
  state_->due = Clock::time_point::max();
  if (state_->armed_for == Clock::time_point::max()) return;
  state_->armed_for = Clock::time_point::max();
  ++state_->wait_number;  // the cancelled wait then changes nothing
  state_->timer.cancel();
}

bool IoDeadline::timed_out() const { return state_->timed_out; }

void IoDeadline::arm(const std::shared_ptr<State>& state) {
  state->armed_for = state->due;
  state->timer.expires_at(state->due);  // cancels a pending wait, which then finds itself replaced
  const std::uint64_t number = ++state->wait_number;
  state->timer.async_wait([state, number](boost::system::error_code error) {
    if (number != state->wait_number) return;
    state->armed_for = Clock::time_point::max();
    if (error || state->socket == nullptr || state->due == Clock::time_point::max()) return;
    if (Clock::now() < state->due) {
      arm(state);  // the deadline moved on while this wait was pending
      return;
    }
    state->timed_out = true;
    boost::system::error_code ignored;
    state->socket->close(ignored);
  });
}

}  // namespace snapbus::net
