// The hooks one process runs around a snapshot, with CRaC ordering and failure collection.
//
//   snapbus::HookRegistry hooks;
//   hooks.add(snapbus::HookPhase::after_restore, "reseed", [](const snapbus::StateSnapshot&) {
//     reseed_random();
//   });
//   hooks.add(snapbus::HookPhase::after_restore, "reconnect", reconnect_db, {.order = -10});
//   snapbus::HookRunReport report = hooks.run(snapbus::HookPhase::after_restore, state);
//   if (report.failed != 0) std::cerr << report.message() << '\n';
//
// Ordering rule. Each hook has an `order` (default 0) and its registration index. After a restore,
// hooks run in ascending (order, registration index): registration order when nobody sets order.
// Before a snapshot and at shutdown they run in exactly the reverse of that (descending order, then
// reverse registration), so resources are released in the opposite order to their re-creation,
// as in CRaC and snapshot_restore_py. A lower order means "outer": its after-restore hook runs
// before anyone else's, its before-snapshot hook after everyone else's.
//
// Every hook is called even when an earlier one throws; each failure is recorded as
// "<phase> hook '<name>' failed: <ExceptionType>: <message>".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "snapbus/seqlock.h"

namespace snapbus {

enum class HookPhase {
  before_snapshot,
  after_restore,
  shutdown,
};

// "before-snapshot", "after-restore", "shutdown": the spelling used in ack messages.
std::string_view hook_phase_name(HookPhase phase) noexcept;

using HookFunction = std::function<void(const StateSnapshot& state)>;

struct HookOptions {
  int order = 0;
  // Sorts before registration order; see the ordering rule above.
};

struct HookRunReport {
  std::uint32_t run = 0;
  std::uint32_t failed = 0;
  std::vector<std::string> failures;  // one "<phase> hook '<name>' failed: ..." per failed hook

  // The failures joined by "; ", as the ack message carries them.
  std::string message() const;
  HookRunReport& operator+=(const HookRunReport& other);
};

// Safe to use from several threads: add() may even be called from inside a running hook (the hook
// list is copied before the hooks run, so the new hook runs from the next phase change on).
class HookRegistry {
 public:
  void add(HookPhase phase, std::string name, HookFunction hook, HookOptions options = {});

  // The hook names of `phase` in the order run() calls them.
  std::vector<std::string> names_in_run_order(HookPhase phase) const;

  // Calls every hook of `phase` in run order, catching what each throws; `starting` (when given)
  // is told each hook's name just before it runs.
  using HookStarting = std::function<void(std::string_view hook)>;
  HookRunReport run(HookPhase phase, const StateSnapshot& state, const HookStarting& starting = {}) const;

 private:
  // Client holds mutex_ across fork(), so a child never inherits it locked mid-add.
  friend class Client;

  struct Entry {
    HookPhase phase;
    std::string name;
    // Shared, so the copies run() works on call the one registered callable, and a hook's own
    // state (a mutable lambda's captures) carries over from one run to the next.
    std::shared_ptr<HookFunction> function;
    int order;
    std::uint64_t registration_index;
  };
  std::vector<Entry> entries_in_run_order(HookPhase phase) const;

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::uint64_t next_registration_index_ = 0;
};

}  // namespace snapbus
