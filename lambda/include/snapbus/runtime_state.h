// The Runtime API state machine: which call the runtime may make in which state. Pure: no I/O.
//
//   snapbus::lambda::RuntimeStateMachine sm(/*snapstart=*/true);
//   if (auto error = sm.check(RuntimeCall::restore_next)) { reply 403 InvalidStateTransition, *error }
//   else sm.apply(RuntimeCall::restore_next);            // now restore_waiting
//   sm.restore_released();                                // the emulator answered restore/next
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace snapbus::lambda {

enum class RuntimeState {
  starting,         // launched, Init in progress
  restore_waiting,  // blocked in restore/next: the snapshot is taken now
  restoring,        // restore/next answered: after-restore hooks run
  idle,             // blocked in invocation/next
  invoking,         // holds an event, owes a response or an error
  responded,        // answered its event, free to ask for the next one
  failed,           // reported init/restore error or died: no more calls
};

enum class RuntimeCall { next, response, error, init_error, restore_next, restore_error };

std::string_view to_string(RuntimeState state);
std::string_view to_string(RuntimeCall call);

class RuntimeStateMachine {
 public:
  explicit RuntimeStateMachine(bool snapstart) : snapstart_(snapstart) {}

  [[nodiscard]] std::optional<std::string> check(RuntimeCall call) const;
  // The InvalidStateTransition message when `call` is not allowed now; nullopt when it is.

  void apply(RuntimeCall call);
  // Precondition: check(call) returned nullopt.

  void event_delivered();   // idle -> invoking
  void restore_released();  // restore_waiting -> restoring
  // The runtime's invocation/next connection closed before an event was handed over on it: back to
  // the state it called from, so its retry is allowed (idle or invoking -> the state before next).
  void next_abandoned();
  void fail() { state_ = RuntimeState::failed; }

  [[nodiscard]] RuntimeState state() const { return state_; }
  [[nodiscard]] bool called_restore_next() const { return called_restore_next_; }

 private:
  [[nodiscard]] std::optional<RuntimeState> next_state(RuntimeCall call) const;

  bool snapstart_;
  bool called_restore_next_ = false;
  RuntimeState state_ = RuntimeState::starting;
  RuntimeState before_next_ = RuntimeState::starting;
};

}  // namespace snapbus::lambda
