#include "snapbus/hook_registry.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace snapbus {
namespace {

using Names = std::vector<std::string>;

HookFunction record_into(std::vector<std::string>& calls, std::string name) {
  return [&calls, name = std::move(name)](const StateSnapshot&) { calls.push_back(name); };
}

TEST(HookRegistryTest, AfterRestoreRunsInRegistrationOrder) {
  HookRegistry hooks;
  std::vector<std::string> calls;
  for (const char* name : {"a", "b", "c"}) hooks.add(HookPhase::after_restore, name, record_into(calls, name));
  hooks.run(HookPhase::after_restore, {});
  EXPECT_EQ(calls, (Names{"a", "b", "c"}));
}

TEST(HookRegistryTest, BeforeSnapshotAndShutdownRunInReverseRegistrationOrder) {
  HookRegistry hooks;
  std::vector<std::string> calls;
  for (const char* name : {"a", "b", "c"}) {
    hooks.add(HookPhase::before_snapshot, name, record_into(calls, std::string("snap-") + name));
    hooks.add(HookPhase::shutdown, name, record_into(calls, std::string("down-") + name));
  }
  hooks.run(HookPhase::before_snapshot, {});
  hooks.run(HookPhase::shutdown, {});
  EXPECT_EQ(calls, (Names{"snap-c", "snap-b", "snap-a", "down-c", "down-b", "down-a"}));
}

TEST(HookRegistryTest, OrderSortsBeforeRegistrationAndBeforeSnapshotIsTheExactReverse) {
  HookRegistry hooks;
  hooks.add(HookPhase::after_restore, "late", [](const StateSnapshot&) {}, {.order = 5});
  hooks.add(HookPhase::after_restore, "plain-1", [](const StateSnapshot&) {});
  hooks.add(HookPhase::after_restore, "early", [](const StateSnapshot&) {}, {.order = -5});
  hooks.add(HookPhase::after_restore, "plain-2", [](const StateSnapshot&) {});
  hooks.add(HookPhase::before_snapshot, "late", [](const StateSnapshot&) {}, {.order = 5});
  hooks.add(HookPhase::before_snapshot, "plain-1", [](const StateSnapshot&) {});
  hooks.add(HookPhase::before_snapshot, "early", [](const StateSnapshot&) {}, {.order = -5});
  hooks.add(HookPhase::before_snapshot, "plain-2", [](const StateSnapshot&) {});

  EXPECT_EQ(hooks.names_in_run_order(HookPhase::after_restore), (Names{"early", "plain-1", "plain-2", "late"}));
  EXPECT_EQ(hooks.names_in_run_order(HookPhase::before_snapshot), (Names{"late", "plain-2", "plain-1", "early"}));
}

TEST(HookRegistryTest, EveryHookRunsWhenSomeThrowAndEachFailureIsNamed) {
  HookRegistry hooks;
  std::vector<std::string> calls;
  hooks.add(HookPhase::after_restore, "first", record_into(calls, "first"));
  hooks.add(HookPhase::after_restore, "db", [&](const StateSnapshot&) {
    calls.push_back("db");
    throw std::runtime_error("connection refused");
  });
  hooks.add(HookPhase::after_restore, "middle", record_into(calls, "middle"));
  hooks.add(HookPhase::after_restore, "odd", [&](const StateSnapshot&) {
    calls.push_back("odd");
    throw 42;
  });
  hooks.add(HookPhase::after_restore, "last", record_into(calls, "last"));

  const HookRunReport report = hooks.run(HookPhase::after_restore, {});

  EXPECT_EQ(calls, (Names{"first", "db", "middle", "odd", "last"}));
  EXPECT_EQ(report.run, 5U);
  EXPECT_EQ(report.failed, 2U);
  EXPECT_EQ(report.message(),
            "after-restore hook 'db' failed: std::runtime_error: connection refused; "
            "after-restore hook 'odd' failed: unknown exception: (not derived from std::exception)");
}

TEST(HookRegistryTest, HooksSeeTheStateTheyRunFor) {
  HookRegistry hooks;
  std::uint64_t seen_generation = 0;
  hooks.add(HookPhase::after_restore, "gen", [&](const StateSnapshot& state) { seen_generation = state.generation; });
  StateSnapshot state;
  state.generation = 7;
  hooks.run(HookPhase::after_restore, state);
  EXPECT_EQ(seen_generation, 7U);
}

TEST(HookRegistryTest, AHookKeepsItsOwnStateFromOneRunToTheNext) {
  HookRegistry hooks;
  std::vector<int> seen;
  hooks.add(HookPhase::after_restore, "counter",
            [&seen, runs = 0](const StateSnapshot&) mutable { seen.push_back(++runs); });
  hooks.run(HookPhase::after_restore, {});
  hooks.run(HookPhase::after_restore, {});
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

TEST(HookRegistryTest, AHookMayRegisterAnotherWhileRunning) {
  HookRegistry hooks;
  int added_runs = 0;
  hooks.add(HookPhase::after_restore, "adder", [&](const StateSnapshot&) {
    hooks.add(HookPhase::after_restore, "added", [&](const StateSnapshot&) { ++added_runs; });
  });
  EXPECT_EQ(hooks.run(HookPhase::after_restore, {}).run, 1U);
  EXPECT_EQ(added_runs, 0);
  hooks.run(HookPhase::after_restore, {});
  EXPECT_EQ(added_runs, 1);
}

TEST(HookRegistryTest, ReportsAddUp) {
  HookRunReport total;
  total += HookRunReport{.run = 2, .failed = 1, .failures = {"x"}};
  total += HookRunReport{.run = 1, .failed = 1, .failures = {"y"}};
  EXPECT_EQ(total.run, 3U);
  EXPECT_EQ(total.failed, 2U);
  EXPECT_EQ(total.message(), "x; y");
}

}  // namespace
}  // namespace snapbus
