// The one error policy of snapbus.
//
//   try {
//     auto sub = snapbus::Subscriber::open(path, {.name = "worker"});
//   } catch (const snapbus::Error& e) {
//     if (e.code() == snapbus::Errc::not_found) { /* no publisher yet */ }
//     std::cerr << e.what() << '\n';  // "open segment /tmp/snapbus.seg: No such file or directory"
//   }
//
// Three kinds of failure, kept apart:
//   - a failed system call: Errc from its errno, the errno itself, and what was being done
//     (throw_system_error). The caller may retry or report it.
//   - bad input or a violated precondition from the caller: a specific Errc and a sentence
//     (throw Error(...) directly, or SNAPBUS_REQUIRE). Never an abort: input comes from other
//     processes and files we do not control.
//   - a bug in snapbus itself: SNAPBUS_ASSERT prints where and aborts. Not catchable, on purpose.
// C++ throws Error. The C ABI (snapbus.h) catches everything at its boundary and returns the Errc
// value as an int, with the message kept per thread. Python maps each Errc to one SnapbusError
// subclass.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace snapbus {

enum class Errc : int {
  ok = 0,
  not_found = 1,          // no segment at the path (ENOENT)
  permission_denied = 2,  // EACCES/EPERM, another owner, or a mode open to others
  invalid_segment = 3,    // not a snapbus segment, truncated, or inconsistent geometry
  version_mismatch = 4,   // a snapbus segment of another layout version
  busy = 5,               // another live publisher owns the segment
  no_free_slot = 6,       // every subscriber slot is held by a live process
  timed_out = 7,          // a deadline passed
  invalid_argument = 8,   // the caller broke a precondition
  system = 9,             // any other failed system call; errno() says which
  interrupted = 10,       // a wait was cut short by a signal before its deadline
  closed = 11,            // the object was stopped or closed
};

// A short stable name for the code ("not_found"), for logs and the C ABI.
std::string_view errc_name(Errc code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message, int sys_errno = 0);

  Errc code() const noexcept { return code_; }
  // The errno of the failed system call, 0 when the error is not from one.
  int sys_errno() const noexcept { return errno_; }

 private:
  Errc code_;
  int errno_;
};

// Maps errno to the closest Errc. ENOENT and the permission errors get their own codes so callers
// (and Python's builtin exception classes) can tell them apart; everything else is Errc::system.
Errc errc_from_errno(int sys_errno) noexcept;

// Throws Error for a failed system call: "<context>: <strerror(errno)>".
[[noreturn]] void throw_system_error(int sys_errno, std::string_view context);

// Prints "snapbus bug: <expr> at <file>:<line>" and aborts.
[[noreturn]] void report_bug(const char* expression, const char* file, int line) noexcept;

}  // namespace snapbus

// A broken internal invariant. Never used for input from files, other processes or callers.
#define SNAPBUS_ASSERT(cond) ((cond) ? static_cast<void>(0) : ::snapbus::report_bug(#cond, __FILE__, __LINE__))

// A caller's precondition: throws Error(Errc::invalid_argument, message).
#define SNAPBUS_REQUIRE(cond, message)                                                 \
  do {                                                                                 \
    if (!(cond)) throw ::snapbus::Error(::snapbus::Errc::invalid_argument, (message)); \
  } while (false)
