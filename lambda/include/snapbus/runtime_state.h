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
  idle,             // blocked in invocation/next, with no invocation in progress
  invoking,         // holds an event, owes a response or an error
  responded,        // answered its event, free to ask for the next one
  failed,           // reported init/restore error or died: no more calls
};

enum class RuntimeCall { next, response, error, init_error, restore_next, restore_error };

std::string_view to_string(RuntimeState state);
std::string_view to_string(RuntimeCall call);

// invocation/next may be called again while an earlier call waits, or while an invocation is in
// progress (a runtime that polls from several threads, as on Lambda Managed Instances, or a proxy
// that forwards each of its clients' polls): the calls wait in turn, as the RIE's state machine
// lets them, and the state machine counts them.
class RuntimeStateMachine {
 public:
  explicit RuntimeStateMachine(bool snapstart) : snapstart_(snapstart) {}

  [[nodiscard]] std::optional<std::string> check(RuntimeCall call) const;
  // The InvalidStateTransition message when `call` is not allowed now; nullopt when it is.

  void apply(RuntimeCall call);
  // Precondition: check(call) returned nullopt.

  void event_delivered();   // idle -> invoking: one waiting invocation/next got the event
  void restore_released();  // restore_waiting -> restoring
  // A waiting invocation/next's connection closed before it got an event. When it was the last
  // one waiting, back to the state it was called from, so its retry is allowed.
  void poll_abandoned();
  // The event could not be handed over (its invocation/next connection was gone): the invocation
  // is no longer in progress; idle while other calls wait, else the state before that next.
  void delivery_abandoned();
  void fail() { state_ = RuntimeState::failed; }

  [[nodiscard]] RuntimeState state() const { return state_; }
  [[nodiscard]] bool called_restore_next() const { return called_restore_next_; }
  [[nodiscard]] int polls_waiting() const { return polls_waiting_; }

 private:
  [[nodiscard]] std::optional<RuntimeState> next_state(RuntimeCall call) const;

  bool snapstart_;
  bool called_restore_next_ = false;
  RuntimeState state_ = RuntimeState::starting;
  // Where idle was entered from: where a poll given up on returns to.
  RuntimeState before_next_ = RuntimeState::starting;
  int polls_waiting_ = 0;
};

}  // namespace snapbus::lambda
