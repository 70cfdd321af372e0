// The deadline on real loopback sockets: a read the peer never answers ends when the deadline passes,
// moving the deadline on keeps a busy connection alive, an earlier deadline replaces a later one, and
// a stopped one leaves no work behind, and one destroyed with its wait pending leaves nothing behind
// (the sanitizer builds check that).
#include "io_deadline.h"

#include <array>
#include <chrono>
#include <functional>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include "testing/connected_pair.h"

namespace snapbus::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using testing::ConnectedPair;

// Runs the io_context until `done` or the test's own limit, which fails the test instead of hanging.
void run_until(asio::io_context& io, const bool& done, std::chrono::milliseconds limit = 5000ms) {
  const auto give_up = Clock::now() + limit;
  while (!done && Clock::now() < give_up) io.run_one_for(10ms);
  ASSERT_TRUE(done) << "nothing completed within " << limit.count() << " ms";
}

// One read started on `socket`, and how it ended.
struct PendingRead {
  explicit PendingRead(tcp::socket& socket) {
    socket.async_read_some(asio::buffer(buffer), [this](boost::system::error_code error, std::size_t) {
      result = error;
      done = true;
    });
  }
  PendingRead(const PendingRead&) = delete;
  PendingRead& operator=(const PendingRead&) = delete;
  std::array<char, 16> buffer{};
  bool done = false;
  boost::system::error_code result;
};

TEST(IoDeadline, ReadThatNeverGetsAnAnswerEndsWhenTheDeadlinePasses) {
  asio::io_context io;
  ConnectedPair pair(io);
  IoDeadline deadline(pair.near);
  const auto start = Clock::now();
  deadline.expire_after(50ms);
  const PendingRead read(pair.near);
  run_until(io, read.done);
  EXPECT_EQ(read.result, asio::error::operation_aborted);
  EXPECT_TRUE(deadline.timed_out());
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_FALSE(pair.near.is_open());
}

TEST(IoDeadline, MovingTheDeadlineOnKeepsABusyConnectionAlive) {
  asio::io_context io;
  ConnectedPair pair(io);
  IoDeadline deadline(pair.near);
  std::array<char, 16> buffer{};
  // Ten reads, 30 ms apart, each under a 100 ms deadline: 300 ms in all, three times the deadline.
  int reads = 0;
  bool done = false;
  boost::system::error_code last_error;
  asio::steady_timer pace(io);
  std::function<void()> next_read = [&] {
    deadline.expire_after(100ms);
    pair.near.async_read_some(asio::buffer(buffer), [&](boost::system::error_code error, std::size_t) {
      last_error = error;
      if (error || ++reads == 10) {
        done = true;
        return;
      }
      next_read();
    });
    pace.expires_after(30ms);
    pace.async_wait([&](boost::system::error_code error) {
      if (!error) asio::write(pair.far, asio::buffer("x", 1));
    });
  };
  next_read();
  run_until(io, done);
  EXPECT_FALSE(last_error) << last_error.message();
  EXPECT_EQ(reads, 10);
  EXPECT_FALSE(deadline.timed_out());
  EXPECT_TRUE(pair.near.is_open());
}

TEST(IoDeadline, NeverMeansAReadMayWaitPastAnEarlierDeadline) {
  asio::io_context io;
  ConnectedPair pair(io);
  IoDeadline deadline(pair.near);
  deadline.expire_after(30ms);  // armed, then lifted before it passes
  deadline.expire_never();
  const PendingRead read(pair.near);
  asio::steady_timer later(io, 120ms);
  later.async_wait([&](boost::system::error_code) { asio::write(pair.far, asio::buffer("x", 1)); });
  run_until(io, read.done);
  EXPECT_FALSE(read.result) << read.result.message();
  EXPECT_FALSE(deadline.timed_out());
}

TEST(IoDeadline, AnEarlierDeadlineReplacesALaterOne) {
  asio::io_context io;
  ConnectedPair pair(io);
  IoDeadline deadline(pair.near);
  deadline.expire_after(60s);
  deadline.expire_after(50ms);
  const PendingRead read(pair.near);
  run_until(io, read.done, 3000ms);  // long before the first deadline
  EXPECT_TRUE(deadline.timed_out());
}

// A pooled connection is stopped: an io_context with nothing else to do returns from run() at once
// instead of when the timer would fire, and the deadline still works when set again.
TEST(IoDeadline, StoppedItLeavesNoWorkAndCanBeSetAgain) {
  asio::io_context io;
  ConnectedPair pair(io);
  IoDeadline deadline(pair.near);
  deadline.expire_after(60s);
  deadline.stop();
  const auto start = Clock::now();
  io.run_for(20s);
  EXPECT_LT(Clock::now() - start, 10s) << "run() waited for a stopped deadline";

  io.restart();
  deadline.expire_after(50ms);
  const PendingRead read(pair.near);
  run_until(io, read.done);
  EXPECT_TRUE(deadline.timed_out());
}

TEST(IoDeadline, DestroyedWithItsWaitPendingLeavesTheSocketAlone) {
  asio::io_context io;
  ConnectedPair pair(io);
  {
    IoDeadline deadline(pair.near);
    deadline.expire_after(20ms);
  }
  asio::steady_timer past(io, 80ms);
  bool done = false;
  past.async_wait([&](boost::system::error_code) { done = true; });
  run_until(io, done);
  EXPECT_TRUE(pair.near.is_open());
}

}  // namespace
}  // namespace snapbus::net
