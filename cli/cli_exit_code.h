// The exit codes of every `snapbus` subcommand but `emulate`, and how errors map onto them.
//
//   catch (const snapbus::Error& e) { return snapbus::cli::exit_code_for(e.code()); }
//
// Scripts (CRIU action scripts, custom runtimes) branch on these, so they never change meaning:
//   0 success; 1 a hook failed or an acknowledgement is missing (publish); 2 bad usage or a
//   malformed SNAPBUS_* variable; 3 no segment at the path; 4 another live publisher owns the
//   segment; 5 any other error (permissions, a corrupt segment, a failed system call).
#pragma once

#include "snapbus/error.h"

namespace snapbus::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNotAcknowledged = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNoSegment = 3;
inline constexpr int kExitBusy = 4;
inline constexpr int kExitError = 5;

int exit_code_for(Errc code) noexcept;

}  // namespace snapbus::cli
