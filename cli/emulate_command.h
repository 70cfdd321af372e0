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

// The words after `emulate`. Throws UsageError or HelpRequested (command_line.h).
emulator::Config parse_emulate_command(std::span<const std::string> words);

}  // namespace snapbus::cli
