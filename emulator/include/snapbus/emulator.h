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

// What `snapbus emulate` exits with. run_emulator returns all but kExitUsage, which the command line
// reports before the emulator starts; 3, 4 and 5 only with --exit-on-failure (without it, a failed
// environment is replaced by a fresh one).
inline constexpr int kExitOk = 0;             // an orderly shutdown after SIGINT or SIGTERM
inline constexpr int kExitInternalError = 1;  // e.g. a port that cannot be bound
inline constexpr int kExitUsage = 2;          // e.g. --freezer cgroup where no cgroup v2 can be used
inline constexpr int kExitInitFailed = 3;
inline constexpr int kExitRestoreFailed = 4;
inline constexpr int kExitInvokeFailed = 5;  // the runtime crashed, timed out or exited during an invocation

// Runs the emulator until it is interrupted (or, with --exit-on-failure, the function fails), and
// returns one of the exit codes above.
int run_emulator(const Config& config);

}  // namespace snapbus::emulator
