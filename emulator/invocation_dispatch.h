// The invocations of one environment and the runtime that serves them: the queue the front door
// fills, the one invocation in progress, and the runtime's side of the Runtime API (its state
// machine, the event invocation/next waits for, the answer it posts). No processes, no logging:
// the Environment decides when an invocation may start and what its end means.
//
//   InvocationDispatch dispatch(io, /*snapstart=*/false);
//   auto inv = dispatch.submit({.payload = "{}"});                 // front door
//   auto poll = std::make_shared<NextPoll>();
//   dispatch.poll_next(poll);                                      // runtime: invocation/next
//   dispatch.start_next(3s, on_timeout);                           // when the environment is ready
//   std::shared_ptr<Invocation> event = co_await dispatch.next_event(poll);
//   auto answer = dispatch.begin_answer(event->request_id, RuntimeCall::response);
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api_error.h"
#include "snapbus/runtime_state.h"
#include "wake_signal.h"

namespace snapbus::emulator {

namespace asio = boost::asio;
using lambda::RuntimeCall;
using lambda::RuntimeState;

// What the caller of an invocation gives: the event and the context headers of the Invoke API.
struct InvocationRequest {
  std::string request_id;  // empty: a new one is made
  std::string payload;
  std::string client_context;  // decoded JSON, as the runtime receives it
  std::string cognito_identity;
  std::string trace_id;   // the caller's X-Amzn-Trace-Id; empty: a new one is made
  std::string tenant_id;  // the caller's X-Amz-Tenant-Id; empty: none
  // The qualifier the caller invoked (InvokedFunction::qualifier): empty for an unqualified call.
  std::string qualifier;
  // False for an asynchronous (Event) invocation: nobody reads its answer, so a streamed one is not kept.
  bool caller_waits = true;
};

// The error type and Lambda's own words for an answer past the buffered limit (kBufferedResponseLimit).
inline constexpr std::string_view kResponseTooLargeType = "Function.ResponseSizeTooLarge";
std::string response_too_large_message();

// The error of invocations that end because the emulator stops.
inline constexpr std::string_view kShuttingDownType = "Emulator.ShuttingDown";

// A failure the Invoke API answers as the Lambda service's own error (an HTTP status, the type in
// x-amzn-ErrorType), not as the function's (200 with X-Amz-Function-Error): a failed SnapStart
// restore, which Lambda reports as SnapStartException (400) or SnapStartTimeoutException (408).
struct ServiceError {
  unsigned status = 0;
  std::string type;
  std::string message;
};

// Why invocations end without an answer from the function.
struct Failure {
  std::string type;
  std::string message;
  // The runtime's own init/error or restore/error body. The caller then receives it as it was
  // posted, stackTrace and all, as Lambda and the RIE answer; empty: {errorMessage, errorType}.
  std::string runtime_body;
  // Set when the Invoke API answers with this instead of the function error above.
  std::optional<ServiceError> service_error;
  std::string status = "error";  // error | timeout, as the JSON report records the failed invocations
};

// One invocation from the front door to the runtime and back. The runtime's answer is written
// into it (by the Runtime API) while the front door waits on wait_change().
struct Invocation {
  explicit Invocation(const asio::any_io_executor& ex) : changed(ex) {}

  std::string request_id;
  std::string payload;
  std::string trace_id;
  std::string client_context;
  std::string cognito_identity;
  std::string tenant_id;
  std::string qualifier;
  // Cleared when the caller's connection ends before the answer does: the rest is not kept.
  bool caller_waits = true;
  std::chrono::system_clock::time_point deadline;
  std::chrono::steady_clock::time_point started;  // handed to the runtime

  enum class Mode { pending, buffered, streaming };
  Mode mode = Mode::pending;
  std::string content_type;
  std::string data;  // the buffered body, or streamed bytes the front door has not taken yet
  bool complete = false;
  std::string error_type;                     // set for function and platform errors
  std::string error_body;                     // the JSON error
  std::optional<ServiceError> service_error;  // the Invoke API's answer instead, when set

  // Its log is complete: END and REPORT written (log_tail is its last 4 KB), or it never ran or never
  // will end in order (the environment ended under it). A caller that asked for the log waits for it.
  bool log_closed = false;
  std::string log_tail;

  WakeSignal changed;
  void notify() { changed.notify(); }
  void close_log(std::string tail);
  asio::awaitable<void> wait_change() { return changed.wait(); }
  // Completes the invocation with a platform error and wakes its waiter.
  void fail(const Failure& failure);
};

// One invocation/next call, waiting for its event. Calls wait in turn, oldest first.
struct NextPoll {
  std::shared_ptr<Invocation> event;  // handed over by start_next()
  bool abandoned = false;             // its connection closed first
};

// How much of a streamed answer the emulator holds for a caller that has not taken it yet; past it,
// it reads no more of the runtime's upload until the caller has.
inline constexpr std::size_t kStreamBacklogLimit = std::size_t{1} << 20;

// How many invocations may wait for the runtime; the next one is throttled, as Lambda throttles a
// function past its concurrency (and a local run does not grow without bound under a burst).
inline constexpr std::size_t kQueueLimit = 100;
// Asynchronous (Event) invocations wait in Lambda's own queue and are not throttled by the function's
// concurrency: they may fill the queue this far (at most 1 MiB each) before one is refused too.
inline constexpr std::size_t kAsyncQueueLimit = 1000;

class InvocationDispatch {
 public:
  InvocationDispatch(asio::io_context& io, bool snapstart);

  // A new invocation at the end of the queue; already failed when the dispatch is closed.
  std::shared_ptr<Invocation> submit(InvocationRequest request);

  // For a caller that waits (kQueueLimit), or an asynchronous one (kAsyncQueueLimit).
  [[nodiscard]] bool queue_full(bool caller_waits) const {
    return queue_.size() >= (caller_waits ? kQueueLimit : kAsyncQueueLimit);
  }
  // The caller of a queued invocation went away: it leaves the queue, completed with this error,
  // and never runs (true). An invocation already handed to the runtime runs on (false).
  bool withdraw(const std::shared_ptr<Invocation>& inv, const std::string& type, const std::string& message);

  // The runtime makes `call` (not invocation/next: poll_next): 403 InvalidStateTransition when its
  // state does not allow it.
  std::optional<ApiError> apply(RuntimeCall call);
  // The runtime calls invocation/next: `poll` waits behind any earlier one, or 403.
  std::optional<ApiError> poll_next(const std::shared_ptr<NextPoll>& poll);
  // After poll_next(): the event handed to `poll`; null once next_abandoned() is called for it.
  // During shutdown none comes: the runtime is told by SIGTERM, not by this call.
  asio::awaitable<std::shared_ptr<Invocation>> next_event(std::shared_ptr<NextPoll> poll);
  // The connection of `poll` closed before its event reached the runtime: the event, if it had
  // one, goes back to the front of the queue, the runtime's state rolls back so a retry is
  // allowed, and a pending next_event(poll) returns null.
  void next_abandoned(const std::shared_ptr<NextPoll>& poll);
  // After apply(RuntimeCall::restore_next): returns once release_restore() is called, never after close().
  asio::awaitable<void> restore_released();
  void release_restore();
  // invocation/<id>/response or /error: the invocation in progress, or 400 InvalidRequestID.
  std::variant<ApiError, std::shared_ptr<Invocation>> begin_answer(const std::string& request_id, RuntimeCall call);
  // The runtime died: no call of it is valid any more.
  void runtime_failed() { runtime_.fail(); }
  [[nodiscard]] RuntimeState runtime_state() const { return runtime_.state(); }

  // Hands the first queued invocation to the oldest waiting invocation/next when none is in
  // progress; calls on_timeout if it is still in progress after `timeout`, answered or
  // not (Lambda's function timeout also bounds the INVOKE extensions). Null when none could start.
  std::shared_ptr<Invocation> start_next(std::chrono::milliseconds timeout, std::function<void()> on_timeout);
  // The invocation in progress once the runtime completed it, which then stops being in progress.
  std::shared_ptr<Invocation> take_completed();
  // The invocation in progress, which stops being in progress: completed now with a platform error
  // unless the runtime had answered it (its caller has that answer already). Null when none is.
  std::shared_ptr<Invocation> end_current(const std::string& type, const std::string& message);
  [[nodiscard]] bool has_current() const { return current_ != nullptr; }
  [[nodiscard]] bool current_answered() const { return current_ != nullptr && current_->complete; }

  // Fails every waiting invocation with this error, and every later submission: the environment ends.
  // Returns the invocations it ended that have no REPORT line: the one in progress, and the queued ones.
  std::vector<std::shared_ptr<Invocation>> close(Failure failure);
  // The environment ends, and a fresh one takes over its queue (take_queue): only the invocation in
  // progress fails, or after a failed Init or restore the first queued one, which caused it. Returns
  // those, if they have no REPORT line. Later submissions queue for the fresh environment.
  std::vector<std::shared_ptr<Invocation>> hand_over(Failure failure, bool startup_failed);
  std::deque<std::shared_ptr<Invocation>> take_queue() { return std::exchange(queue_, {}); }
  // Puts invocations taken from an environment that ended ahead of this one's own.
  void adopt(std::deque<std::shared_ptr<Invocation>> earlier);
  // Returns once an invocation waits (or the dispatch is closed): a fresh environment starts on demand.
  asio::awaitable<void> wait_queued();
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  // Ends the invocation in progress (failed, if the runtime has not answered it); into `ended` if no
  // REPORT was written for it.
  void end_current_unreported(std::vector<std::shared_ptr<Invocation>>& ended);

  asio::io_context& io_;
  lambda::RuntimeStateMachine runtime_;
  std::deque<std::shared_ptr<Invocation>> queue_;
  std::shared_ptr<Invocation> current_;          // handed to the runtime, not yet taken back
  std::deque<std::shared_ptr<NextPoll>> polls_;  // waiting for an event, oldest first
  WakeSignal runtime_wake_;
  asio::steady_timer invoke_timer_;
  bool closed_ = false;
  bool handing_over_ = false;
  Failure failure_;
};

}  // namespace snapbus::emulator
