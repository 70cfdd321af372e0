#include "snapbus/runtime_state.h"

#include <fmt/format.h>

namespace snapbus::lambda {

std::string_view to_string(RuntimeState state) {
  switch (state) {
    case RuntimeState::starting: return "Starting";
    case RuntimeState::restore_waiting: return "RestoreWaiting";
    case RuntimeState::restoring: return "Restoring";
    case RuntimeState::idle: return "Idle";
    case RuntimeState::invoking: return "Invoking";
    case RuntimeState::responded: return "Responded";
    case RuntimeState::failed: return "Failed";
  }
  return "Unknown";
}

std::string_view to_string(RuntimeCall call) {
  switch (call) {
    case RuntimeCall::next: return "invocation/next";
    case RuntimeCall::response: return "invocation/response";
    case RuntimeCall::error: return "invocation/error";
    case RuntimeCall::init_error: return "init/error";
    case RuntimeCall::restore_next: return "restore/next";
    case RuntimeCall::restore_error: return "restore/error";
  }
  return "unknown";
}

std::optional<RuntimeState> RuntimeStateMachine::next_state(RuntimeCall call) const {
  switch (state_) {
    case RuntimeState::starting:
      if (call == RuntimeCall::next) return RuntimeState::idle;
      if (call == RuntimeCall::init_error) return RuntimeState::failed;
      if (call == RuntimeCall::restore_next && snapstart_) return RuntimeState::restore_waiting;
      return std::nullopt;
    case RuntimeState::restoring:
      if (call == RuntimeCall::next) return RuntimeState::idle;
      if (call == RuntimeCall::restore_error) return RuntimeState::failed;
      return std::nullopt;
    case RuntimeState::idle:
      if (call == RuntimeCall::next) return RuntimeState::idle;  // one more call waits
      return std::nullopt;
    case RuntimeState::invoking:
      if (call == RuntimeCall::next) return RuntimeState::invoking;  // waits for a later event
      if (call == RuntimeCall::response || call == RuntimeCall::error) {
        return polls_waiting_ > 0 ? RuntimeState::idle : RuntimeState::responded;
      }
      return std::nullopt;
    case RuntimeState::responded:
      if (call == RuntimeCall::next) return RuntimeState::idle;
      return std::nullopt;
    case RuntimeState::restore_waiting:
    case RuntimeState::failed:
      // The runtime is (or should be) blocked or gone: any call now is a protocol error.
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> RuntimeStateMachine::check(RuntimeCall call) const {
  if (next_state(call)) return std::nullopt;
  return fmt::format("State transition from {} on {} is not allowed", to_string(state_), to_string(call));
}

void RuntimeStateMachine::apply(RuntimeCall call) {
  const auto next = next_state(call);
  if (!next) return;
  if (call == RuntimeCall::restore_next) called_restore_next_ = true;
  if (call == RuntimeCall::next) ++polls_waiting_;
  // An answer that leaves calls waiting enters idle as from responded.
  if (*next == RuntimeState::idle && state_ != RuntimeState::idle) {
    before_next_ = state_ == RuntimeState::invoking ? RuntimeState::responded : state_;
  }
  state_ = *next;
}

void RuntimeStateMachine::event_delivered() {
  if (state_ != RuntimeState::idle) return;
  state_ = RuntimeState::invoking;
  --polls_waiting_;
}

void RuntimeStateMachine::poll_abandoned() {
  if (polls_waiting_ == 0) return;
  --polls_waiting_;
  if (polls_waiting_ == 0 && state_ == RuntimeState::idle) state_ = before_next_;
}

void RuntimeStateMachine::delivery_abandoned() {
  if (state_ != RuntimeState::invoking) return;
  state_ = polls_waiting_ > 0 ? RuntimeState::idle : before_next_;
}

void RuntimeStateMachine::restore_released() {
  if (state_ == RuntimeState::restore_waiting) state_ = RuntimeState::restoring;
}

}  // namespace snapbus::lambda
