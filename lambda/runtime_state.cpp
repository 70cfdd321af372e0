#include "snapbus/runtime_state.h"

#include <fmt/format.h>

namespace snapbus::lambda {

std::string_view to_string(RuntimeState state) {
  switch (state) {
    case RuntimeState::kStarting: return "Starting";
    case RuntimeState::kRestoreWaiting: return "RestoreWaiting";
    case RuntimeState::kRestoring: return "Restoring";
    case RuntimeState::kIdle: return "Idle";
    case RuntimeState::kInvoking: return "Invoking";
    case RuntimeState::kResponded: return "Responded";
    case RuntimeState::kFailed: return "Failed";
  }
  return "Unknown";
}

std::string_view to_string(RuntimeCall call) {
  switch (call) {
    case RuntimeCall::kNext: return "invocation/next";
    case RuntimeCall::kResponse: return "invocation/response";
    case RuntimeCall::kError: return "invocation/error";
    case RuntimeCall::kInitError: return "init/error";
    case RuntimeCall::kRestoreNext: return "restore/next";
    case RuntimeCall::kRestoreError: return "restore/error";
  }
  return "unknown";
}

std::optional<RuntimeState> RuntimeStateMachine::next_state(RuntimeCall call) const {
  switch (state_) {
    case RuntimeState::kStarting:
      if (call == RuntimeCall::kNext) return RuntimeState::kIdle;
      if (call == RuntimeCall::kInitError) return RuntimeState::kFailed;
      if (call == RuntimeCall::kRestoreNext && snapstart_) return RuntimeState::kRestoreWaiting;
      return std::nullopt;
    case RuntimeState::kRestoring:
      if (call == RuntimeCall::kNext) return RuntimeState::kIdle;
      if (call == RuntimeCall::kRestoreError) return RuntimeState::kFailed;
      return std::nullopt;
    case RuntimeState::kInvoking:
      if (call == RuntimeCall::kResponse || call == RuntimeCall::kError) return RuntimeState::kResponded;
      return std::nullopt;
    case RuntimeState::kResponded:
      if (call == RuntimeCall::kNext) return RuntimeState::kIdle;
      return std::nullopt;
    case RuntimeState::kRestoreWaiting:
    case RuntimeState::kIdle:
    case RuntimeState::kFailed:
      // The runtime is (or should be) blocked or gone: any call now is a protocol error.
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> RuntimeStateMachine::check(RuntimeCall call) const {
  if (next_state(call)) return std::nullopt;
  if (call == RuntimeCall::kRestoreNext && !snapstart_) {
    return "restore/next is only valid with SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start)";
  }
  return fmt::format("State transition from {} on {} is not allowed", to_string(state_), to_string(call));
}

void RuntimeStateMachine::apply(RuntimeCall call) {
  if (auto next = next_state(call)) {
    if (call == RuntimeCall::kRestoreNext) called_restore_next_ = true;
    if (call == RuntimeCall::kNext) before_next_ = state_;
    state_ = *next;
  }
}

void RuntimeStateMachine::event_delivered() {
  if (state_ == RuntimeState::kIdle) state_ = RuntimeState::kInvoking;
}

void RuntimeStateMachine::next_abandoned() {
  if (state_ == RuntimeState::kIdle || state_ == RuntimeState::kInvoking) state_ = before_next_;
}

void RuntimeStateMachine::restore_released() {
  if (state_ == RuntimeState::kRestoreWaiting) state_ = RuntimeState::kRestoring;
}

}  // namespace snapbus::lambda
