// The processes below a given one, read from /proc, and the tools to stop or end them all.
//
//   for (pid_t pid : descendants(getpid())) kill(pid, SIGSTOP);
//   kill_descendants_and_reap(getpid(), std::chrono::seconds(5));
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace snapbus::emulator {

std::vector<pid_t> descendants(pid_t root);
// Every live process whose parent chain reaches `root` (root itself excluded), parents before children.

char process_state(pid_t pid);
// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or 0 when the process is gone.

std::vector<pid_t> processes_with_env(const std::string& entry);
// Processes whose initial environment holds `entry` (KEY=VALUE): how strays are found by marker.

bool has_env(pid_t pid, std::string_view entry);
// Whether the process's initial environment holds `entry` (KEY=VALUE); false when it is gone.

bool kill_descendants_and_reap(pid_t root, std::chrono::milliseconds bound);
// SIGKILLs every descendant until none is left and reaps the ones that are our children (needs
// `root` to be a child subreaper so orphans come back to it). Returns false if some survived `bound`.

}  // namespace snapbus::emulator
