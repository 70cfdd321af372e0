#include "snapbus/publisher.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <thread>

#include "snapbus/subscriber.h"
#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

class PublisherTest : public ::testing::Test {
 protected:
  // Until a forked child has claimed its slot; false after 10 s (a child that never subscribed).
  static bool wait_for_a_slot(const Publisher& publisher) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (read_slots(publisher.segment(), Liveness::skip).empty()) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  testing::ScratchDirectory dir;
  std::filesystem::path path = dir.path() / "bus.seg";
  PublisherOptions options{.path = path, .slot_count = 4, .init_type = InitType::snap_start};
};

TEST_F(PublisherTest, CreatesTheSegmentAndRecordsItself) {
  auto publisher = Publisher::acquire(options);
  EXPECT_FALSE(publisher.took_over());
  EXPECT_FALSE(publisher.replaced());
  const StateSnapshot now = publisher.state();
  EXPECT_EQ(now.publisher_pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(now.init_type, InitType::snap_start);
  EXPECT_EQ(now.phase, Phase::starting);
  EXPECT_EQ(now.generation, 0U);
  EXPECT_EQ(publisher.segment().header().publisher_pid.load(), static_cast<std::uint32_t>(::getpid()));
}

TEST_F(PublisherTest, RestoreBumpsGenerationAndDrawsAFreshId) {
  auto publisher = Publisher::acquire(options);
  const auto first = publisher.transition(Phase::after_restore);
  const auto second = publisher.transition(Phase::after_restore);
  EXPECT_EQ(first.generation, 1U);
  EXPECT_EQ(second.generation, 2U);
  EXPECT_NE(first.restore_id_high ^ first.restore_id_low, 0U);
  EXPECT_NE(first.restore_id_high, second.restore_id_high);
  EXPECT_GT(first.restore_wall_ns, 0U);
  EXPECT_EQ(second.seq, first.seq + 2);
  const auto running = publisher.transition(Phase::running);
  EXPECT_EQ(running.generation, 2U) << "only a restore changes the generation";
  EXPECT_EQ(running.restore_id_high, second.restore_id_high);
  const auto snapshot = publisher.transition(Phase::before_snapshot);
  EXPECT_GT(snapshot.snapshot_mono_ns, 0U);
}

TEST_F(PublisherTest, SecondLivePublisherIsRefused) {
  auto publisher = Publisher::acquire(options);
  try {
    Publisher::acquire(options);
    FAIL() << "two publishers at once";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::busy);
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos) << e.what();
  }
}

TEST_F(PublisherTest, KilledPublisherIsTakenOverInPlace) {
  auto child = testing::fork_child([&] {
    auto publisher = Publisher::acquire(options);
    publisher.transition(Phase::after_restore);
    // Die mid-write, as a crash would: seq left odd.
    StateRecord& state = const_cast<StateRecord&>(publisher.segment().state());
    state.seq.fetch_add(1);
    ::kill(::getpid(), SIGKILL);
    return 0;
  });
  ASSERT_EQ(child.wait_exit_code(5s), 128 + SIGKILL);
  auto watcher = Segment::open(path, SegmentAccess::observe);
  EXPECT_EQ(watcher.state().seq.load() & 1U, 1U);

  auto publisher = Publisher::acquire(options);
  EXPECT_TRUE(publisher.took_over());
  EXPECT_FALSE(publisher.replaced());
  EXPECT_EQ(publisher.segment().inode(), watcher.inode()) << "take-over must keep the file mapped subscribers hold";
  const StateSnapshot now = read_state(watcher.state());
  EXPECT_EQ(now.seq & 1U, 0U);
  EXPECT_EQ(now.generation, 1U);
  EXPECT_EQ(watcher.header().publisher_pid.load(), static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(publisher.transition(Phase::running).publisher_pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(read_state(watcher.state()).generation, 1U);
}

// The adapter at Init: a segment an earlier run left at the path is replaced, not taken over, so
// the generation starts at 0 and the init type is this run's, as in a new Lambda environment.
TEST_F(PublisherTest, AFreshPublisherReplacesTheSegmentAnEarlierRunLeft) {
  dev_t device = 0;
  ino_t inode = 0;
  {
    auto earlier = Publisher::acquire({.path = path, .slot_count = 4, .init_type = InitType::on_demand});
    earlier.transition(Phase::before_snapshot);
    earlier.transition(Phase::after_restore);
    ASSERT_EQ(earlier.state().generation, 1U);
    Segment writer = Segment::open(path, SegmentAccess::publish);
    claim_slot(writer, current_process(), {.name = "left-behind"}, {});
    device = earlier.segment().device();
    inode = earlier.segment().inode();
  }
  auto publisher =
      Publisher::acquire({.path = path, .slot_count = 4, .init_type = InitType::snap_start, .fresh = true});
  EXPECT_FALSE(publisher.took_over());
  EXPECT_TRUE(publisher.replaced());
  EXPECT_FALSE(publisher.segment().device() == device && publisher.segment().inode() == inode) << "the same file";
  const StateSnapshot now = publisher.state();
  EXPECT_EQ(now.generation, 0U);
  EXPECT_EQ(now.phase, Phase::starting);
  EXPECT_EQ(now.init_type, InitType::snap_start);
  EXPECT_TRUE(read_slots(publisher.segment(), Liveness::skip).empty());
}

TEST_F(PublisherTest, ReplacesASegmentOfAnOlderLayoutVersion) {
  {
    auto old = Segment::create(path, {.slot_count = 2});
    old.mutable_header().layout_version = kLayoutVersion - 1;
  }
  auto publisher = Publisher::acquire(options);
  EXPECT_FALSE(publisher.took_over());
  EXPECT_TRUE(publisher.replaced());
  EXPECT_EQ(publisher.segment().header().layout_version, kLayoutVersion);
}

// A newer snapbus's segment may still be in use by that snapbus's processes: an older publisher
// must not drop them by replacing it, fresh or not.
TEST_F(PublisherTest, LeavesASegmentOfANewerLayoutVersionAlone) {
  {
    auto newer = Segment::create(path, {.slot_count = 2});
    newer.mutable_header().layout_version = kLayoutVersion + 1;
  }
  const auto before = std::filesystem::last_write_time(path);
  for (const bool fresh : {false, true}) {
    PublisherOptions asked = options;
    asked.fresh = fresh;
    try {
      static_cast<void>(Publisher::acquire(asked));
      ADD_FAILURE() << "a newer segment was replaced (fresh " << fresh << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::version_mismatch);
      EXPECT_NE(std::string(e.what()).find("a newer snapbus made it"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(std::filesystem::last_write_time(path), before);
}

TEST_F(PublisherTest, RefusesToOverwriteAForeignFile) {
  {
    std::ofstream foreign(path);
    foreign << "somebody else's data, long enough to hold a header......................";
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_THROW(Publisher::acquire(options), Error);
  options.fresh = true;
  EXPECT_THROW(Publisher::acquire(options), Error) << "a fresh segment replaces a segment, never a foreign file";
  std::ifstream still(path);
  std::string text;
  std::getline(still, text);
  EXPECT_EQ(text.rfind("somebody", 0), 0U);
  // Refused before anything was made beside it.
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".lock"));
}

TEST_F(PublisherTest, RefusesADirectoryOrAFifoWithoutMakingALockFileBesideIt) {
  const std::filesystem::path directory = dir.path() / "directory.seg";
  std::filesystem::create_directory(directory);
  const std::filesystem::path fifo = dir.path() / "fifo.seg";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& refused : {directory, fifo}) {
    options.path = refused;
    EXPECT_THROW(Publisher::acquire(options), Error) << refused;
    EXPECT_FALSE(std::filesystem::exists(refused.string() + ".lock")) << refused;
  }
}

TEST_F(PublisherTest, AMissingDirectoryIsNamed) {
  options.path = dir.path() / "missing" / "bus.seg";
  try {
    Publisher::acquire(options);
    FAIL() << "acquired a segment in a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::system);
    EXPECT_EQ(std::string(e.what()), "cannot create the segment " + options.path.string() + ": its directory " +
                                         (dir.path() / "missing").string() + " does not exist");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "missing"));
}

// /proc answers ENOENT to a create: its directory is there, it just takes no new files.
TEST_F(PublisherTest, ADirectoryThatTakesNoNewFilesIsNotCalledMissing) {
  options.path = "/proc/snapbus-test.seg";
  try {
    Publisher::acquire(options);
    FAIL() << "acquired a segment in /proc";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot create the segment /proc/snapbus-test.seg: its directory /proc takes no "
              "new files (creating /proc/snapbus-test.seg.lock: No such file or directory)");
  }
}

// A name with no room for the temporary file beside it is refused before anything is created: it
// used to fail half-way, leaving the lock file behind.
TEST_F(PublisherTest, ASegmentNameTooLongForItsCompanionFilesIsRefusedFirst) {
  const std::string longest(kMaxSegmentFileName, 'a');
  options.path = dir.path() / longest;
  {
    auto publisher = Publisher::acquire(options);
    auto subscriber = Subscriber::open(options.path, {.name = "longest"});
    const std::uint32_t published = publisher.transition(Phase::running).seq;
    EXPECT_EQ(subscriber.state().seq, published);
  }
  const std::filesystem::path too_long = dir.path() / (longest + "b");
  options.path = too_long;
  try {
    Publisher::acquire(options);
    FAIL() << "acquired a segment named with " << too_long.filename().string().size() << " bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("its file name is 227 bytes long; at most 226 fit"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(too_long.string() + ".lock"));
  try {
    static_cast<void>(Subscriber::open(too_long, {}));
    FAIL() << "a subscriber opened a segment whose name no publisher can create";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
  }
}

TEST_F(PublisherTest, WaitsForEveryAckAndReportsFailures) {
  auto publisher = Publisher::acquire(options);
  auto ok = Subscriber::open(path, {.name = "fine"});
  auto bad = Subscriber::open(path, {.name = "broken"});
  auto quiet = Subscriber::open(path, {.name = "not-waited", .wait_for_ack = false});
  const auto now = publisher.transition(Phase::after_restore);
  ok.acknowledge({.seq = now.seq, .handled_generation = 1, .outcome = AckOutcome::ok, .hooks_run = 2});
  bad.acknowledge({.seq = now.seq,
                   .handled_generation = 1,
                   .outcome = AckOutcome::failed,
                   .hooks_run = 2,
                   .hooks_failed = 1,
                   .message = "after-restore hook 'db' failed: RuntimeError: boom"});
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 5s);
  ASSERT_EQ(report.entries.size(), 2U);
  EXPECT_FALSE(report.all_ok());
  const auto problems = report.problems();
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].find("(broken): failed: after-restore hook 'db' failed: RuntimeError: boom"), std::string::npos)
      << problems[0];
}

TEST_F(PublisherTest, MissingAckIsReportedAtTheDeadline) {
  auto publisher = Publisher::acquire(options);
  auto sleepy = Subscriber::open(path, {.name = "sleepy"});
  const auto now = publisher.transition(Phase::before_snapshot);
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 50ms);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::missing);
  EXPECT_EQ(report.entries[0].slot.name, "sleepy");
}

// One wait with a progress callback: each call lists who is still pending and who has settled, and
// a subscriber that acked and then freed its slot is still in the final report.
TEST_F(PublisherTest, ProgressNamesThePendingAndKeepsWhoSettledAndLeft) {
  auto publisher = Publisher::acquire(options);
  std::optional<Subscriber> quick = Subscriber::open(path, {.name = "quick"});
  auto slow = Subscriber::open(path, {.name = "slow"});
  const auto now = publisher.transition(Phase::after_restore);
  quick->acknowledge({.seq = now.seq, .handled_generation = 1, .hooks_run = 1});
  std::vector<AckProgress> seen;
  const AckReport report = publisher.wait_for_acks(
      now.seq, FutexClock::now() + 10s, {.progress_interval = 30ms, .on_progress = [&](const AckProgress& progress) {
                                           seen.push_back(progress);
                                           if (seen.size() < 2) return;
                                           quick.reset();  // exits: its slot is freed
                                           slow.acknowledge({.seq = now.seq, .handled_generation = 1});
                                         }});
  ASSERT_EQ(seen.size(), 2U);
  for (const AckProgress& progress : seen) {
    EXPECT_EQ(progress.seq, now.seq);
    ASSERT_EQ(progress.pending.size(), 1U);
    EXPECT_EQ(progress.pending[0].name, "slow");
    ASSERT_EQ(progress.settled.size(), 1U);
    EXPECT_EQ(progress.settled[0].slot.name, "quick");
  }
  EXPECT_TRUE(report.all_ok());
  ASSERT_EQ(report.entries.size(), 2U);
  EXPECT_EQ(report.entries[0].slot.name, "quick");
  EXPECT_EQ(report.entries[1].slot.name, "slow");
  EXPECT_EQ(read_slots(publisher.segment()).size(), 1U);
}

// A stop flag set while a subscriber is pending ends the wait without any wake (`snapbus publish`
// interrupted): the acks given so far count, the pending one is missing, and the report says why.
TEST_F(PublisherTest, StopFlagEndsTheWaitWithWhatItHas) {
  auto publisher = Publisher::acquire(options);
  auto quick = Subscriber::open(path, {.name = "quick"});
  auto slow = Subscriber::open(path, {.name = "slow"});
  const auto now = publisher.transition(Phase::after_restore);
  quick.acknowledge({.seq = now.seq, .handled_generation = 1, .hooks_run = 1});
  std::atomic<bool> stop{false};
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(50ms);
    stop = true;
  });
  const auto started = FutexClock::now();
  const AckReport report = publisher.wait_for_acks(now.seq, started + 60s, {.stop = &stop});
  stopper.join();
  EXPECT_LT(FutexClock::now() - started, 30s);  // not the deadline
  EXPECT_TRUE(report.stopped);
  ASSERT_EQ(report.entries.size(), 2U);
  EXPECT_EQ(report.entries[0].slot.name, "quick");
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
  EXPECT_EQ(report.entries[1].slot.name, "slow");
  EXPECT_EQ(report.entries[1].status, AckStatus::missing);

  // Nobody pending: the flag changes nothing.
  slow.acknowledge({.seq = now.seq, .handled_generation = 1});
  const AckReport complete = publisher.wait_for_acks(now.seq, FutexClock::now() + 5s, {.stop = &stop});
  EXPECT_FALSE(complete.stopped);
  EXPECT_TRUE(complete.all_ok());
}

TEST_F(PublisherTest, AckFromAnotherProcessWakesTheWait) {
  auto publisher = Publisher::acquire(options);
  auto child = testing::fork_child([&] {
    auto sub = Subscriber::open(path, {.name = "child"});
    const std::uint32_t seen = sub.seq();
    while (sub.seq() == seen) {
      if (sub.wait_for_change(seen, FutexClock::now() + 5s) == FutexResult::timed_out) return 3;
    }
    const StateSnapshot now = sub.state();
    sub.acknowledge({.seq = now.seq, .handled_generation = now.generation, .hooks_run = 1});
    // Stay subscribed until the parent has read the report: a clean exit frees the slot.
    sub.wait_for_change(now.seq, FutexClock::now() + 5s);
    return 0;
  });
  // Publish only once the child holds its slot and sleeps on the state. Opening may itself wait on
  // a futex (the segment monitor starting), so the slot is checked first, then the sleep.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (read_slots(publisher.segment()).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(read_slots(publisher.segment()).size(), 1U);
  ASSERT_TRUE(child.wait_until_blocked_in_futex(5s));
  const auto now = publisher.transition(Phase::after_restore);
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 5s);
  EXPECT_TRUE(report.all_ok());
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].slot.handled_generation, 1U);
  publisher.transition(Phase::running);
  EXPECT_EQ(child.wait_exit_code(5s), 0);
}

// A hook runner (WakeOn::hook_phases) sleeps through a quiet phase and wakes for the next hook
// phase; a waiter for every change wakes for both. Each child waits once and says which phase it
// woke to. The quiet phase stays published for 100 ms, far longer than a wake takes, so a hook
// runner woken by it would see running.
TEST_F(PublisherTest, AQuietPhaseLetsHookRunnersSleep) {
  auto publisher = Publisher::acquire(options);
  auto waiter = [&](WakeOn wake_on) {
    return testing::fork_child([&, wake_on] {
      auto sub = Subscriber::open(path, {.name = "child"});
      const std::uint32_t seen = sub.seq();
      if (sub.wait_for_change(seen, FutexClock::now() + 10s, wake_on) == FutexResult::timed_out) return 3;
      const Phase woke_to = sub.state().phase;
      if (woke_to == Phase::running) return 10;
      if (woke_to == Phase::after_restore) return 20;
      return 4;
    });
  };
  auto hook_runner = waiter(WakeOn::hook_phases);
  auto every_change = waiter(WakeOn::every_change);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (read_slots(publisher.segment()).size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(read_slots(publisher.segment()).size(), 2U);
  ASSERT_TRUE(hook_runner.wait_until_blocked_in_futex(5s));
  ASSERT_TRUE(every_change.wait_until_blocked_in_futex(5s));
  publisher.transition(Phase::running);
  std::this_thread::sleep_for(100ms);
  publisher.transition(Phase::after_restore);
  EXPECT_EQ(hook_runner.wait_exit_code(5s), 20);
  EXPECT_EQ(every_change.wait_exit_code(5s), 10);
}

// fork() then exec(): the child keeps its pid and start time but runs another program, which will
// never ack. Its exec dropped its slot lock (O_CLOEXEC), so its slot is freed before the change
// is published, and the change does not wait for it.
TEST_F(PublisherTest, AChildThatExecsAnotherProgramLeavesWithoutFailingTheWait) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();  // the parent's Subscriber runs a thread
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  auto publisher = Publisher::acquire(options);
  auto sub = Subscriber::open(path, {.name = "parent"});
  auto child = testing::fork_child([&] {
    sub.claim_after_fork();
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    return 99;
  });
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  auto comm = [&] {
    std::ifstream in("/proc/" + std::to_string(child.pid()) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
  };
  while (comm() != "sleep" && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(comm(), "sleep");
  ASSERT_EQ(read_slots(publisher.segment(), Liveness::skip).size(), 2U) << "the child claimed a slot before exec";
  EXPECT_EQ(read_slots(publisher.segment()).size(), 2U);
  // The kernel names the new program before it closes the O_CLOEXEC descriptors (and drops their
  // locks): the lock may outlive the name change by a moment.
  auto count_alive = [&] {
    std::size_t alive = 0;
    for (const SlotInfo& slot : read_slots(publisher.segment())) alive += slot.alive ? 1 : 0;
    return alive;
  };
  while (count_alive() != 1 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(count_alive(), 1U) << "exec dropped the child's slot lock";

  const auto now = publisher.transition(Phase::after_restore);
  EXPECT_EQ(read_slots(publisher.segment(), Liveness::skip).size(), 1U) << "the exec'd child's slot was not freed";
  sub.acknowledge({.seq = now.seq, .handled_generation = 1, .hooks_run = 1});
  const auto started = FutexClock::now();
  const AckReport report = publisher.wait_for_acks(now.seq, started + 30s);
  EXPECT_LT(FutexClock::now() - started, 10s) << "waited on a process that can never ack";
  EXPECT_TRUE(report.all_ok());
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].slot.owner.pid, ::getpid());
}

// Gone before the change (here SIGKILL; os._exit and exit() without destructors are the same to
// the kernel): nothing to acknowledge, so not a failure. Its slot is freed by the publish.
TEST_F(PublisherTest, SubscriberGoneBeforeTheChangeIsNotWaitedForNorAFailure) {
  auto publisher = Publisher::acquire(options);
  auto child = testing::fork_child([&] {
    auto sub = Subscriber::open(path, {.name = "doomed"});
    ::kill(::getpid(), SIGKILL);  // dies holding its slot, never acks
    return 0;
  });
  ASSERT_EQ(child.wait_exit_code(5s), 128 + SIGKILL);
  ASSERT_EQ(read_slots(publisher.segment(), Liveness::skip).size(), 1U);
  EXPECT_FALSE(read_slots(publisher.segment()).front().alive);
  const auto now = publisher.transition(Phase::after_restore);
  EXPECT_TRUE(read_slots(publisher.segment(), Liveness::skip).empty()) << "the dead slot was not freed";
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 5s);
  EXPECT_TRUE(report.entries.empty());
  EXPECT_TRUE(report.all_ok());
}

// Alive at the change, dead in a hook before its ack: a failure, reported by name.
TEST_F(PublisherTest, SubscriberDyingAfterTheChangeIsReportedByName) {
  auto publisher = Publisher::acquire(options);
  auto child = testing::fork_child([&] {
    auto sub = Subscriber::open(path, {.name = "doomed"});
    // Not seq(): the parent publishes as soon as the slot is claimed, and may do so before a read.
    const std::uint32_t joined = sub.joined_state().seq;
    const auto give_up = FutexClock::now() + 10s;
    while (sub.seq() == joined) {
      if (sub.wait_for_change(joined, give_up) == FutexResult::timed_out) return 3;
    }
    sub.note_running_hook("after-restore", "db");  // as a client does before each hook
    ::kill(::getpid(), SIGKILL);                   // dies mid-hook
    return 0;
  });
  ASSERT_TRUE(wait_for_a_slot(publisher)) << "the child never subscribed";
  const auto now = publisher.transition(Phase::after_restore);
  const auto started = FutexClock::now();
  const AckReport report = publisher.wait_for_acks(now.seq, started + 30s);
  EXPECT_LT(FutexClock::now() - started, 10s) << "waited on a dead process";
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::died);
  EXPECT_EQ(report.entries[0].slot.name, "doomed");
  EXPECT_EQ(running_hook_of(report.entries[0].slot), "after-restore hook 'db'");
  EXPECT_EQ(child.wait_exit_code(5s), 128 + SIGKILL);
  EXPECT_TRUE(read_slots(publisher.segment()).empty()) << "the dead slot was not freed";
}

// Alive at the change, gone before its first hook (os._exit in a pool worker whose watcher had not
// got to the change yet): it left nothing stale behind, so the change is done without it.
TEST_F(PublisherTest, SubscriberEndingAfterTheChangeBeforeAnyHookIsNoFailure) {
  auto publisher = Publisher::acquire(options);
  int release[2];
  ASSERT_EQ(::pipe(release), 0);
  auto child = testing::fork_child([&] {
    auto sub = Subscriber::open(path, {.name = "worker"});
    char byte = 0;
    // Ends when the parent says the change is out, without a hook, an ack or a destructor.
    ::_exit(::read(release[0], &byte, 1) == 1 ? 0 : 3);
    return 0;
  });
  ::close(release[0]);
  ASSERT_TRUE(wait_for_a_slot(publisher)) << "the child never subscribed";
  const auto now = publisher.transition(Phase::after_restore);
  ASSERT_EQ(::write(release[1], "x", 1), 1);
  ::close(release[1]);
  EXPECT_EQ(child.wait_exit_code(5s), 0);
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 30s);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::ended);
  EXPECT_EQ(report.entries[0].slot.name, "worker");
  EXPECT_TRUE(report.all_ok());
  EXPECT_TRUE(report.problems().empty());
  EXPECT_TRUE(read_slots(publisher.segment()).empty()) << "the ended slot was not freed";
}

// transition() looks for dead slots only after its wake, and a woken subscriber may die in its
// hook before that look (it can preempt the publisher). Such a slot is still a death in a hook,
// not a process gone before the change: here the look finds the slot dead with its note.
TEST_F(PublisherTest, SubscriberFoundDeadInAHookWhenTheChangeIsPublishedIsReportedAsDied) {
  auto publisher = Publisher::acquire(options);
  auto child = testing::fork_child([&] {
    auto sub = Subscriber::open(path, {.name = "crashed"});
    sub.note_running_hook("after-restore", "reconnect");
    ::kill(::getpid(), SIGKILL);
    return 0;
  });
  ASSERT_EQ(child.wait_exit_code(5s), 128 + SIGKILL);
  const auto now = publisher.transition(Phase::after_restore);
  EXPECT_TRUE(read_slots(publisher.segment(), Liveness::skip).empty()) << "the dead slot was not freed";
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 5s);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::died);
  EXPECT_EQ(report.entries[0].slot.name, "crashed");
  EXPECT_EQ(running_hook_of(report.entries[0].slot), "after-restore hook 'reconnect'");
  EXPECT_FALSE(report.all_ok());
  // Reported once, for the change it was found at: the next change's wait does not repeat it.
  const auto next = publisher.transition(Phase::after_restore);
  EXPECT_TRUE(publisher.wait_for_acks(next.seq, FutexClock::now() + 5s).entries.empty());
}

// What a checkpoint/restore does to a process: same pid, new start time. The slot's recorded start
// time no longer matches /proc, yet the kernel still holds its lock: alive, and its ack counts.
TEST_F(PublisherTest, RestoredSubscriberWithAnotherStartTimeIsAliveAndItsAckCounts) {
  auto publisher = Publisher::acquire(options);
  auto child = testing::fork_child([&] {
    auto sub = Subscriber::open(path, {.name = "restored"});
    // Not seq(): the parent publishes as soon as the slot is claimed, and may do so before a read.
    const std::uint32_t joined = sub.joined_state().seq;
    const auto give_up = FutexClock::now() + 10s;
    while (sub.seq() == joined) {
      if (sub.wait_for_change(joined, give_up) == FutexResult::timed_out) return 4;
    }
    const StateSnapshot now = sub.state();
    sub.acknowledge({.seq = now.seq, .handled_generation = now.generation, .hooks_run = 1});
    // Stay subscribed until the parent has read the report: a clean exit frees the slot.
    sub.wait_for_change(now.seq, FutexClock::now() + 5s);
    return sub.slot_index() == 0 && sub.last_notice().empty() ? 0 : 3;
  });
  ASSERT_TRUE(wait_for_a_slot(publisher)) << "the child never subscribed";
  // Rewrite the recorded start time, as if the process had been restored.
  Segment writer = Segment::open(path, SegmentAccess::publish);
  SlotRecord& slot = writer.mutable_slot(0);
  slot.start_time.store(slot.start_time.load() + 12345);
  ASSERT_FALSE(process_alive(read_slots(publisher.segment()).front().owner)) << "/proc disagrees now";
  EXPECT_TRUE(read_slots(publisher.segment()).front().alive);
  std::this_thread::sleep_for(50ms);  // longer than the wait's liveness interval
  const auto now = publisher.transition(Phase::after_restore);
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 10s);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
  EXPECT_TRUE(report.all_ok());
  publisher.transition(Phase::running);
  EXPECT_EQ(child.wait_exit_code(5s), 0);
}

// A slot left unlocked by an earlier process that had this very pid (a container restarted with
// /tmp kept) is a departed one like any other: reaped, never waited for.
TEST_F(PublisherTest, AStaleSlotNamingThisPidIsReaped) {
  auto publisher = Publisher::acquire(options);
  {
    Segment writer = Segment::open(path, SegmentAccess::publish);
    SlotRecord& slot = writer.mutable_slot(1);
    slot.start_time.store(current_process().start_time + 1);
    slot.flags.store(kSlotFlagWaitForAck);
    slot.pid.store(static_cast<std::uint32_t>(::getpid()));
  }
  const auto now = publisher.transition(Phase::after_restore);
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 2s);
  EXPECT_TRUE(report.entries.empty()) << report.problems().front();
  EXPECT_TRUE(read_slots(publisher.segment()).empty());
  // A live slot of this process, held through another descriptor, is still waited for.
  auto own = Subscriber::open(path, {.name = "own"});
  const auto again = publisher.transition(Phase::after_restore);
  const AckReport missing = publisher.wait_for_acks(again.seq, FutexClock::now() + 50ms);
  ASSERT_EQ(missing.entries.size(), 1U);
  EXPECT_EQ(missing.entries[0].status, AckStatus::missing);
}

TEST_F(PublisherTest, ASegmentTruncatedUnderThePublisherIsAnErrorNotAPass) {
  auto publisher = Publisher::acquire(options);
  auto sleepy = Subscriber::open(path, {.name = "sleepy"});
  const auto now = publisher.transition(Phase::after_restore);
  std::filesystem::resize_file(path, 0);
  try {
    publisher.wait_for_acks(now.seq, FutexClock::now() + 5s);
    FAIL() << "an ack nobody gave was reported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_segment);
    EXPECT_NE(std::string(e.what()).find("was truncated to 0 bytes"), std::string::npos) << e.what();
  }
  // Publishing into it again writes over zero pages, and says why it did not count.
  EXPECT_THROW(publisher.transition(Phase::running), Error);
}

TEST_F(PublisherTest, ASegmentDeletedOrReplacedUnderThePublisherIsAnError) {
  auto publisher = Publisher::acquire(options);
  publisher.transition(Phase::running);
  std::filesystem::copy_file(path, dir.path() / "copy.seg");
  std::filesystem::rename(dir.path() / "copy.seg", path);
  try {
    publisher.transition(Phase::after_restore);
    FAIL() << "published into a file nobody opens any more";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_segment);
    EXPECT_NE(std::string(e.what()).find("was deleted or replaced"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW(publisher.transition(Phase::running), Error);
}

TEST_F(PublisherTest, ALockFileDeletedUnderThePublisherIsAnError) {
  auto publisher = Publisher::acquire(options);
  std::filesystem::remove(path.string() + ".lock");
  try {
    publisher.transition(Phase::before_snapshot);
    FAIL() << "a second publisher could have taken the segment beside this one";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_segment);
    EXPECT_NE(std::string(e.what()).find(".lock was deleted or replaced"), std::string::npos) << e.what();
  }
}

TEST_F(PublisherTest, BusyMessageNamesTheProcessHoldingTheLock) {
  auto holder = testing::fork_child([&] {
    auto publisher = Publisher::acquire(options);
    std::this_thread::sleep_for(30s);
    return 0;
  });
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (publisher_lock_holder(path) != holder.pid() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(publisher_lock_holder(path), holder.pid());
  try {
    Publisher::acquire(options);
    FAIL() << "two publishers at once";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::busy);
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(holder.pid())), std::string::npos) << e.what();
  }
  ::kill(holder.pid(), SIGKILL);
  EXPECT_EQ(holder.wait_exit_code(5s), 128 + SIGKILL);
  EXPECT_EQ(publisher_lock_holder(path), std::nullopt);
}

}  // namespace
}  // namespace snapbus
