// Freezes every process of the function for the snapshot: the cgroup v2 freezer when a writable
// cgroup2 hierarchy is mounted, else SIGSTOP/SIGCONT of the whole process tree found via /proc.
//
//   std::string why;
//   auto freezer = Freezer::create(FreezerMode::automatic, "snapbus-emulate-1234", why);
//   // in each forked child, before exec: freezer->join_from_child();
//   freezer->freeze();   // every process is stopped when this returns
//   freezer->thaw();
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "snapbus/emulate_config.h"

namespace snapbus::emulator {

std::string freezer_cgroup_name(pid_t emulator_pid);
// The child cgroup the emulator with this pid freezes: snapbus-emulate-<pid>.

std::optional<std::string> freezer_cgroup_path(const std::string& name);
// Where that cgroup lives (beside the caller's own cgroup), when a cgroup2 hierarchy is mounted.

void remove_freezer_cgroup(const std::string& name);
// Removes that cgroup (next to the caller's own) if it exists and is empty; for the orphan guard,
// which cleans up after an emulator that could not.

class Freezer {
 public:
  virtual ~Freezer() = default;
  Freezer() = default;
  Freezer(const Freezer&) = delete;
  Freezer& operator=(const Freezer&) = delete;

  static std::unique_ptr<Freezer> create(FreezerMode mode, const std::string& name, std::string& note);
  // Throws std::runtime_error when cgroup is asked for and no writable cgroup2 is found. `note`
  // explains the choice made under automatic.

  [[nodiscard]] virtual std::string_view backend() const = 0;

  virtual void join_from_child() const {}
  // Async-signal-safe: called between fork and exec so a process is in the frozen set from its
  // first instruction (no window in which it could fork an escaping child).

  virtual void freeze() = 0;
  // Returns once every process is actually stopped; throws std::runtime_error if that fails.
  virtual void thaw() = 0;

  virtual void kill_all() {}
  // Extra kill path for processes that left the tree (the cgroup knows them all).
};

}  // namespace snapbus::emulator
