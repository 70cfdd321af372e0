// The Runtime API state machine: which call the runtime may make in which state. Pure: no I/O.
//
//   snapbus::lambda::RuntimeStateMachine sm(/*snapstart=*/true);
//   if (auto error = sm.check(RuntimeCall::kRestoreNext)) { reply 403 InvalidStateTransition, *error }
//   else sm.apply(RuntimeCall::kRestoreNext);            // now kRestoreWaiting
//   sm.restore_released();                                // the emulator answered restore/next
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace snapbus::lambda {

enum class RuntimeState {
  kStarting,        // launched, Init in progress
  kRestoreWaiting,  // blocked in restore/next: the snapshot is taken now
  kRestoring,       // restore/next answered: after-restore hooks run
  kIdle,            // blocked in invocation/next
  kInvoking,        // holds an event, owes a response or an error
  kResponded,       // answered its event, free to ask for the next one
  kFailed,          // reported init/restore error or died: no more calls
};

enum class RuntimeCall { kNext, kResponse, kError, kInitError, kRestoreNext, kRestoreError };

std::string_view to_string(RuntimeState state);
std::string_view to_string(RuntimeCall call);

class RuntimeStateMachine {
 public:
  explicit RuntimeStateMachine(bool snapstart) : snapstart_(snapstart) {}

  [[nodiscard]] std::optional<std::string> check(RuntimeCall call) const;
  // The InvalidStateTransition message when `call` is not allowed now; nullopt when it is.

  void apply(RuntimeCall call);
  // Precondition: check(call) returned nullopt.

  void event_delivered();   // kIdle -> kInvoking
  void restore_released();  // kRestoreWaiting -> kRestoring
  // The runtime's invocation/next connection closed before an event was handed over on it: back to
  // the state it called from, so its retry is allowed (kIdle or kInvoking -> the state before kNext).
  void next_abandoned();
  void fail() { state_ = RuntimeState::kFailed; }

  [[nodiscard]] RuntimeState state() const { return state_; }
  [[nodiscard]] bool called_restore_next() const { return called_restore_next_; }

 private:
  [[nodiscard]] std::optional<RuntimeState> next_state(RuntimeCall call) const;

  bool snapstart_;
  bool called_restore_next_ = false;
  RuntimeState state_ = RuntimeState::kStarting;
  RuntimeState before_next_ = RuntimeState::kStarting;
};

}  // namespace snapbus::lambda
