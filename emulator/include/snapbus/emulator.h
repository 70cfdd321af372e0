// snapbus emulate: a local Lambda execution environment with SnapStart.
//
//   snapbus emulate --snapstart --while-frozen 'systemctl restart postgresql'
//       --handler app.handler -- /usr/bin/python3 bootstrap.py      (one command line)
//   curl http://127.0.0.1:9000/hello        # a Function URL style request
//
// From C++ (the `snapbus` executable does exactly this):
//
//   return snapbus::emulator::emulate_main(argc - 1, argv + 1);  // argv[0] == "emulate"
#pragma once

namespace snapbus::emulator {

int emulate_main(int argc, char** argv);
// Runs the emulator until it is interrupted or the function fails; returns the process exit code
// (0 after an orderly shutdown, 2 bad usage, 3 init failed, 4 restore failed, 5 invoke-phase failure,
// 1 internal error). argv[0] is the subcommand name.

}  // namespace snapbus::emulator
