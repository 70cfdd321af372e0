// `snapbus emulate [options] [--] [runtime command...]`: the command line of the local Lambda,
// turned into the emulator's Config (emulator/include/snapbus/emulate_config.h).
//
//   const snapbus::emulator::Config config = snapbus::cli::parse_emulate_command(words);
//   return snapbus::emulator::run_emulator(config);
//
// Options end at "--" or at the first word that is not an option: everything from there on is the
// runtime command, passed on untouched (`snapbus emulate --snapstart /bin/echo --not-a-flag`).
// Function settings may also come from --env-file the way Lambda shows them (_HANDLER,
// AWS_LAMBDA_FUNCTION_NAME, ...); a flag wins over a file.
#pragma once

#include <span>
#include <string>

#include "snapbus/emulate_config.h"

namespace snapbus::cli {

// What `snapbus emulate` exits with: run_emulator returns all but `usage`, which is the command
// line's to report before the emulator starts.
enum class EmulateExitCode : int {
  orderly_shutdown = 0,  // SIGINT or SIGTERM
  internal_error = 1,
  usage = 2,
  init_failed = 3,
  restore_failed = 4,
  invoke_failed = 5,  // the runtime crashed, timed out or exited during an invocation
};

// The words after `emulate`. Throws UsageError or HelpRequested (command_line.h).
emulator::Config parse_emulate_command(std::span<const std::string> words);

}  // namespace snapbus::cli
