// snapbus emulate: a local Lambda execution environment with SnapStart.
//
//   snapbus emulate --snapstart --while-frozen 'systemctl restart postgresql'
//       --handler app.handler -- /usr/bin/python3 bootstrap.py      (one command line)
//   curl http://127.0.0.1:9000/hello        # a Function URL style request
//
// From C++ (the `snapbus emulate` command does exactly this once it has parsed its options):
//
//   snapbus::emulator::Config config;
//   config.snapstart = true;
//   config.command = {"/usr/bin/python3", "bootstrap.py"};
//   return snapbus::emulator::run_emulator(config);
#pragma once

#include "snapbus/emulate_config.h"

namespace snapbus::emulator {

// Runs the emulator until it is interrupted or the function fails; returns the process exit code
// (0 after an orderly shutdown, 3 init failed, 4 restore failed, 5 invoke-phase failure, 1 internal
// error). Bad usage (2) is the command line's to report, before this is called.
int run_emulator(const Config& config);

}  // namespace snapbus::emulator
