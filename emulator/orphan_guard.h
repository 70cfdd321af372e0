// A watchdog that outlives the emulator only to clean up after it: if the emulator dies without its
// orderly shutdown (SIGKILL, a crash), every process carrying the marker is killed.
//
//   start_orphan_guard("SNAPBUS_EMULATOR_ID=1234-...");  // first thing, before threads or sockets
#pragma once

#include <string>

namespace snapbus::emulator {

void start_orphan_guard(const std::string& marker_entry);
// Double-forks a guard process that is not our descendant (so the shutdown sweep and the freezer
// leave it alone) and waits for the read end of a pipe to reach EOF, which happens however the
// emulator ends. Then it SIGKILLs every process whose environment holds `marker_entry`, removes
// the emulator's freezer cgroup if one is left, and exits.
// Call before become_subreaper(): the grandchild must be adopted by init, not by us.

}  // namespace snapbus::emulator
