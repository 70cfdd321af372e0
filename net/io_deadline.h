// A time limit on the I/O of one socket that many short operations can move cheaply.
//
//   IoDeadline deadline(socket);
//   deadline.expire_after(30s);                      // a clock read, no system call
//   auto [error, n] = co_await socket.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
//   if (error && deadline.timed_out()) error = beast::error::timeout;
//   deadline.expire_never();
//   deadline.stop();                                 // going idle: nothing left pending
//
// Beast's tcp_stream arms a timer for every operation: one timerfd_settime system call each, five
// per relayed Lambda invocation. Here one timer stays armed for the earliest due time; when it fires
// and the deadline has moved on, it is armed again for the new one, so a busy connection arms it
// once per period instead of once per operation. When the deadline passes, the socket is closed (as
// Beast does), which ends the pending operation with operation_aborted.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

namespace snapbus::net {

class IoDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  // `socket` must outlive this object (declare the deadline after the socket).
  explicit IoDeadline(boost::asio::ip::tcp::socket& socket);
  ~IoDeadline();
  IoDeadline(const IoDeadline&) = delete;
  IoDeadline& operator=(const IoDeadline&) = delete;
  IoDeadline(IoDeadline&&) = delete;
  IoDeadline& operator=(IoDeadline&&) = delete;

  // The operations from now on must end within `limit`. Moving the deadline later is free; moving it
  // earlier than the armed timer re-arms it (one system call).
  void expire_after(Clock::duration limit);
  // Lifts the deadline and leaves the timer's wait pending, so that a deadline set again soon costs
  // nothing.
  void expire_never();
  // Lifts the deadline and ends the timer's wait: a connection going idle (into a pool) must not keep
  // its io_context busy, or run() would not return before the timer fires.
  void stop();
  // True once the deadline passed and closed the socket.
  [[nodiscard]] bool timed_out() const;

 private:
  struct State;
  static void arm(const std::shared_ptr<State>& state);

  // Shared with the timer's pending wait, which may complete after this object is gone.
  std::shared_ptr<State> state_;
};

}  // namespace snapbus::net
