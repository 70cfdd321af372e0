#include "snapbus/subscriber.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <string>
#include <thread>

#include "snapbus/publisher.h"
#include "snapbus/slot_table.h"
#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

class SubscriberTest : public ::testing::Test {
 protected:
  testing::ScratchDirectory dir;
  std::filesystem::path path = dir.path() / "bus.seg";
  Publisher publisher = Publisher::acquire({.path = path, .slot_count = 4});
};

TEST_F(SubscriberTest, GenerationFollowsThePublisher) {
  auto sub = Subscriber::open(path, {.name = "w"});
  EXPECT_EQ(sub.generation(), 0U);
  publisher.transition(Phase::after_restore);
  EXPECT_EQ(sub.generation(), 1U);
  EXPECT_EQ(sub.state().phase, Phase::after_restore);
}

TEST_F(SubscriberTest, JoinsAsUpToDate) {
  const auto now = publisher.transition(Phase::after_restore);
  auto sub = Subscriber::open(path, {.name = "late"});
  const auto slots = read_slots(sub.segment());
  ASSERT_EQ(slots.size(), 1U);
  EXPECT_EQ(slots[0].acked_seq, now.seq) << "a process started after the restore has nothing to run";
  EXPECT_EQ(slots[0].handled_generation, 1U);
  EXPECT_EQ(sub.joined_state(), now) << "the baseline is the state the slot was claimed at";
  // A change after joining is visible as a seq other than the baseline's, for a client to handle.
  publisher.transition(Phase::running);
  EXPECT_NE(sub.state().seq, sub.joined_state().seq);
}

// Every client acks `running` right after its after-restore ack; `status` must still show the hooks
// the restore ran, and a failure with its message.
TEST_F(SubscriberTest, AnAckOfAQuietPhaseKeepsTheLastHookRecord) {
  auto sub = Subscriber::open(path, {.name = "w"});
  const auto restore = publisher.transition(Phase::after_restore);
  sub.acknowledge({.seq = restore.seq,
                   .handled_generation = restore.generation,
                   .outcome = AckOutcome::failed,
                   .hooks_run = 2,
                   .hooks_failed = 1,
                   .message = "reopen-pool: refused"});
  const auto running = publisher.transition(Phase::running);
  sub.acknowledge({.seq = running.seq, .handled_generation = running.generation});

  const SlotInfo slot = read_slots(sub.segment()).at(0);
  EXPECT_EQ(slot.acked_seq, running.seq) << "the ack itself is written";
  EXPECT_EQ(slot.outcome, AckOutcome::failed);
  EXPECT_EQ(slot.hooks_run, 2U);
  EXPECT_EQ(slot.hooks_failed, 1U);
  EXPECT_EQ(slot.message, "reopen-pool: refused");
}

TEST_F(SubscriberTest, AnAckWithSomethingToSayIsWrittenWhole) {
  auto sub = Subscriber::open(path, {.name = "w"});
  // The first ack of a slot just claimed: its outcome was none, and is now ok.
  const auto first = publisher.transition(Phase::running);
  sub.acknowledge({.seq = first.seq, .handled_generation = first.generation});
  EXPECT_EQ(read_slots(sub.segment()).at(0).outcome, AckOutcome::ok);

  const auto restore = publisher.transition(Phase::after_restore);
  sub.acknowledge({.seq = restore.seq, .handled_generation = restore.generation, .hooks_run = 2});
  const auto hooks_of = [&sub] { return read_slots(sub.segment()).at(0).hooks_run; };

  // A hook phase whose hooks are none: 0 is what happened.
  const auto before = publisher.transition(Phase::before_snapshot);
  sub.acknowledge({.seq = before.seq, .handled_generation = before.generation});
  EXPECT_EQ(hooks_of(), 0U);

  // A quiet phase reached with a restore still to run here (caught up at the ack): hooks ran.
  sub.acknowledge({.seq = before.seq, .handled_generation = before.generation, .hooks_run = 1});
  publisher.transition(Phase::after_restore);
  const auto running = publisher.transition(Phase::running);
  sub.acknowledge({.seq = running.seq, .handled_generation = running.generation, .hooks_run = 3});
  EXPECT_EQ(hooks_of(), 3U);

  // A new generation handled, even with no hook: the restore ran none here.
  publisher.transition(Phase::after_restore);
  const auto next_running = publisher.transition(Phase::running);
  sub.acknowledge({.seq = next_running.seq, .handled_generation = next_running.generation});
  EXPECT_EQ(hooks_of(), 0U);

  // An ack for a change that is no longer the current one: its phase is not known here.
  sub.acknowledge({.seq = next_running.seq, .handled_generation = next_running.generation, .hooks_run = 4});
  const auto quiet = publisher.transition(Phase::snapshot_ready);
  publisher.transition(Phase::running);
  sub.acknowledge({.seq = quiet.seq, .handled_generation = quiet.generation});
  EXPECT_EQ(hooks_of(), 0U);

  // A hook noted as running, then an ack that reports nothing: the note must not stay.
  const auto last = publisher.transition(Phase::running);
  sub.note_running_hook("after-restore", "db");
  EXPECT_EQ(running_hook_of(read_slots(sub.segment()).at(0)), "after-restore hook 'db'");
  sub.acknowledge({.seq = last.seq, .handled_generation = last.generation});
  EXPECT_EQ(running_hook_of(read_slots(sub.segment()).at(0)), std::nullopt);
  EXPECT_EQ(read_slots(sub.segment()).at(0).message, "");
}

// Two threads of one process may each run hooks and ack: the one that ends last may hold the
// older change. Its ack must not move the slot back to a change the publisher saw acknowledged.
TEST_F(SubscriberTest, AnAckOlderThanTheSlotsLastIsDropped) {
  auto sub = Subscriber::open(path, {.name = "w"});
  const auto before = publisher.transition(Phase::before_snapshot);
  const auto restore = publisher.transition(Phase::after_restore);
  EXPECT_EQ(sub.acknowledge({.seq = restore.seq, .handled_generation = restore.generation, .hooks_run = 1}),
            std::nullopt);
  const auto notice = sub.acknowledge({.seq = before.seq,
                                       .handled_generation = before.generation,
                                       .outcome = AckOutcome::failed,
                                       .hooks_run = 1,
                                       .hooks_failed = 1,
                                       .message = "late"});
  ASSERT_TRUE(notice.has_value());
  EXPECT_NE(notice->find("seq " + std::to_string(before.seq) + " came after this slot's ack for seq " +
                         std::to_string(restore.seq)),
            std::string::npos)
      << *notice;
  EXPECT_EQ(sub.last_notice(), *notice);
  const SlotInfo slot = read_slots(sub.segment()).at(0);
  EXPECT_EQ(slot.acked_seq, restore.seq);
  EXPECT_EQ(slot.handled_generation, restore.generation);
  EXPECT_EQ(slot.outcome, AckOutcome::ok);
  EXPECT_EQ(slot.message, "");
  // The same change acknowledged again is no older: it is written.
  sub.acknowledge({.seq = restore.seq, .handled_generation = restore.generation, .hooks_run = 2});
  EXPECT_EQ(read_slots(sub.segment()).at(0).hooks_run, 2U);
  EXPECT_EQ(sub.last_notice(), "");
}

TEST_F(SubscriberTest, WaitTimesOutWithoutChange) {
  auto sub = Subscriber::open(path, {});
  EXPECT_EQ(sub.wait_for_change(sub.seq(), FutexClock::now() + 20ms), FutexResult::timed_out);
  EXPECT_EQ(sub.wait_for_change(sub.seq() + 2, FutexClock::now() + 5s), FutexResult::value_changed);
}

TEST_F(SubscriberTest, DefaultNameIsTheProcessComm) {
  auto sub = Subscriber::open(path, {});
  EXPECT_FALSE(read_slots(sub.segment())[0].name.empty());
}

TEST_F(SubscriberTest, ForkedChildClaimsItsOwnSlotAndKeepsTheParents) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();  // the parent's Subscriber runs a thread
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  auto sub = Subscriber::open(path, {.name = "parent"});
  const auto parent_slot = sub.slot_index();
  auto child = testing::fork_child([&] {
    sub.claim_after_fork();
    if (sub.slot_index() == parent_slot) return 2;
    const StateSnapshot now = sub.state();
    sub.acknowledge({.seq = now.seq, .handled_generation = now.generation, .hooks_run = 1});
    return 0;  // the destructor is skipped by _exit; the slot is reaped as dead later
  });
  ASSERT_EQ(child.wait_exit_code(5s), 0);
  const auto slots = read_slots(sub.segment());
  ASSERT_EQ(slots.size(), 2U);
  EXPECT_EQ(slots[0].owner.pid, ::getpid());
  EXPECT_EQ(slots[0].index, parent_slot);
  EXPECT_NE(slots[1].owner.pid, ::getpid());
  EXPECT_EQ(slots[1].name, "parent");
}

// A child forked by the hooks of a change (a pool worker a hook starts) and ended before it could
// do anything: its slot was born acknowledging the change, so it is no death to the publisher.
// With claim_after_fork() the same child is reported as died (checked below, as the baseline).
// Truncated under a long wait: the monitor's wake reaches the zero page that replaced the word's,
// not the wait; its next slice sees the loss. (Deleted or replaced, it wakes at once.) The deadline
// only bounds the test if the slicing were broken.
TEST_F(SubscriberTest, AWaitOnASegmentTruncatedUnderItEndsWithinASlice) {
  auto sub = Subscriber::open(path, {.name = "w"});
  const std::uint32_t seen = sub.joined_state().seq;
  std::atomic<bool> waiting{false};
  auto wait = std::async(std::launch::async, [&] {
    waiting = true;
    return sub.wait_for_change(seen, FutexClock::now() + 60s);
  });
  while (!waiting) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);  // asleep in the kernel, most likely
  std::filesystem::resize_file(path, 0);
  ASSERT_EQ(wait.wait_for(kLossCheckSlice * 10), std::future_status::ready) << "the wait never noticed the loss";
  EXPECT_EQ(wait.get(), FutexResult::interrupted);
  EXPECT_TRUE(sub.lost());
}

TEST_F(SubscriberTest, AChildClaimedWithinAChangeAndEndedAtOnceHasAcknowledgedIt) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();  // the parent's Subscriber runs a thread
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  auto sub = Subscriber::open(path, {.name = "hooks", .wait_for_ack = true});
  const StateSnapshot change = publisher.transition(Phase::after_restore);
  // Forked while the parent's hooks run: the parent has not acknowledged the change yet.
  const auto fork_and_end = [&](bool within_change) {
    auto child = testing::fork_child([&] {
      if (within_change) {
        sub.claim_after_fork_within_change(change.seq, change.generation);
      } else {
        sub.claim_after_fork();
      }
      return 0;  // ended at once: no ack, no destructor
    });
    const pid_t pid = child.pid();
    EXPECT_EQ(child.wait_exit_code(5s), 0);
    return pid;
  };
  const pid_t claimed_within = fork_and_end(true);
  const pid_t claimed_plainly = fork_and_end(false);
  sub.acknowledge({.seq = change.seq, .handled_generation = change.generation, .hooks_run = 1});

  const AckReport report = publisher.wait_for_acks(change.seq, FutexClock::now() + 5s);
  std::map<pid_t, std::string> status;
  for (const AckEntry& entry : report.entries) status[entry.slot.owner.pid] = ack_status_name(entry.status);
  EXPECT_EQ(status[::getpid()], "acked");
  EXPECT_EQ(status[claimed_within], "acked");
  // Claimed plainly, it owes the change an ack; ended before it started a hook, it is no failure.
  EXPECT_EQ(status[claimed_plainly], "ended");
  EXPECT_TRUE(report.all_ok());
}

// A parent that dies while the child it forked lives on is dead to the publisher. The child's
// copies of the parent's mappings used to keep the parent's open file description alive, and
// with it the parent's slot lock: the dead parent looked alive, and a publish would wait for it.
TEST_F(SubscriberTest, AParentThatDiesBeforeItsForkedChildIsNoLongerHeldAlive) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();  // the parent's Subscriber runs a thread
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  int ready[2];
  int stop[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  auto parent = testing::fork_child([&] {
    auto sub = Subscriber::open(path, {.name = "parent"});
    const pid_t child = ::fork();
    if (child < 0) return 2;
    if (child == 0) {
      sub.claim_after_fork();
      ::close(stop[1]);  // only the test's end keeps the pipe open
      const pid_t self = ::getpid();
      if (::write(ready[1], &self, sizeof self) != sizeof self) ::_exit(3);
      pollfd until_stopped{.fd = stop[0], .events = POLLIN, .revents = 0};
      ::poll(&until_stopped, 1, 20'000);  // the test closes its end (or gives up)
      ::_exit(0);
    }
    pid_t reported = 0;
    pollfd answer{.fd = ready[0], .events = POLLIN, .revents = 0};
    if (::poll(&answer, 1, 10'000) != 1 || ::read(ready[0], &reported, sizeof reported) != sizeof reported) return 4;
    ::_exit(0);  // dies with its slot claimed: no destructor runs
  });
  const pid_t parent_pid = parent.pid();
  ASSERT_EQ(parent.wait_exit_code(10s), 0);
  ::close(stop[0]);

  auto parent_alive = [&] {
    for (const SlotInfo& slot : read_slots(publisher.segment())) {
      if (slot.owner.pid == parent_pid) return slot.alive;
    }
    ADD_FAILURE() << "the dead parent's slot is gone: nothing to check";
    return false;
  };
  // The kernel drops a dead process's locks as its descriptions go: give that a moment.
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (parent_alive() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(parent_alive()) << "the dead parent's slot lock lives on in its child";
  std::size_t alive = 0;
  for (const SlotInfo& slot : read_slots(publisher.segment())) alive += slot.alive ? 1 : 0;
  EXPECT_EQ(alive, 1U) << "the child, still running, holds its own slot";
  ::close(stop[1]);
  ::close(ready[0]);
  ::close(ready[1]);
}

// A child that acks without having claimed its own slot gets one claimed for it (and is told),
// and never writes or frees the parent's.
TEST_F(SubscriberTest, ChildThatNeverClaimedGetsItsOwnSlotOnAckAndLeavesTheParentsAlone) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();  // the parent's Subscriber runs a thread
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  auto sub = Subscriber::open(path, {.name = "parent"});
  const std::uint32_t parent_slot = sub.slot_index();
  auto child = testing::fork_child([&] {
    const std::optional<std::string> notice = sub.acknowledge({.seq = 0});
    if (!notice || notice->find("forked") == std::string::npos) return 2;
    if (sub.slot_index() == parent_slot) return 3;
    Subscriber gone = std::move(sub);  // destroyed at scope end, in the child: frees the child's slot
    return 0;
  });
  ASSERT_EQ(child.wait_exit_code(5s), 0);
  const auto slots = read_slots(sub.segment());
  ASSERT_EQ(slots.size(), 1U);
  EXPECT_EQ(slots[0].owner.pid, ::getpid());
  EXPECT_EQ(slots[0].index, parent_slot);
}

// A slot freed while its owner lives (what a restore that drops file locks leads to) is claimed
// again on the next ack, which then counts; the subscriber is told what happened.
TEST_F(SubscriberTest, SlotFreedWhileAliveIsClaimedAgainOnAck) {
  auto sub = Subscriber::open(path, {.name = "restored"});
  const std::uint32_t first = sub.slot_index();
  // Free it behind the owner's back, as a reaper would had the lock been lost.
  Segment writer = Segment::open(path, SegmentAccess::publish);
  writer.mutable_slot(first).pid.store(0);
  const StateSnapshot now = publisher.transition(Phase::after_restore);
  const std::optional<std::string> notice =
      sub.acknowledge({.seq = now.seq, .handled_generation = now.generation, .hooks_run = 1});
  ASSERT_TRUE(notice.has_value());
  EXPECT_NE(notice->find("was freed while pid"), std::string::npos) << *notice;
  const AckReport report = publisher.wait_for_acks(now.seq, FutexClock::now() + 5s);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::acked);
}

TEST_F(SubscriberTest, KnowsWhetherThePublisherLives) {
  auto sub = Subscriber::open(path, {});
  EXPECT_TRUE(sub.publisher_alive());
}

// What a reader copies out of a slot belongs to one write by its owner: never one ack's outcome
// with the next ack's message, nor a message mixed from two. One thread acknowledges and notes
// running hooks, each write's fields derived from its number and each message long enough to take
// many words to store; another reads the table and checks every copy. The writer pauses a moment
// after each pair, as a real owner does between changes: one that wrote without pause would leave a
// reader slower than its writes (under a sanitizer) no quiet moment to copy in.
TEST_F(SubscriberTest, AReaderNeverSeesFieldsOfTwoWritesMixed) {
  auto sub = Subscriber::open(path, {.name = "writer", .wait_for_ack = false});
  const std::uint32_t claimed_at = sub.joined_state().seq;
  auto ack_text = [](std::uint32_t n) {
    std::string text;
    while (text.size() < 400) text += "ack " + std::to_string(n) + "; ";
    return text;
  };
  std::atomic<bool> stop{false};
  std::atomic<std::uint32_t> writes{0};
  std::thread writer([&] {
    for (std::uint32_t n = claimed_at + 1; !stop.load(std::memory_order_relaxed); ++n) {
      sub.acknowledge({.seq = n,
                       .handled_generation = n,
                       .outcome = n % 2 == 0 ? AckOutcome::ok : AckOutcome::failed,
                       .hooks_run = static_cast<std::uint16_t>(n % 1000),
                       .hooks_failed = static_cast<std::uint16_t>(n % 2),
                       .message = ack_text(n)});
      sub.note_running_hook("after-restore", "hook-" + std::to_string(n + 1));
      writes.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(10us);
    }
  });
  std::uint64_t reads = 0;
  std::uint64_t mixed = 0;
  std::string first_mixed;
  // At least 500 ms, and on until both sides have done a thousand (a loaded machine under a sanitizer
  // gave the writer 615 turns in 500 ms), for at most 10 s.
  const auto start = std::chrono::steady_clock::now();
  const auto enough = [&] {
    const auto now = std::chrono::steady_clock::now();
    return now >= start + 10s || (now >= start + 500ms && writes.load() > 1000U && reads > 1000U);
  };
  while (!enough()) {
    for (const SlotInfo& slot : read_slots(publisher.segment(), Liveness::skip)) {
      const std::uint32_t n = slot.acked_seq;
      if (n == claimed_at) continue;  // as claimed, before the first ack
      ++reads;
      const bool fields_agree = slot.handled_generation == n && slot.hooks_run == n % 1000 &&
                                slot.hooks_failed == n % 2 &&
                                slot.outcome == (n % 2 == 0 ? AckOutcome::ok : AckOutcome::failed);
      const std::optional<std::string> running = running_hook_of(slot);
      const bool message_agrees =
          running ? *running == "after-restore hook 'hook-" + std::to_string(n + 1) + "'" : slot.message == ack_text(n);
      if (!fields_agree || !message_agrees) {
        if (mixed++ == 0) {
          first_mixed = "acked_seq " + std::to_string(n) + " read with handled_generation " +
                        std::to_string(slot.handled_generation) + ", hooks_run " + std::to_string(slot.hooks_run) +
                        " and message '" + slot.message.substr(0, 60) + "...'";
        }
      }
    }
  }
  stop = true;
  writer.join();
  EXPECT_EQ(mixed, 0U) << "of " << reads << " reads; the first: " << first_mixed;
  // The race was there to be seen: the record was rewritten many times while being read.
  EXPECT_GT(writes.load(), 1000U);
  EXPECT_GT(reads, 1000U);
}

}  // namespace
}  // namespace snapbus
