// The exit codes of `snapbus status`, `watch` and `publish`, and how errors map onto them
// (`emulate` has its own: emulate_command.h).
//
//   catch (const snapbus::Error& e) { return snapbus::cli::exit_code_for(e.code()); }
//
// Scripts (CRIU action scripts, custom runtimes) branch on these, so they never change meaning.
// Each command's --help lists the ones it can return.
#pragma once

#include "snapbus/error.h"

namespace snapbus::cli {

enum class ExitCode : int {
  ok = 0,
  not_acknowledged = 1,  // publish: a hook failed, an acknowledgement is missing, or too few joined
  usage = 2,             // bad usage, or a malformed SNAPBUS_* variable
  no_segment = 3,        // no segment at the path (status; watch at its timeout)
  busy = 4,              // publish: another live publisher owns the segment
  error = 5,             // anything else: permissions, a corrupt segment, a failed system call
  // publish: SIGINT or SIGTERM ended the wait early (after its report); 128 + SIGINT, as a shell
  // shows a command that Ctrl-C ended.
  interrupted = 130,
};

ExitCode exit_code_for(Errc code) noexcept;

}  // namespace snapbus::cli
