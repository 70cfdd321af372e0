#include "snapbus/client.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iterator>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "snapbus/catch_up.h"
#include "snapbus/publisher.h"
#include "snapbus/sanitizer_build.h"
#include "snapbus/segment.h"
#include "snapbus/slot_table.h"
#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

constexpr auto kAckDeadline = 10s;

// Every thread a child of this process tries to start fails, as at a process or thread limit
// (EAGAIN), which a test run as root cannot reach otherwise. 0: none fails.
std::atomic<pid_t> fail_threads_in_children_of{0};

AckReport publish(Publisher& publisher, Phase phase) {
  const StateSnapshot now = publisher.transition(phase);
  return publisher.wait_for_acks(now.seq, FutexClock::now() + kAckDeadline);
}

// Polls a condition that has no wake-up of its own (a thread attaching), with a deadline.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds patience = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Reads exactly `size` bytes from fd, or fails after the deadline.
bool read_with_deadline(int fd, void* buffer, std::size_t size, std::chrono::milliseconds patience = 10s) {
  auto* bytes = static_cast<char*>(buffer);
  const auto deadline = std::chrono::steady_clock::now() + patience;
  std::size_t done = 0;
  while (done < size) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd descriptor{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&descriptor, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fd, bytes + done, size - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

TEST(ClientTest, RunsAfterRestoreHooksOnTheWatcherAndAcks) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "unit"});
  std::atomic<int> runs{0};
  client.after_restore("count", [&] { ++runs; });
  client.start();

  const AckReport report = publish(publisher, Phase::after_restore);

  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
  EXPECT_EQ(report.entries[0].slot.name, "unit");
  EXPECT_EQ(report.entries[0].slot.handled_generation, 1U);
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(client.handled_generation(), 1U);
}

TEST(ClientTest, AckMessageNamesEveryFailedHookAndAllHooksRun) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "failing"});
  std::atomic<int> good_runs{0};
  client.after_restore("reconnect-db", [] { throw std::runtime_error("db unreachable"); });
  client.after_restore("reseed", [&] { ++good_runs; });
  client.after_restore("refresh-token", [] { throw std::logic_error("no token"); });
  ::testing::internal::CaptureStderr();
  client.start();

  const AckReport report = publish(publisher, Phase::after_restore);
  // The process's own stderr says it too, before its ack.
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(stderr_text.find("snapbus client (pid " + std::to_string(::getpid()) +
                             "): 2 of 3 hooks failed: after-restore hook 'reconnect-db' failed"),
            std::string::npos)
      << stderr_text;

  ASSERT_EQ(report.entries.size(), 1U);
  const AckEntry& entry = report.entries[0];
  EXPECT_EQ(entry.status, AckStatus::failed);
  EXPECT_EQ(entry.slot.hooks_run, 3U);
  EXPECT_EQ(entry.slot.hooks_failed, 2U);
  EXPECT_EQ(entry.slot.message,
            "after-restore hook 'reconnect-db' failed: std::runtime_error: db unreachable; "
            "after-restore hook 'refresh-token' failed: std::logic_error: no token");
  EXPECT_EQ(good_runs.load(), 1);
  EXPECT_FALSE(report.all_ok());
}

TEST(ClientTest, EachHookRunsExactlyOncePerChangeWhenWatcherAndInlineChecksRace) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "racer"});
  std::atomic<int> restore_runs{0};
  std::atomic<int> snapshot_runs{0};
  std::atomic<int> running_hooks{0};
  std::atomic<bool> hooks_overlapped{false};
  // Each hook stays inside for a while (yielding, so the racing threads do run), which makes a
  // second thread entering the same change very likely to be caught if the lock were missing.
  auto counting_hook = [&](std::atomic<int>& runs) {
    return [&] {
      if (++running_hooks > 1) hooks_overlapped = true;
      for (int i = 0; i < 200; ++i) std::this_thread::yield();
      ++runs;
      --running_hooks;
    };
  };
  client.after_restore("restore", counting_hook(restore_runs));
  client.before_snapshot("snapshot", counting_hook(snapshot_runs));
  client.start();

  std::atomic<bool> done{false};
  std::vector<std::thread> checkers;
  checkers.reserve(3);
  for (int i = 0; i < 3; ++i) {
    checkers.emplace_back([&, i] {
      while (!done.load()) {
        if (i == 0) {
          client.poll();
        } else {
          client.check();
        }
        std::this_thread::yield();
      }
    });
  }
  // EXPECT, not ASSERT: returning early would leave the checker threads joinable (terminate).
  constexpr int kRounds = 20;
  for (int round = 1; round <= kRounds && !::testing::Test::HasFailure(); ++round) {
    EXPECT_TRUE(publish(publisher, Phase::before_snapshot).all_ok());
    EXPECT_TRUE(publish(publisher, Phase::after_restore).all_ok());
    EXPECT_TRUE(publish(publisher, Phase::running).all_ok());
    EXPECT_EQ(snapshot_runs.load(), round);
    EXPECT_EQ(restore_runs.load(), round);
  }
  done = true;
  for (std::thread& checker : checkers) checker.join();
  EXPECT_FALSE(hooks_overlapped.load());
}

TEST(ClientTest, InlinePollAndCheckWithoutAWatcher) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "inline"});
  int snapshot_runs = 0;
  int restore_runs = 0;
  client.before_snapshot("snapshot", [&] { ++snapshot_runs; });
  client.after_restore("restore", [&] { ++restore_runs; });

  const StateSnapshot snapshot = publisher.transition(Phase::before_snapshot);
  EXPECT_FALSE(client.check());  // the generation did not change: check() stays one load
  EXPECT_TRUE(client.poll());
  EXPECT_FALSE(client.poll());
  EXPECT_EQ(snapshot_runs, 1);
  EXPECT_TRUE(publisher.wait_for_acks(snapshot.seq, FutexClock::now() + kAckDeadline).all_ok());

  const StateSnapshot restore = publisher.transition(Phase::after_restore);
  EXPECT_TRUE(client.check());
  EXPECT_FALSE(client.check());
  EXPECT_EQ(restore_runs, 1);
  EXPECT_TRUE(publisher.wait_for_acks(restore.seq, FutexClock::now() + kAckDeadline).all_ok());
}

TEST(ClientTest, AHookThatCallsCheckDoesNotWaitForItself) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path});
  bool inner_handled = true;
  client.after_restore("reentrant", [&] { inner_handled = client.check(); });
  publisher.transition(Phase::after_restore);
  EXPECT_TRUE(client.check());
  EXPECT_FALSE(inner_handled);
}

TEST(ClientTest, AttachesWhenThePublisherCreatesTheSegmentLater) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Client client({.segment_path = path, .name = "early"});
  std::atomic<int> restore_runs{0};
  client.after_restore("restore", [&] { ++restore_runs; });
  EXPECT_FALSE(client.attached());
  EXPECT_FALSE(client.check());
  client.start();

  Publisher publisher = Publisher::acquire({.path = path});
  ASSERT_TRUE(eventually([&] { return client.attached(); }));
  const AckReport report = publish(publisher, Phase::after_restore);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
  EXPECT_EQ(restore_runs.load(), 1);
}

TEST(ClientTest, ReportsWhetherThePublisherIsAlive) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Client detached({.segment_path = path});
  EXPECT_EQ(detached.publisher_alive(), std::nullopt);

  testing::ChildProcess short_lived_publisher = testing::fork_child([&] {
    Publisher::acquire({.path = path});
    return 0;
  });
  ASSERT_EQ(short_lived_publisher.wait_exit_code(10s), 0);
  Client client({.segment_path = path});
  EXPECT_EQ(client.publisher_alive(), false);

  Publisher publisher = Publisher::acquire({.path = path});
  EXPECT_EQ(client.publisher_alive(), true);
}

// stop() from a hook running on the watcher thread cannot wait for that thread to leave: it
// returns, the hook's change is still acknowledged, and the destructor joins the watcher.
TEST(ClientTest, StopFromAHookOnTheWatcherDoesNotWaitForItself) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path});
  std::atomic<bool> stopped{false};
  client.after_restore("stopper", [&] {
    client.stop();
    stopped = true;
  });
  client.start();
  const AckReport report = publish(publisher, Phase::after_restore);
  EXPECT_TRUE(stopped.load());
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
}

TEST(ClientTest, StopWakesTheWatcherAndIsIdempotent) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path});
  client.start();
  client.start();
  client.stop();
  client.stop();
  // Stopped: a change is no longer handled in the background, but inline checks still work.
  int restore_runs = 0;
  client.after_restore("restore", [&] { ++restore_runs; });
  publisher.transition(Phase::after_restore);
  EXPECT_TRUE(client.check());
  EXPECT_EQ(restore_runs, 1);
}

TEST(ClientTest, AForkedChildClaimsItsOwnSlotAndRunsItsOwnHooks) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "forker"});
  int hook_pipe[2];
  int child_slot_pipe[2];
  int release_child_pipe[2];
  ASSERT_EQ(::pipe(hook_pipe), 0);
  ASSERT_EQ(::pipe(child_slot_pipe), 0);
  ASSERT_EQ(::pipe(release_child_pipe), 0);
  client.after_restore("report-pid", [&] {
    const pid_t self = ::getpid();
    ASSERT_EQ(::write(hook_pipe[1], &self, sizeof self), static_cast<ssize_t>(sizeof self));
  });
  client.start();
  const std::uint32_t parent_slot = client.slot_index().value();

  testing::ChildProcess child = testing::fork_child([&] {
    const std::uint32_t slot = client.slot_index().value_or(parent_slot);
    const bool reported = ::write(child_slot_pipe[1], &slot, sizeof slot) == static_cast<ssize_t>(sizeof slot);
    char release = 0;
    const bool released = read_with_deadline(release_child_pipe[0], &release, 1, 20s);
    return reported && released ? 0 : 1;
  });
  std::uint32_t child_slot = parent_slot;
  ASSERT_TRUE(read_with_deadline(child_slot_pipe[0], &child_slot, sizeof child_slot));
  EXPECT_NE(child_slot, parent_slot);

  const AckReport report = publish(publisher, Phase::after_restore);
  std::set<pid_t> hook_pids;
  for (int i = 0; i < 2; ++i) {
    pid_t pid = 0;
    ASSERT_TRUE(read_with_deadline(hook_pipe[0], &pid, sizeof pid));
    hook_pids.insert(pid);
  }
  EXPECT_EQ(hook_pids, (std::set<pid_t>{::getpid(), child.pid()}));
  ASSERT_EQ(report.entries.size(), 2U);
  for (const AckEntry& entry : report.entries) EXPECT_EQ(entry.status, AckStatus::acked);

  const char release = 1;
  ASSERT_EQ(::write(release_child_pipe[1], &release, 1), 1);
  EXPECT_EQ(child.wait_exit_code(10s), 0);
  for (int fd : {hook_pipe[0], hook_pipe[1], child_slot_pipe[0], child_slot_pipe[1], release_child_pipe[0],
                 release_child_pipe[1]}) {
    ::close(fd);
  }
}

// A child a before-snapshot hook forks (a helper the snapshot must keep) holds its slot before the
// parent acknowledges: before-snapshot's own report has it, so the snapshot is not taken with a
// child the publisher does not know of, and the restore waits for its hooks.
TEST(ClientTest, AChildAHookForksHoldsItsSlotBeforeTheParentAcknowledges) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "helper-starter"});
  int release_helper[2];
  ASSERT_EQ(::pipe(release_helper), 0);
  // Forked on the watcher thread, read here after the ack (through the segment, which ThreadSanitizer
  // does not see as synchronising): under a mutex.
  std::mutex helper_mutex;
  std::optional<testing::ChildProcess> helper;
  client.before_snapshot("start-helper", [&] {
    testing::ChildProcess child = testing::fork_child([&] {
      char release = 0;
      return read_with_deadline(release_helper[0], &release, 1, 20s) ? 0 : 1;
    });
    const std::lock_guard lock(helper_mutex);
    helper.emplace(std::move(child));
  });
  client.start();

  const AckReport report = publish(publisher, Phase::before_snapshot);
  const std::lock_guard lock(helper_mutex);
  ASSERT_TRUE(helper.has_value());
  const auto helper_entry = std::find_if(report.entries.begin(), report.entries.end(),
                                         [&](const AckEntry& entry) { return entry.slot.owner.pid == helper->pid(); });
  ASSERT_NE(helper_entry, report.entries.end()) << "the snapshot's step ended without the helper's slot";
  EXPECT_EQ(helper_entry->status, AckStatus::acked);

  const char release = 1;
  ASSERT_EQ(::write(release_helper[1], &release, 1), 1);
  EXPECT_EQ(helper->wait_exit_code(10s), 0);
  ::close(release_helper[0]);
  ::close(release_helper[1]);
}

// A hook that forks helpers which end at once: each is a copy of this process in the middle of the
// change, born having acknowledged it, so none is reported as died and the change passes.
TEST(ClientTest, ChildrenAHookForksAndEndsAtOnceDoNotFailTheChange) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "spawner"});
  std::mutex helpers_mutex;  // the hook runs on the watcher thread
  std::vector<pid_t> helpers;
  std::vector<int> helper_exit_codes;
  client.after_restore("spawn-helpers", [&] {
    for (int i = 0; i < 3; ++i) {
      testing::ChildProcess helper = testing::fork_child([] { return 0; });
      const pid_t pid = helper.pid();
      const int exit_code = helper.wait_exit_code(10s);
      const std::lock_guard lock(helpers_mutex);
      helpers.push_back(pid);
      helper_exit_codes.push_back(exit_code);
    }
  });
  client.start();

  const AckReport report = publish(publisher, Phase::after_restore);
  const std::lock_guard lock(helpers_mutex);
  EXPECT_EQ(helper_exit_codes, (std::vector<int>{0, 0, 0}));
  std::string problems;
  for (const std::string& problem : report.problems()) problems += problem + "\n";
  EXPECT_TRUE(report.all_ok()) << problems;
  for (const AckEntry& entry : report.entries) {
    if (std::find(helpers.begin(), helpers.end(), entry.slot.owner.pid) != helpers.end()) {
      EXPECT_EQ(entry.status, AckStatus::acked) << "helper " << entry.slot.owner.pid;
    }
  }
}

// A hook that forks while another thread forks too: the other fork waits for the hook, and the
// hook's own fork must not wait for that one (both hold one lock the other wants).
TEST(ClientTest, AHookThatForksWhileAnotherThreadForksCompletesBoth) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "double-fork"});
  std::atomic<bool> hook_started{false};
  std::atomic<bool> other_fork_started{false};
  std::atomic<int> hook_child_exit_code{-1};
  client.after_restore("spawn-helper", [&] {
    hook_started = true;
    // The other thread's fork is under way (it waits for this hook) before this one forks.
    if (!eventually([&] { return other_fork_started.load(); })) return;
    std::this_thread::sleep_for(100ms);
    testing::ChildProcess helper = testing::fork_child([] { return 0; });
    hook_child_exit_code = helper.wait_exit_code(10s);
  });
  client.start();

  const StateSnapshot restored = publisher.transition(Phase::after_restore);
  ASSERT_TRUE(eventually([&] { return hook_started.load(); }));
  std::optional<testing::ChildProcess> other_child;
  std::atomic<bool> other_fork_returned{false};
  std::thread other_thread([&] {
    other_fork_started = true;
    other_child.emplace(testing::fork_child([] { return 0; }));
    other_fork_returned = true;
  });
  const AckReport report = publisher.wait_for_acks(restored.seq, FutexClock::now() + kAckDeadline);
  EXPECT_TRUE(report.all_ok());
  EXPECT_EQ(hook_child_exit_code.load(), 0);
  if (!eventually([&] { return other_fork_returned.load(); })) {
    ADD_FAILURE() << "fork() on another thread deadlocked against the fork in the hook";
    std::_Exit(1);  // the deadlocked threads hold the fork locks: no later test could fork
  }
  other_thread.join();
  ASSERT_TRUE(other_child.has_value());
  EXPECT_EQ(other_child->wait_exit_code(10s), 0);
}

// A fork handler that lets the exception of a thread that cannot start escape aborts the child.
TEST(ClientTest, AForkedChildThatCannotStartItsWatcherSaysSoAndRunsWithoutOne) {
  if constexpr (kAddressSanitizer || kThreadSanitizer) {
    GTEST_SKIP() << "the sanitizer's own pthread_create cannot be interposed";
  }
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  std::vector<std::string> errors;  // the child's own copy is the one that counts
  Client client(
      {.segment_path = path, .on_watcher_error = [&](const Error& error) { errors.emplace_back(error.what()); }});
  client.start();
  const std::uint32_t parent_slot = client.slot_index().value();
  fail_threads_in_children_of = ::getpid();
  testing::ChildProcess child = testing::fork_child([&] {
    const bool reported = errors.size() == 1 && errors[0].find("cannot start the watcher thread") != std::string::npos;
    const bool claimed = client.slot_index().value_or(parent_slot) != parent_slot;
    return reported && claimed ? 0 : 1;
  });
  fail_threads_in_children_of = 0;
  EXPECT_EQ(child.wait_exit_code(10s), 0);
  EXPECT_TRUE(errors.empty());
}

// The catch-up rule: a process that looked before a restore was published, and attaches only
// after it (no segment access then, no free slot, a late Client), still runs its hooks for it, and
// the publisher waits for that ack.
TEST(ClientTest, ALateAttachCatchesUpOnARestoreThisProcessLivedThrough) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  ASSERT_TRUE(first_look(path).has_value()) << "what the process saw at start-up";
  const StateSnapshot restored = publisher.transition(Phase::after_restore);

  Client client({.segment_path = path});
  int restore_runs = 0;
  client.after_restore("reseed", [&] { ++restore_runs; });
  ASSERT_TRUE(client.attached());
  const AckReport pending = publisher.wait_for_acks(restored.seq, FutexClock::now() + 50ms);
  ASSERT_EQ(pending.entries.size(), 1U);
  EXPECT_EQ(pending.entries[0].status, AckStatus::missing) << "the publisher waits for the catch-up";
  EXPECT_TRUE(client.check());
  EXPECT_EQ(restore_runs, 1);
  EXPECT_EQ(client.handled_generation(), 1U);
  const AckReport done = publisher.wait_for_acks(restored.seq, FutexClock::now() + kAckDeadline);
  ASSERT_EQ(done.entries.size(), 1U);
  EXPECT_EQ(done.entries[0].status, AckStatus::acked);
}

TEST(ClientTest, AProcessThatFirstLooksAfterARestoreRunsNoHooksForIt) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  publisher.transition(Phase::after_restore);
  Client client({.segment_path = path});  // this process's first look at this path
  int restore_runs = 0;
  client.after_restore("reseed", [&] { ++restore_runs; });
  EXPECT_FALSE(client.check());
  EXPECT_FALSE(client.poll());
  EXPECT_EQ(restore_runs, 0);
  EXPECT_EQ(client.handled_generation(), 1U);
}

// A process that was in the snapshot but loads the client only after the restore (a worker whose
// imports outlasted the adapter's settle time) lived through that restore all the same: it started
// before the restore was published, so its hooks run when it attaches.
TEST(ClientTest, AProcessFromBeforeTheSnapshotThatFirstLooksAfterTheRestoreCatchesUp) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  publisher.transition(Phase::before_snapshot);
  publisher.transition(Phase::snapshot_ready);
  const StateSnapshot restored = publisher.transition(Phase::after_restore);
  Client client({.segment_path = path});  // this process's first look at this path
  int restore_runs = 0;
  client.after_restore("reseed", [&] { ++restore_runs; });
  ASSERT_TRUE(client.attached());
  EXPECT_TRUE(client.check());
  EXPECT_EQ(restore_runs, 1);
  EXPECT_EQ(client.handled_generation(), 1U);
  const AckReport done = publisher.wait_for_acks(restored.seq, FutexClock::now() + kAckDeadline);
  ASSERT_EQ(done.entries.size(), 1U);
  EXPECT_EQ(done.entries[0].status, AckStatus::acked) << "the publisher waited for the catch-up";
}

// The same late first look from processes started later: one started during the bracket (between
// before-snapshot and the restore) was frozen into the snapshot too, and catches up; one started
// after the restore was published was never in it, and runs nothing. (Forks that look for the
// first time: the parent never looked at this path.)
TEST(ClientTest, ALateFirstLookOwesTheRestoreOnlyToAProcessStartedBeforeItWasPublished) {
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  int restored_pipe[2];
  ASSERT_EQ(::pipe(restored_pipe), 0);
  // Reads the byte that says the restore is published, then takes its first look; exits with the
  // after-restore hooks it ran, or 9 on a failure.
  auto late_loader = [&] {
    return testing::fork_child([&] {
      char restored = 0;
      if (!read_with_deadline(restored_pipe[0], &restored, 1, 20s)) return 9;
      Client client({.segment_path = path});
      int restore_runs = 0;
      client.after_restore("reseed", [&] { ++restore_runs; });
      static_cast<void>(client.check());
      return client.attached() && client.handled_generation() == 1 ? restore_runs : 9;
    });
  };
  publisher.transition(Phase::before_snapshot);
  testing::ChildProcess during_the_bracket = late_loader();
  publisher.transition(Phase::snapshot_ready);
  const StateSnapshot restored = publisher.transition(Phase::after_restore);
  std::this_thread::sleep_for(30ms);  // the next child's start, rounded down to a tick, is still later
  testing::ChildProcess after_the_restore = late_loader();
  const char bytes[2] = {1, 1};
  ASSERT_EQ(::write(restored_pipe[1], bytes, 2), 2);
  EXPECT_EQ(during_the_bracket.wait_exit_code(kAckDeadline), 1) << "catches up once";
  EXPECT_EQ(after_the_restore.wait_exit_code(kAckDeadline), 0) << "owes nothing";
  EXPECT_GE(restored.restore_mono_ns, restored.snapshot_mono_ns);
  for (int fd : restored_pipe) ::close(fd);
}

// Lambda sends the runtime SIGTERM before the adapter hears SHUTDOWN: exiting() is a worker's last
// chance to run its shutdown hooks. In reverse order, once, and never after the bus ran them.
TEST(ClientTest, ExitingRunsTheShutdownHooksStillDueOnce) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  std::mutex ran_mutex;
  std::vector<std::string> ran;
  auto hook = [&](const std::string& name) {
    return [&, name] {
      const std::lock_guard lock(ran_mutex);
      ran.push_back(name);
    };
  };
  Client client({.segment_path = path, .name = "exiting"});
  client.on_shutdown("close-pool", hook("close-pool"));
  client.on_shutdown("flush-logs", hook("flush-logs"));
  client.start();
  ASSERT_TRUE(client.attached());
  client.exiting();
  client.exiting();
  const std::lock_guard lock(ran_mutex);
  EXPECT_EQ(ran, (std::vector<std::string>{"flush-logs", "close-pool"}));
}

// After exiting() the process acknowledges nothing more: its slot is freed, so a shutting-down
// published while it drains its last requests does not wait for it.
TEST(ClientTest, ExitingFreesTheSlotSoNoPublisherWaitsForIt) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .name = "draining"});
  client.on_shutdown("flush-logs", [] {});
  client.start();
  client.exiting();
  EXPECT_FALSE(client.attached());
  for (const SlotInfo& slot : read_slots(publisher.segment(), Liveness::check)) {
    EXPECT_NE(slot.owner.pid, ::getpid()) << "still in slot " << slot.index << ": " << slot.message;
  }
  const AckReport report = publish(publisher, Phase::shutting_down);
  EXPECT_TRUE(report.entries.empty());
}

// A shutting-down published before exiting() and not handled yet (no watcher) is acknowledged.
TEST(ClientTest, ExitingAcknowledgesAShuttingDownAlreadyPublished) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  std::atomic<int> runs{0};
  std::atomic<bool> publisher_waits{false};
  Client client({.segment_path = path, .name = "told-late"});
  // Returns once the publisher waits for this process, so its wait sees the ack, not a freed slot.
  client.on_shutdown("flush-logs", [&] {
    ++runs;
    EXPECT_TRUE(eventually([&] { return publisher_waits.load(); }));
  });
  ASSERT_TRUE(client.try_attach());
  const StateSnapshot shutting_down = publisher.transition(Phase::shutting_down);
  AckReport report;
  std::thread waiting([&] {
    const AckWaitOptions options{.progress_interval = 1ms, .on_progress = [&](const auto&) { publisher_waits = true; }};
    report = publisher.wait_for_acks(shutting_down.seq, FutexClock::now() + kAckDeadline, options);
  });
  client.exiting();
  waiting.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_TRUE(report.all_ok());
  // exiting() frees the slot right after its ack: a wait that reads the slots only after that finds
  // nobody left to list (a loaded run under ThreadSanitizer does). The ack itself is still in the
  // freed record: release_slot() clears only its owner's pid and start time.
  if (!report.entries.empty()) {
    EXPECT_EQ(report.entries[0].status, AckStatus::acked);
    EXPECT_EQ(report.entries[0].slot.hooks_run, 1U);
  }
  bool acked = false;
  for (std::uint32_t i = 0; i < publisher.segment().slot_count(); ++i) {
    const SlotRecord& slot = publisher.segment().slot(i);
    acked = acked || (slot.acked_seq.load() == shutting_down.seq && slot.hooks_run.load() == 1U);
  }
  EXPECT_TRUE(acked) << "no slot holds the shutting-down's acknowledgement";
}

TEST(ClientTest, ExitingAfterTheBusRanTheShutdownHooksRunsNoneAgain) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  std::atomic<int> runs{0};
  Client client({.segment_path = path, .name = "told"});
  client.on_shutdown("flush-logs", [&] { ++runs; });
  client.start();
  const AckReport report = publish(publisher, Phase::shutting_down);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(runs.load(), 1);
  client.exiting();
  EXPECT_EQ(runs.load(), 1);
}

// Detached (no segment yet): there is no bus to have missed. Ended without exiting(): the
// destructor runs no hook, since what the hooks use may already be gone.
TEST(ClientTest, NoShutdownHookRunsWhenDetachedOrOnDestruction) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  std::atomic<int> runs{0};
  {
    Client detached({.segment_path = path});
    detached.on_shutdown("flush-logs", [&] { ++runs; });
    detached.exiting();
  }
  Publisher publisher = Publisher::acquire({.path = path});
  {
    Client destroyed({.segment_path = path});
    destroyed.on_shutdown("flush-logs", [&] { ++runs; });
    ASSERT_TRUE(destroyed.try_attach());
  }
  EXPECT_EQ(runs.load(), 0);
}

TEST(ClientTest, AShutdownHookThatFailsWhileExitingGoesToOnWatcherError) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  std::vector<std::string> errors;
  Client client(
      {.segment_path = path, .on_watcher_error = [&](const Error& error) { errors.emplace_back(error.what()); }});
  client.on_shutdown("flush-logs", [] { throw std::runtime_error("disk full"); });
  ASSERT_TRUE(client.try_attach());
  client.exiting();
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_NE(errors[0].find("shutdown hook 'flush-logs' failed"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("disk full"), std::string::npos) << errors[0];
}

// The segment file is deleted under an attached client (a /tmp cleaner); a new publisher creates
// a fresh one and publishes a restore. The watcher noticed the deletion (inotify), attaches to the
// new file and runs the hooks: every restore in a file made after this process looked is due.
TEST(ClientTest, ASegmentDeletedUnderTheWatcherIsReplacedAndItsRestoreRuns) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  std::optional<Publisher> publisher = Publisher::acquire({.path = path});
  std::atomic<int> errors{0};
  Client client({.segment_path = path, .on_watcher_error = [&](const Error&) { ++errors; }});
  std::atomic<int> restore_runs{0};
  client.after_restore("reseed", [&] { ++restore_runs; });
  client.start();
  ASSERT_TRUE(client.attached());
  publisher.reset();
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_TRUE(eventually([&] { return !client.attached(); }, 5s)) << "the deletion went unnoticed";
  EXPECT_TRUE(eventually([&] { return errors.load() == 1; }, 5s)) << "no message said what happened";

  publisher.emplace(Publisher::acquire({.path = path}));
  EXPECT_FALSE(publisher->took_over());
  const StateSnapshot restored = publisher->transition(Phase::after_restore);
  ASSERT_TRUE(eventually([&] { return restore_runs.load() == 1; }, 5s));
  const AckReport report = publisher->wait_for_acks(restored.seq, FutexClock::now() + kAckDeadline);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
}

// A segment truncated under a live client: the watcher detaches with an error naming the
// truncation; the process lives, and the hot path stays safe to call.
TEST(ClientTest, ASegmentTruncatedUnderTheClientDetachesItWithAnError) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  std::mutex errors_mutex;
  std::string errors;
  Client client({.segment_path = path, .on_watcher_error = [&](const Error& error) {
                   std::lock_guard lock(errors_mutex);
                   errors += error.what();
                 }});
  client.start();
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  ASSERT_TRUE(eventually([&] { return !client.attached(); }, 5s));
  for (int i = 0; i < 1000; ++i) client.check();
  // The watcher reports the error just after it detaches: wait for the report, not only the detach.
  const auto reported = [&] {
    std::lock_guard lock(errors_mutex);
    return errors.find("was truncated to 0 bytes") != std::string::npos;
  };
  EXPECT_TRUE(eventually(reported, 5s)) << [&] {
    std::lock_guard lock(errors_mutex);
    return errors;
  }();
}

// Without a watcher, try_attach() is what leaves a lost segment: it says so, reports it, and
// attaches to the segment the path names next, whose restore this process then runs and acks.
TEST(ClientTest, WithoutAWatcherTryAttachLeavesAReplacedSegmentAndCatchesUp) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  std::optional<Publisher> publisher = Publisher::acquire({.path = path});
  std::atomic<int> errors{0};
  Client client({.segment_path = path, .on_watcher_error = [&](const Error&) { ++errors; }});
  std::atomic<int> restore_runs{0};
  client.after_restore("reseed", [&] { ++restore_runs; });
  ASSERT_TRUE(client.try_attach());
  publisher.reset();
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_TRUE(eventually([&] { return !client.try_attach(); }, 5s)) << "the deletion went unnoticed";
  EXPECT_FALSE(client.attached());
  EXPECT_EQ(errors.load(), 1);

  publisher.emplace(Publisher::acquire({.path = path, .fresh = true}));
  ASSERT_TRUE(client.try_attach());
  const StateSnapshot restored = publisher->transition(Phase::after_restore);
  EXPECT_TRUE(client.check());
  EXPECT_EQ(restore_runs.load(), 1);
  const AckReport report = publisher->wait_for_acks(restored.seq, FutexClock::now() + kAckDeadline);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
  EXPECT_EQ(errors.load(), 1);
}

// The error callback runs with no lock of the Client held: it may call back into it.
TEST(ClientTest, OnWatcherErrorMayCallTryAttachAndExiting) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  std::optional<Publisher> publisher = Publisher::acquire({.path = path});
  std::atomic<bool> callback_returned{false};
  Client* self = nullptr;
  Client client({.segment_path = path, .on_watcher_error = [&](const Error&) {
                   static_cast<void>(self->try_attach());
                   self->exiting();
                   callback_returned = true;
                 }});
  self = &client;
  client.start();
  publisher.reset();
  ASSERT_EQ(::unlink(path.c_str()), 0);
  if (!eventually([&] { return callback_returned.load(); })) {
    ADD_FAILURE() << "the watcher deadlocked inside on_watcher_error";
    std::_Exit(1);  // the watcher holds the Client's lock: its destructor would wait for ever
  }
}

std::size_t entries_in(const std::filesystem::path& directory) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(directory), {}));
}

// Each segment left behind costs nothing but its mapping: its watch thread, inotify instance
// (limited per user) and descriptors go when the client leaves it.
TEST(ClientTest, LeavingALostSegmentReleasesItsThreadAndDescriptors) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  std::optional<Publisher> publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path, .on_watcher_error = [](const Error&) {}});
  client.start();
  ASSERT_TRUE(client.attached());
  const std::size_t threads_before = entries_in("/proc/self/task");
  const std::size_t descriptors_before = entries_in("/proc/self/fd");
  for (int i = 0; i < 5; ++i) {
    publisher.reset();
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ASSERT_TRUE(eventually([&] { return !client.attached(); }, 5s));
    publisher.emplace(Publisher::acquire({.path = path}));
    ASSERT_TRUE(eventually([&] { return client.attached(); }, 5s));
  }
  EXPECT_EQ(entries_in("/proc/self/task"), threads_before);
  EXPECT_EQ(entries_in("/proc/self/fd"), descriptors_before);
}

// A publisher killed inside a write leaves the state's seq odd. check() and poll() run in request
// handlers: they report it once and carry on, and a publisher taking over ends it.
TEST(ClientTest, AStateLeftMidWriteIsReportedOnceAndNeverThrown) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  std::optional<Publisher> publisher = Publisher::acquire({.path = path});
  std::vector<std::string> errors;
  Client client(
      {.segment_path = path, .on_watcher_error = [&](const Error& error) { errors.emplace_back(error.what()); }});
  std::atomic<int> restore_runs{0};
  client.after_restore("reseed", [&] { ++restore_runs; });
  ASSERT_TRUE(client.try_attach());
  publisher.reset();
  {
    Segment segment = Segment::open(path, SegmentAccess::publish);
    StateRecord& state = segment.mutable_state();
    state.generation.store(1);
    state.seq.store(state.seq.load() + 1);
  }
  bool changed = true;
  EXPECT_NO_THROW(changed = client.check());
  EXPECT_FALSE(changed);
  EXPECT_NO_THROW(changed = client.poll());
  EXPECT_FALSE(changed);
  EXPECT_NO_THROW(changed = client.check());
  EXPECT_FALSE(changed);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_NE(errors[0].find("mid-write"), std::string::npos) << errors[0];
  EXPECT_EQ(restore_runs.load(), 0);

  publisher.emplace(Publisher::acquire({.path = path}));
  const StateSnapshot restored = publisher->transition(Phase::after_restore);
  EXPECT_TRUE(client.check());
  EXPECT_EQ(restore_runs.load(), 1);
  const AckReport report = publisher->wait_for_acks(restored.seq, FutexClock::now() + kAckDeadline);
  EXPECT_TRUE(report.all_ok());
}

TEST(ClientTest, AHookWithoutAFunctionIsRefusedWhenItIsRegistered) {
  testing::ScratchDirectory dir;
  Client client({.segment_path = dir.path() / "segment"});
  void (*no_function)() = nullptr;
  EXPECT_ANY_THROW(client.after_restore("null-pointer", no_function));
  EXPECT_ANY_THROW(client.before_snapshot("empty-function", std::function<void()>()));
  EXPECT_ANY_THROW(client.on_shutdown("empty-with-state", std::function<void(const StateSnapshot&)>()));
  EXPECT_TRUE(client.hooks().names_in_run_order(HookPhase::after_restore).empty());
  EXPECT_TRUE(client.hooks().names_in_run_order(HookPhase::before_snapshot).empty());
}

// try_attach() and start() from hooks, and a stop() from a hook followed by start(): no deadlock,
// and the process goes on watching.
TEST(ClientTest, HooksMayCallTryAttachAndAStopFromAHookCanBeUndoneByStart) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  Client client({.segment_path = path});
  std::atomic<int> runs{0};
  client.after_restore("reenter", [&] {
    EXPECT_TRUE(client.try_attach());
    if (++runs == 1) client.stop();
  });
  client.start();
  AckReport report = publish(publisher, Phase::after_restore);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
  client.start();
  report = publish(publisher, Phase::after_restore);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked) << "the watcher did not come back";
  EXPECT_EQ(runs.load(), 2);
}

TEST(ClientTest, AThrowingErrorCallbackGoesNoFurther) {
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  std::optional<Publisher> publisher = Publisher::acquire({.path = path});
  std::atomic<int> calls{0};
  Client client({.segment_path = path, .on_watcher_error = [&](const Error&) {
                   ++calls;
                   throw std::runtime_error("the logger is down");
                 }});
  client.start();
  publisher.reset();
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_TRUE(eventually([&] { return calls.load() >= 1; }, 5s));
  // Still watching: a new segment is attached to.
  publisher.emplace(Publisher::acquire({.path = path}));
  EXPECT_TRUE(eventually([&] { return client.attached(); }, 5s));
}

// exit() in a hook destroys a static Client on its own watcher thread: the process still exits
// with the code it asked for, not through std::terminate.
TEST(ClientTest, ExitFromAHookWithAStaticClientExitsCleanly) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();
  testing::ScratchDirectory dir;
  const auto path = dir.path() / "segment";
  Publisher publisher = Publisher::acquire({.path = path});
  auto child = testing::fork_child([&] {
    static Client client({.segment_path = path, .name = "exiting"});
    client.after_restore("leave", [] { std::exit(7); });
    client.start();
    std::this_thread::sleep_for(30s);
    return 1;
  });
  ASSERT_TRUE(eventually([&] { return read_slots(publisher.segment()).size() == 1; }, 10s));
  publisher.transition(Phase::after_restore);
  EXPECT_EQ(child.wait_exit_code(10s), 7);
}

}  // namespace
}  // namespace snapbus

#if !SNAPBUS_ADDRESS_SANITIZER && !SNAPBUS_THREAD_SANITIZER
// Replaces libc's for this test program (see fail_threads_in_children_of). The sanitizers
// intercept pthread_create themselves, and must see every thread: there, the test is skipped.
extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attributes, void* (*start)(void*),
                              void* argument) {
  using Create = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const auto libc_create = reinterpret_cast<Create>(::dlsym(RTLD_NEXT, "pthread_create"));
  const pid_t parent = snapbus::fail_threads_in_children_of.load();
  if (parent != 0 && parent != ::getpid()) return EAGAIN;
  return libc_create(thread, attributes, start, argument);
}
#endif
