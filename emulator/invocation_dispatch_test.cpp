#include "invocation_dispatch.h"

#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/json.hpp>

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;

// Runs `io` until `done` or a bound passes; every wait here is bounded.
void run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(5ms);
  }
}

TEST(InvocationDispatch, QueuedInvocationReachesTheRuntimeOnceItWaits) {
  asio::io_context io;
  InvocationDispatch dispatch(io, false);
  auto inv = dispatch.submit({.payload = "{}", .client_context = "ctx"});
  EXPECT_EQ(inv->request_id.size(), 36U);
  EXPECT_EQ(inv->trace_id.rfind("Root=1-", 0), 0U);
  EXPECT_FALSE(dispatch.start_next(1s, [] {}));  // the runtime has not called invocation/next

  auto poll = std::make_shared<NextPoll>();
  ASSERT_FALSE(dispatch.poll_next(poll));
  std::shared_ptr<Invocation> event;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { event = co_await dispatch.next_event(poll); }, asio::detached);
  io.run_for(5ms);
  EXPECT_FALSE(event);
  EXPECT_EQ(dispatch.start_next(1s, [] {}), inv);
  EXPECT_FALSE(dispatch.start_next(1s, [] {}));  // one at a time
  run_until(io, [&] { return event != nullptr; });
  EXPECT_EQ(event, inv);
  EXPECT_EQ(dispatch.runtime_state(), RuntimeState::invoking);
  EXPECT_GT(inv->deadline, std::chrono::system_clock::now());
}

// As the RIE lets them: a second invocation/next, made while one waits or while an invocation is in
// progress, waits its turn instead of being refused; events go to the oldest call first.
TEST(InvocationDispatch, SeveralNextCallsWaitInTurn) {
  asio::io_context io;
  InvocationDispatch dispatch(io, false);
  std::vector<std::shared_ptr<NextPoll>> polls;
  std::vector<std::shared_ptr<Invocation>> events(3);
  const auto call_next = [&](std::size_t i) {
    polls.push_back(std::make_shared<NextPoll>());
    ASSERT_FALSE(dispatch.poll_next(polls[i]));
    asio::co_spawn(
        io, [&, i]() -> asio::awaitable<void> { events[i] = co_await dispatch.next_event(polls[i]); }, asio::detached);
  };
  call_next(0);
  call_next(1);
  EXPECT_EQ(dispatch.runtime_state(), RuntimeState::idle);
  auto first = dispatch.submit({.payload = "1"});
  auto second = dispatch.submit({.payload = "2"});
  EXPECT_EQ(dispatch.start_next(1s, [] {}), first);
  run_until(io, [&] { return events[0] != nullptr; });
  EXPECT_EQ(events[0], first);
  EXPECT_FALSE(events[1]);
  call_next(2);  // while the first is in progress
  EXPECT_EQ(dispatch.runtime_state(), RuntimeState::invoking);
  EXPECT_FALSE(dispatch.start_next(1s, [] {}));  // still one at a time

  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<Invocation>>(
      dispatch.begin_answer(first->request_id, RuntimeCall::response)));
  first->complete = true;
  ASSERT_EQ(dispatch.take_completed(), first);
  EXPECT_EQ(dispatch.runtime_state(), RuntimeState::idle);  // two calls still wait
  EXPECT_EQ(dispatch.start_next(1s, [] {}), second);
  run_until(io, [&] { return events[1] != nullptr; });
  EXPECT_EQ(events[1], second);
  EXPECT_FALSE(events[2]);

  // The last waiting call gives up; once answered, the runtime is back where it called from.
  dispatch.next_abandoned(polls[2]);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<Invocation>>(
      dispatch.begin_answer(second->request_id, RuntimeCall::response)));
  EXPECT_EQ(dispatch.runtime_state(), RuntimeState::responded);
}

TEST(InvocationDispatch, KeepsTheCallersRequestAndTraceIds) {
  asio::io_context io;
  InvocationDispatch dispatch(io, false);
  const std::string trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  auto inv = dispatch.submit({.request_id = "r-1", .payload = "{}", .trace_id = trace});
  EXPECT_EQ(inv->request_id, "r-1");
  EXPECT_EQ(inv->trace_id, trace);
}

TEST(InvocationDispatch, AbandonedNextKeepsTheEventForTheRetry) {
  asio::io_context io;
  InvocationDispatch dispatch(io, false);
  auto waiting = std::make_shared<NextPoll>();
  ASSERT_FALSE(dispatch.poll_next(waiting));
  std::optional<std::shared_ptr<Invocation>> event;
  auto poll = [&](std::shared_ptr<NextPoll> call) -> asio::awaitable<void> {
    event = co_await dispatch.next_event(std::move(call));
  };
  asio::co_spawn(io, poll(waiting), asio::detached);
  io.run_for(5ms);
  dispatch.next_abandoned(waiting);  // the connection closed while waiting
  run_until(io, [&] { return event.has_value(); });
  ASSERT_TRUE(event.has_value());
  EXPECT_FALSE(*event);
  EXPECT_EQ(dispatch.runtime_state(), RuntimeState::starting);

  auto retry = std::make_shared<NextPoll>();
  ASSERT_FALSE(dispatch.poll_next(retry));  // the retry is allowed
  auto inv = dispatch.submit({.payload = "{}"});
  EXPECT_EQ(dispatch.start_next(1s, [] {}), inv);
  event.reset();
  asio::co_spawn(io, poll(retry), asio::detached);
  run_until(io, [&] { return event.has_value(); });
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(*event, inv);
  EXPECT_NE(inv->started, std::chrono::steady_clock::time_point{});
  dispatch.next_abandoned(retry);  // taken, but the connection was gone before it was written
  EXPECT_FALSE(dispatch.has_current());
  EXPECT_FALSE(inv->complete);
  // Queued again, it has not started (a fresh environment's failed Init is then the one it waited for).
  EXPECT_EQ(inv->started, std::chrono::steady_clock::time_point{});
  ASSERT_FALSE(dispatch.poll_next(std::make_shared<NextPoll>()));
  EXPECT_EQ(dispatch.start_next(1s, [] {}), inv);
}

TEST(InvocationDispatch, WithdrawnInvocationNeverRunsAndTheQueueIsBounded) {
  asio::io_context io;
  InvocationDispatch dispatch(io, false);
  auto gone = dispatch.submit({.payload = "gone"});
  auto kept = dispatch.submit({.payload = "kept"});
  dispatch.withdraw(gone, "Client.Disconnected", "left");
  EXPECT_TRUE(gone->complete);
  EXPECT_EQ(gone->error_type, "Client.Disconnected");
  ASSERT_FALSE(dispatch.poll_next(std::make_shared<NextPoll>()));
  EXPECT_EQ(dispatch.start_next(1s, [] {}), kept);
  dispatch.withdraw(kept, "Client.Disconnected", "left");  // already running: it runs on
  EXPECT_FALSE(kept->complete);

  for (std::size_t i = 0; i < kQueueLimit; ++i) {
    EXPECT_FALSE(dispatch.queue_full(true));
    dispatch.submit({.payload = "{}"});
  }
  EXPECT_TRUE(dispatch.queue_full(true));
  // Asynchronous invocations have a queue of their own size.
  for (std::size_t i = kQueueLimit; i < kAsyncQueueLimit; ++i) {
    EXPECT_FALSE(dispatch.queue_full(false));
    dispatch.submit({.payload = "{}", .caller_waits = false});
  }
  EXPECT_TRUE(dispatch.queue_full(false));
}

TEST(InvocationDispatch, HandOverKeepsTheQueueForAFreshEnvironment) {
  asio::io_context io;
  InvocationDispatch failed_init(io, false);
  auto caused = failed_init.submit({.payload = "1"});
  auto waiting = failed_init.submit({.payload = "2"});
  const auto unstarted =
      failed_init.hand_over({.type = "Runtime.ExitError", .message = "crashed"}, /*startup_failed=*/true);
  EXPECT_EQ(unstarted, std::vector<std::shared_ptr<Invocation>>{caused});
  EXPECT_TRUE(caused->complete);
  EXPECT_EQ(caused->error_type, "Runtime.ExitError");
  EXPECT_FALSE(waiting->complete);
  auto late = failed_init.submit({.payload = "3"});  // queues for the fresh environment
  EXPECT_FALSE(late->complete);

  InvocationDispatch fresh(io, false);
  auto own = fresh.submit({.payload = "4"});
  fresh.adopt(failed_init.take_queue());
  ASSERT_FALSE(fresh.poll_next(std::make_shared<NextPoll>()));
  EXPECT_EQ(fresh.start_next(1s, [] {}), waiting);  // the earlier ones first
}

TEST(InvocationDispatch, AnswersNeedTheRequestIdInProgress) {
  asio::io_context io;
  InvocationDispatch dispatch(io, false);
  auto inv = dispatch.submit({.payload = "{}"});
  // Queued, not in progress: the id is checked before the state, as by the RIE.
  auto early = dispatch.begin_answer(inv->request_id, RuntimeCall::response);
  ASSERT_TRUE(std::holds_alternative<ApiError>(early));
  EXPECT_EQ(std::get<ApiError>(early).type, "InvalidRequestID");
  ASSERT_FALSE(dispatch.poll_next(std::make_shared<NextPoll>()));
  dispatch.start_next(1s, [] {});
  auto wrong = dispatch.begin_answer("not-the-id", RuntimeCall::response);
  ASSERT_TRUE(std::holds_alternative<ApiError>(wrong));
  EXPECT_EQ(std::get<ApiError>(wrong).status, http::status::bad_request);
  EXPECT_EQ(std::get<ApiError>(wrong).type, "InvalidRequestID");
  auto right = dispatch.begin_answer(inv->request_id, RuntimeCall::response);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<Invocation>>(right));
  EXPECT_FALSE(dispatch.take_completed());  // not complete yet
  inv->complete = true;
  // The right id answered twice: the state refuses the second.
  auto twice = dispatch.begin_answer(inv->request_id, RuntimeCall::error);
  ASSERT_TRUE(std::holds_alternative<ApiError>(twice));
  EXPECT_EQ(std::get<ApiError>(twice).type, "InvalidStateTransition");
  EXPECT_EQ(dispatch.take_completed(), inv);
  EXPECT_FALSE(dispatch.has_current());
}

// One invocation handed to a waiting runtime with a 20 ms timeout.
struct TimedInvocation : ::testing::Test {
  TimedInvocation() {
    inv = dispatch.submit({.payload = "{}"});
    EXPECT_FALSE(dispatch.poll_next(std::make_shared<NextPoll>()));
    dispatch.start_next(20ms, [this] { timed_out = true; });
  }
  asio::io_context io;
  InvocationDispatch dispatch{io, false};
  std::shared_ptr<Invocation> inv;
  bool timed_out = false;
};

TEST_F(TimedInvocation, UnansweredInvocationTimesOut) {
  run_until(io, [&] { return timed_out; });
  ASSERT_TRUE(timed_out);
  auto failed = dispatch.end_current("Sandbox.Timedout", "too slow");
  ASSERT_EQ(failed, inv);
  EXPECT_TRUE(inv->complete);
  EXPECT_EQ(inv->error_type, "Sandbox.Timedout");
  EXPECT_EQ(std::string(boost::json::parse(inv->error_body).at("errorMessage").as_string()),
            "RequestId: " + inv->request_id + " Error: too slow");
  EXPECT_FALSE(dispatch.end_current("again", "nothing in progress"));
}

TEST_F(TimedInvocation, AnsweredButUnfinishedInvocationStillTimesOutKeepingItsAnswer) {
  // The runtime answered; an INVOKE extension has not come back: the timeout still fires.
  inv->complete = true;
  run_until(io, [&] { return timed_out; });
  ASSERT_TRUE(timed_out);
  EXPECT_TRUE(dispatch.current_answered());
  auto ended = dispatch.end_current("Sandbox.Timedout", "too slow");
  ASSERT_EQ(ended, inv);
  EXPECT_TRUE(inv->error_type.empty()) << "the caller's answer stands";
}

TEST_F(TimedInvocation, TakenInvocationDoesNotTimeOut) {
  inv->complete = true;
  ASSERT_EQ(dispatch.take_completed(), inv);
  io.run_for(60ms);
  EXPECT_FALSE(timed_out);
}

TEST(InvocationDispatch, CloseFailsWhatWaitsAndWhatComesLater) {
  asio::io_context io;
  InvocationDispatch dispatch(io, false);
  auto queued = dispatch.submit({.payload = "{}"});
  EXPECT_EQ(dispatch.close({.type = "Emulator.ShuttingDown", .message = "bye"}),
            std::vector<std::shared_ptr<Invocation>>{queued});
  EXPECT_TRUE(dispatch.closed());
  EXPECT_TRUE(queued->complete);
  EXPECT_EQ(queued->error_type, "Emulator.ShuttingDown");
  auto late = dispatch.submit({.payload = "{}"});
  EXPECT_TRUE(late->complete);
  EXPECT_EQ(std::string(boost::json::parse(late->error_body).at("errorMessage").as_string()),
            "RequestId: " + late->request_id + " Error: bye");
  ASSERT_FALSE(dispatch.poll_next(std::make_shared<NextPoll>()));
  EXPECT_FALSE(dispatch.start_next(1s, [] {}));  // the queue was emptied
}

TEST(InvocationDispatch, RestoreNextWaitsForTheRelease) {
  asio::io_context io;
  InvocationDispatch dispatch(io, true);
  ASSERT_FALSE(dispatch.apply(RuntimeCall::restore_next));
  bool released = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await dispatch.restore_released();
        released = true;
      },
      asio::detached);
  io.run_for(10ms);
  EXPECT_FALSE(released);
  dispatch.release_restore();
  run_until(io, [&] { return released; });
  EXPECT_TRUE(released);
  EXPECT_EQ(dispatch.runtime_state(), RuntimeState::restoring);
}

}  // namespace
}  // namespace snapbus::emulator
