#include "invocation_dispatch.h"

#include <algorithm>
#include <random>

#include <fmt/format.h>
#include <boost/beast/http/status.hpp>

#include "snapbus/error_body.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/request_id.h"

namespace snapbus::emulator {
namespace {

using Clock = std::chrono::steady_clock;
namespace http = boost::beast::http;

std::string new_trace_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return fmt::format("Root=1-{:08x}-{:08x}{:016x};Parent={:016x};Sampled=0", seconds, random() & 0xFFFFFFFF, random(),
                     random());
}

}  // namespace

std::string response_too_large_message() {
  return fmt::format("Response payload size exceeded maximum allowed payload size ({} bytes).",
                     lambda::kBufferedResponseLimit);
}

void Invocation::fail(const Failure& failure) {
  error_type = failure.type;
  // The platform's own failures (a timeout, a crash) name the invocation, as RAPID's default error
  // response does (interop.GetErrorResponseWithFormattedErrorMessage, in the RIE's source).
  error_body =
      failure.runtime_body.empty()
          ? lambda::json_error(failure.type, fmt::format("RequestId: {} Error: {}", request_id, failure.message))
          : failure.runtime_body;
  service_error = failure.service_error;
  complete = true;
  // No log to wait for. The Environment, ending the invocation in progress with a platform error,
  // writes END and REPORT next and close_log()s with them before any waiter runs.
  log_closed = true;
  notify();
}

void Invocation::close_log(std::string tail) {
  log_tail = std::move(tail);
  log_closed = true;
  notify();
}

InvocationDispatch::InvocationDispatch(asio::io_context& io, bool snapstart)
    : io_(io), runtime_(snapstart), runtime_wake_(io.get_executor()), invoke_timer_(io) {}

std::shared_ptr<Invocation> InvocationDispatch::submit(InvocationRequest request) {
  auto inv = std::make_shared<Invocation>(io_.get_executor());
  inv->request_id = std::move(request.request_id);
  if (inv->request_id.empty()) inv->request_id = lambda::new_request_id();
  inv->trace_id = std::move(request.trace_id);
  if (inv->trace_id.empty()) inv->trace_id = new_trace_id();
  inv->payload = std::move(request.payload);
  inv->client_context = std::move(request.client_context);
  inv->cognito_identity = std::move(request.cognito_identity);
  inv->tenant_id = std::move(request.tenant_id);
  inv->qualifier = std::move(request.qualifier);
  inv->caller_waits = request.caller_waits;
  if (closed_ && !handing_over_) {
    inv->fail(failure_);
    return inv;
  }
  queue_.push_back(inv);
  runtime_wake_.notify();
  return inv;
}

bool InvocationDispatch::withdraw(const std::shared_ptr<Invocation>& inv, const std::string& type,
                                  const std::string& message) {
  const auto queued = std::find(queue_.begin(), queue_.end(), inv);
  if (queued == queue_.end()) return false;
  queue_.erase(queued);
  inv->fail({.type = type, .message = message});
  return true;
}

std::optional<ApiError> InvocationDispatch::apply(RuntimeCall call) {
  if (auto error = runtime_.check(call)) return ApiError{http::status::forbidden, "InvalidStateTransition", *error};
  runtime_.apply(call);
  return std::nullopt;
}

std::optional<ApiError> InvocationDispatch::poll_next(const std::shared_ptr<NextPoll>& poll) {
  if (auto error = apply(RuntimeCall::next)) return error;
  polls_.push_back(poll);
  return std::nullopt;
}

asio::awaitable<std::shared_ptr<Invocation>> InvocationDispatch::next_event(std::shared_ptr<NextPoll> poll) {
  while (!poll->event && !poll->abandoned) co_await runtime_wake_.wait();
  if (poll->abandoned) co_return nullptr;
  co_return poll->event;
}

void InvocationDispatch::next_abandoned(const std::shared_ptr<NextPoll>& poll) {
  if (poll->abandoned) return;
  poll->abandoned = true;
  runtime_wake_.notify();
  if (const auto waiting = std::find(polls_.begin(), polls_.end(), poll); waiting != polls_.end()) {
    polls_.erase(waiting);
    runtime_.poll_abandoned();
    return;
  }
  // Handed its event, which never reached the runtime: the event waits for the next call.
  const auto& event = poll->event;
  if (event && event == current_ && !event->complete) {
    invoke_timer_.cancel();
    current_ = nullptr;
    // Queued again, it has not started: a failed Init that follows is the one it waits for.
    event->started = {};
    queue_.push_front(event);
    runtime_.delivery_abandoned();
  }
}

asio::awaitable<void> InvocationDispatch::restore_released() {
  while (runtime_.state() == RuntimeState::restore_waiting || closed_) co_await runtime_wake_.wait();
}

void InvocationDispatch::release_restore() {
  if (runtime_.state() != RuntimeState::restore_waiting) return;
  runtime_.restore_released();
  runtime_wake_.notify();
}

std::variant<ApiError, std::shared_ptr<Invocation>> InvocationDispatch::begin_answer(const std::string& request_id,
                                                                                     RuntimeCall call) {
  // The id first, then the state, as the RIE's router does: an answer with no invocation in progress
  // (from a runtime that came up after a timeout replaced its environment, say) is a wrong id.
  if (!current_ || current_->request_id != request_id) {
    return ApiError{http::status::bad_request, "InvalidRequestID",
                    fmt::format("{} is not the request id of the invocation in progress", request_id)};
  }
  if (auto error = runtime_.check(call)) return ApiError{http::status::forbidden, "InvalidStateTransition", *error};
  runtime_.apply(call);
  return current_;
}

std::shared_ptr<Invocation> InvocationDispatch::start_next(std::chrono::milliseconds timeout,
                                                           std::function<void()> on_timeout) {
  if (closed_ || current_ || queue_.empty() || polls_.empty() || runtime_.state() != RuntimeState::idle) {
    return nullptr;
  }
  auto inv = queue_.front();
  queue_.pop_front();
  current_ = inv;
  inv->deadline =
      std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout);
  inv->started = Clock::now();
  runtime_.event_delivered();
  polls_.front()->event = inv;
  polls_.pop_front();
  runtime_wake_.notify();
  invoke_timer_.expires_after(timeout);
  invoke_timer_.async_wait([this, inv, on_timeout = std::move(on_timeout)](boost::system::error_code ec) {
    if (ec || current_ != inv) return;
    on_timeout();
  });
  return inv;
}

std::shared_ptr<Invocation> InvocationDispatch::take_completed() {
  if (!current_ || !current_->complete) return nullptr;
  invoke_timer_.cancel();
  return std::exchange(current_, nullptr);
}

std::shared_ptr<Invocation> InvocationDispatch::end_current(const std::string& type, const std::string& message) {
  if (!current_) return nullptr;
  invoke_timer_.cancel();
  auto inv = std::exchange(current_, nullptr);
  if (!inv->complete) inv->fail({.type = type, .message = message});
  return inv;
}

std::vector<std::shared_ptr<Invocation>> InvocationDispatch::hand_over(Failure failure, bool startup_failed) {
  closed_ = true;
  handing_over_ = true;
  failure_ = std::move(failure);
  std::vector<std::shared_ptr<Invocation>> ended;
  end_current_unreported(ended);
  if (startup_failed && !queue_.empty()) {
    queue_.front()->fail(failure_);
    ended.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  runtime_wake_.notify();
  return ended;
}

void InvocationDispatch::end_current_unreported(std::vector<std::shared_ptr<Invocation>>& ended) {
  if (!current_) return;
  // No REPORT was written for it, answered or not (its INVOKE extensions were not back yet).
  if (!current_->log_closed) ended.push_back(current_);
  if (!current_->complete) current_->fail(failure_);
  // The environment ends before the invocation in progress does: its log stays as it is.
  if (!current_->log_closed) current_->close_log({});
}

void InvocationDispatch::adopt(std::deque<std::shared_ptr<Invocation>> earlier) {
  queue_.insert(queue_.begin(), earlier.begin(), earlier.end());
  runtime_wake_.notify();
}

asio::awaitable<void> InvocationDispatch::wait_queued() {
  while (queue_.empty() && !closed_) co_await runtime_wake_.wait();
}

std::vector<std::shared_ptr<Invocation>> InvocationDispatch::close(Failure failure) {
  closed_ = true;
  handing_over_ = false;
  failure_ = std::move(failure);
  std::vector<std::shared_ptr<Invocation>> ended;
  end_current_unreported(ended);
  for (auto& inv : queue_) {
    if (inv->complete) continue;
    inv->fail(failure_);
    ended.push_back(inv);
  }
  queue_.clear();
  runtime_wake_.notify();
  return ended;
}

}  // namespace snapbus::emulator
