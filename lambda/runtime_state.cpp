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
    case RuntimeState::invoking:
      if (call == RuntimeCall::response || call == RuntimeCall::error) return RuntimeState::responded;
      return std::nullopt;
    case RuntimeState::responded:
      if (call == RuntimeCall::next) return RuntimeState::idle;
      return std::nullopt;
    case RuntimeState::restore_waiting:
    case RuntimeState::idle:
    case RuntimeState::failed:
      // The runtime is (or should be) blocked or gone: any call now is a protocol error.
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> RuntimeStateMachine::check(RuntimeCall call) const {
  if (next_state(call)) return std::nullopt;
  if (call == RuntimeCall::restore_next && !snapstart_) {
    return "restore/next is only valid with SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start)";
  }
  return fmt::format("State transition from {} on {} is not allowed", to_string(state_), to_string(call));
}

void RuntimeStateMachine::apply(RuntimeCall call) {
  if (auto next = next_state(call)) {
    if (call == RuntimeCall::restore_next) called_restore_next_ = true;
    if (call == RuntimeCall::next) before_next_ = state_;
    state_ = *next;
  }
}

void RuntimeStateMachine::event_delivered() {
  if (state_ == RuntimeState::idle) state_ = RuntimeState::invoking;
}

void RuntimeStateMachine::next_abandoned() {
  if (state_ == RuntimeState::idle || state_ == RuntimeState::invoking) state_ = before_next_;
}

void RuntimeStateMachine::restore_released() {
  if (state_ == RuntimeState::restore_waiting) state_ = RuntimeState::restoring;
}

}  // namespace snapbus::lambda
