#include "snapbus/snapbus.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "snapbus/publisher.h"
#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

class CAbiTest : public ::testing::Test {
 protected:
  testing::ScratchDirectory dir;
  std::string path = (dir.path() / "bus.seg").string();
};

TEST_F(CAbiTest, MissingSegmentIsNotFoundWithAMessage) {
  snapbus_subscriber* sub = reinterpret_cast<snapbus_subscriber*>(0x1);
  EXPECT_EQ(snapbus_subscriber_open(path.c_str(), "x", 1, &sub), SNAPBUS_ERR_NOT_FOUND);
  EXPECT_EQ(sub, nullptr);
  EXPECT_NE(std::string(snapbus_last_error_message()).find(path), std::string::npos);
  EXPECT_EQ(snapbus_last_error_errno(), ENOENT);
  EXPECT_STREQ(snapbus_status_name(SNAPBUS_ERR_NOT_FOUND), "not_found");
  EXPECT_STREQ(snapbus_status_name(12345), "unknown");
}

TEST_F(CAbiTest, NullArgumentsAreErrorsNotCrashes) {
  EXPECT_EQ(snapbus_subscriber_open(path.c_str(), "x", 1, nullptr), SNAPBUS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(snapbus_subscriber_read_state(nullptr, nullptr), SNAPBUS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(snapbus_subscriber_wait(nullptr, 0, 0, nullptr), SNAPBUS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(snapbus_subscriber_ack(nullptr, 0, 0, SNAPBUS_ACK_OK, 0, 0, nullptr), SNAPBUS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(snapbus_subscriber_generation(nullptr), 0U);
  EXPECT_EQ(snapbus_subscriber_generation_address(nullptr), nullptr);
  snapbus_subscriber_close(nullptr);
}

TEST_F(CAbiTest, DefaultPathComesFromTheEnvironment) {
  char buf[512];
  ::setenv("SNAPBUS_SEGMENT", path.c_str(), 1);
  ASSERT_EQ(snapbus_default_segment_path(buf, sizeof buf), SNAPBUS_OK);
  EXPECT_EQ(std::string(buf), path);
  EXPECT_EQ(snapbus_default_segment_path(buf, 4), SNAPBUS_ERR_INVALID_ARGUMENT);
  ::unsetenv("SNAPBUS_SEGMENT");
  ASSERT_EQ(snapbus_default_segment_path(buf, sizeof buf), SNAPBUS_OK);
  EXPECT_STREQ(buf, "/tmp/snapbus.seg");
}

TEST_F(CAbiTest, SubscribeReadWaitAck) {
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  snapbus_subscriber* sub = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), "c-client", 1, &sub), SNAPBUS_OK) << snapbus_last_error_message();
  const volatile uint64_t* generation = snapbus_subscriber_generation_address(sub);
  EXPECT_EQ(*generation, 0U);

  snapbus_state state{};
  ASSERT_EQ(snapbus_subscriber_read_state(sub, &state), SNAPBUS_OK);
  uint32_t seq = 0;
  EXPECT_EQ(snapbus_subscriber_wait(sub, state.seq, 10, &seq), SNAPBUS_ERR_TIMED_OUT);

  snapbus_state joined{};
  ASSERT_EQ(snapbus_subscriber_joined_state(sub, &joined), SNAPBUS_OK);
  EXPECT_EQ(joined.seq, state.seq);
  EXPECT_EQ(snapbus_subscriber_joined_state(nullptr, &joined), SNAPBUS_ERR_INVALID_ARGUMENT);

  const auto restored = publisher.transition(Phase::after_restore);
  EXPECT_EQ(*generation, 1U) << "the mapped word follows without a call";
  EXPECT_EQ(snapbus_subscriber_generation(sub), 1U);
  ASSERT_EQ(snapbus_subscriber_wait(sub, state.seq, 1000, &seq), SNAPBUS_OK);
  EXPECT_EQ(seq, restored.seq);
  ASSERT_EQ(snapbus_subscriber_read_state(sub, &state), SNAPBUS_OK);
  EXPECT_EQ(state.phase, static_cast<uint32_t>(SNAPBUS_PHASE_AFTER_RESTORE));
  EXPECT_STREQ(snapbus_phase_name(state.phase), "after-restore");
  EXPECT_EQ(state.restore_id_high, restored.restore_id_high);

  ASSERT_EQ(snapbus_subscriber_ack(sub, state.seq, 1, SNAPBUS_ACK_FAILED, 2, 1, "after-restore hook 'x' failed"),
            SNAPBUS_OK);
  const AckReport report = publisher.wait_for_acks(state.seq, FutexClock::now() + 1s);
  ASSERT_EQ(report.entries.size(), 1U);
  EXPECT_EQ(report.entries[0].status, AckStatus::failed);
  EXPECT_EQ(report.entries[0].slot.message, "after-restore hook 'x' failed");
  EXPECT_EQ(report.entries[0].slot.name, "c-client");

  EXPECT_EQ(snapbus_subscriber_ack(sub, state.seq, 1, 7, 0, 0, nullptr), SNAPBUS_ERR_INVALID_ARGUMENT);
  // An ack ahead of what was published would count for changes to come: refused, and nothing written.
  EXPECT_EQ(snapbus_subscriber_ack(sub, state.seq + 100, 99, SNAPBUS_ACK_OK, 0, 0, nullptr),
            SNAPBUS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(snapbus_last_error_message()).find("was never published"), std::string::npos);
  // Half the seq space away reads as ahead as much as behind: refused too.
  EXPECT_EQ(snapbus_subscriber_ack(sub, state.seq + 0x80000000U, 1, SNAPBUS_ACK_OK, 0, 0, nullptr),
            SNAPBUS_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(read_slots(publisher.segment()).front().acked_seq, state.seq);
  int alive = 0;
  ASSERT_EQ(snapbus_subscriber_publisher_alive(sub, &alive), SNAPBUS_OK);
  EXPECT_EQ(alive, 1);
  snapbus_subscriber_close(sub);
  EXPECT_TRUE(read_slots(publisher.segment()).empty());
}

// `python -m snapbus state` reads through this: it must answer when every slot is taken, as
// `snapbus status` does, and take none itself.
TEST_F(CAbiTest, ReadSegmentStateClaimsNoSlot) {
  snapbus_state state{};
  EXPECT_EQ(snapbus_read_segment_state(path.c_str(), &state), SNAPBUS_ERR_NOT_FOUND);
  auto publisher = Publisher::acquire({.path = path, .slot_count = 1});
  const auto restored = publisher.transition(Phase::after_restore);
  snapbus_subscriber* sub = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), "only-slot", 1, &sub), SNAPBUS_OK) << snapbus_last_error_message();

  ASSERT_EQ(snapbus_read_segment_state(path.c_str(), &state), SNAPBUS_OK) << snapbus_last_error_message();
  EXPECT_EQ(state.seq, restored.seq);
  EXPECT_EQ(state.generation, 1U);
  EXPECT_EQ(state.phase, static_cast<uint32_t>(SNAPBUS_PHASE_AFTER_RESTORE));
  EXPECT_EQ(state.slot_index, UINT32_MAX);
  EXPECT_EQ(read_slots(publisher.segment()).size(), 1U);
  EXPECT_EQ(snapbus_read_segment_state(path.c_str(), nullptr), SNAPBUS_ERR_INVALID_ARGUMENT);

  ASSERT_EQ(::truncate(path.c_str(), 64), 0);
  EXPECT_EQ(snapbus_read_segment_state(path.c_str(), &state), SNAPBUS_ERR_INVALID_SEGMENT);
  snapbus_subscriber_close(sub);
}

TEST_F(CAbiTest, WakeInterruptsAWaitWithoutAChange) {
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  snapbus_subscriber* sub = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), nullptr, 0, &sub), SNAPBUS_OK);
  snapbus_state state{};
  ASSERT_EQ(snapbus_subscriber_read_state(sub, &state), SNAPBUS_OK);
  std::atomic<int> result{-1};
  std::thread waiter([&] { result = snapbus_subscriber_wait(sub, state.seq, 5000, nullptr); });
  // Keep waking until the waiter returns: a wake sent before it blocks is lost.
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (result == -1 && std::chrono::steady_clock::now() < give_up) {
    snapbus_subscriber_wake(sub);
    std::this_thread::sleep_for(2ms);
  }
  waiter.join();
  EXPECT_EQ(result, SNAPBUS_ERR_INTERRUPTED);
  snapbus_subscriber_close(sub);
}

// A hook runner's wait sleeps through running and wakes for after-restore. It is blocked in the
// kernel before anything is published; running then stays published for 100 ms, far longer than a
// wake takes.
TEST_F(CAbiTest, AWaitForHookPhasesSleepsThroughRunning) {
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  snapbus_subscriber* sub = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), nullptr, 0, &sub), SNAPBUS_OK);
  snapbus_state state{};
  ASSERT_EQ(snapbus_subscriber_read_state(sub, &state), SNAPBUS_OK);
  EXPECT_EQ(snapbus_subscriber_wait_for(sub, state.seq, 10, 7, nullptr), SNAPBUS_ERR_INVALID_ARGUMENT);

  std::atomic<pid_t> tid{0};
  std::atomic<int> result{-1};
  uint32_t woke_at = 0;
  std::thread waiter([&] {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    result = snapbus_subscriber_wait_for(sub, state.seq, 5000, SNAPBUS_WAKE_ON_HOOK_PHASES, &woke_at);
  });
  auto blocked = [&tid] {
    std::ifstream in("/proc/self/task/" + std::to_string(tid.load()) + "/syscall");
    long number = -1;
    in >> number;
    return number == SYS_futex;
  };
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while ((tid == 0 || !blocked()) && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  const bool was_blocked = tid != 0 && blocked();
  publisher.transition(Phase::running);
  std::this_thread::sleep_for(100ms);
  const int after_running = result.load();
  const auto restored = publisher.transition(Phase::after_restore);
  waiter.join();
  ASSERT_TRUE(was_blocked);
  EXPECT_EQ(after_running, -1) << "woken by running";
  EXPECT_EQ(result, SNAPBUS_OK);
  EXPECT_EQ(woke_at, restored.seq);
  snapbus_subscriber_close(sub);
}

TEST_F(CAbiTest, WaitForSegmentTimesOutThenSeesIt) {
  EXPECT_EQ(snapbus_wait_for_segment(path.c_str(), 10), SNAPBUS_ERR_TIMED_OUT);
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  EXPECT_EQ(snapbus_wait_for_segment(path.c_str(), 10), SNAPBUS_OK);
}

TEST_F(CAbiTest, ForkedChildGetsItsOwnSlot) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();  // the parent's subscriber runs a thread
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  snapbus_subscriber* sub = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), "forky", 1, &sub), SNAPBUS_OK);
  auto child = testing::fork_child([&] {
    if (snapbus_subscriber_after_fork_child(sub) != SNAPBUS_OK) return 2;
    snapbus_state state{};
    if (snapbus_subscriber_read_state(sub, &state) != SNAPBUS_OK) return 3;
    return static_cast<int>(state.slot_index) + 10;
  });
  snapbus_state mine{};
  ASSERT_EQ(snapbus_subscriber_read_state(sub, &mine), SNAPBUS_OK);
  const int code = child.wait_exit_code(5s);
  EXPECT_GE(code, 10);
  EXPECT_NE(code - 10, static_cast<int>(mine.slot_index));
  snapbus_subscriber_close(sub);
}

// A child a hook forks claims its slot already acknowledging the change in progress: ended at once,
// it is no death to the publisher. A seq never published is refused, as in an ack.
TEST_F(CAbiTest, AChildForkedWithinAChangeIsBornAcknowledgingIt) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();  // the parent's subscriber runs a thread
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  snapbus_subscriber* sub = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), "pool", 1, &sub), SNAPBUS_OK);
  const StateSnapshot change = publisher.transition(Phase::after_restore);
  EXPECT_EQ(snapbus_subscriber_after_fork_child_within_change(sub, change.seq + 2, 1), SNAPBUS_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(snapbus_last_error_message()).find("never published"), std::string::npos);
  EXPECT_EQ(snapbus_subscriber_after_fork_child_within_change(nullptr, change.seq, 1), SNAPBUS_ERR_INVALID_ARGUMENT);

  auto child = testing::fork_child([&] {
    return snapbus_subscriber_after_fork_child_within_change(sub, change.seq, change.generation) == SNAPBUS_OK ? 0 : 2;
  });
  const pid_t child_pid = child.pid();
  ASSERT_EQ(child.wait_exit_code(5s), 0);
  ASSERT_EQ(snapbus_subscriber_ack(sub, change.seq, change.generation, SNAPBUS_ACK_OK, 0, 0, nullptr), SNAPBUS_OK);
  const AckReport report = publisher.wait_for_acks(change.seq, FutexClock::now() + 5s);
  EXPECT_TRUE(report.all_ok());
  bool child_acked = false;
  for (const AckEntry& entry : report.entries) {
    if (entry.slot.owner.pid == child_pid) child_acked = entry.status == AckStatus::acked;
  }
  EXPECT_TRUE(child_acked);
  snapbus_subscriber_close(sub);
}

// A segment truncated under the process reads as zeros: read_state says so instead of returning
// them as a state.
TEST_F(CAbiTest, ReadStateOfATruncatedSegmentIsAnError) {
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  publisher.transition(Phase::after_restore);
  snapbus_subscriber* sub = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), "reader", 1, &sub), SNAPBUS_OK);
  snapbus_state state{};
  ASSERT_EQ(snapbus_subscriber_read_state(sub, &state), SNAPBUS_OK);
  EXPECT_EQ(state.generation, 1U);

  ASSERT_EQ(::truncate(path.c_str(), 64), 0);
  EXPECT_EQ(snapbus_subscriber_read_state(sub, &state), SNAPBUS_ERR_INVALID_SEGMENT);
  EXPECT_NE(std::string(snapbus_last_error_message()).find("was truncated"), std::string::npos)
      << snapbus_last_error_message();
  snapbus_subscriber_close(sub);
}

// A wait that starts a moment after the file was truncated, before the monitor thread has looked,
// finds the segment lost, as the monitor would: never a failed system call (the futex word is no
// longer mapped), never the zeros of the truncated file taken for a change.
// Truncated to 0, the word's page is gone; to 64 bytes, the page stays and reads zeros.
TEST_F(CAbiTest, AWaitJustAfterATruncationFindsTheSegmentLost) {
  for (const off_t size : {0, 64}) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    ::unlink(path.c_str());
    auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
    publisher.transition(Phase::after_restore);
    snapbus_subscriber* sub = nullptr;
    ASSERT_EQ(snapbus_subscriber_open(path.c_str(), "waiter", 1, &sub), SNAPBUS_OK);
    snapbus_state state{};
    ASSERT_EQ(snapbus_subscriber_read_state(sub, &state), SNAPBUS_OK);

    ASSERT_EQ(::truncate(path.c_str(), size), 0);
    const int waited = snapbus_subscriber_wait(sub, state.seq, 5000, nullptr);
    EXPECT_TRUE(waited == SNAPBUS_ERR_INTERRUPTED || waited == SNAPBUS_ERR_INVALID_SEGMENT)
        << waited << ": " << snapbus_last_error_message();
    const char* lost = snapbus_subscriber_lost_reason(sub);
    const std::string reason = lost != nullptr ? lost : "(not lost)";
    EXPECT_NE(reason.find("was truncated"), std::string::npos) << reason;
    EXPECT_EQ(snapbus_subscriber_wait(sub, state.seq, 5000, nullptr), SNAPBUS_ERR_INVALID_SEGMENT);
    snapbus_subscriber_close(sub);
  }
}

// The catch-up rule through the C ABI: a first look before a restore makes that restore due on a
// later attach; what was handled, passed back on re-attach, makes it done; a deleted file is lost.
TEST_F(CAbiTest, CatchUpBaselineAndLostSegment) {
  auto publisher = Publisher::acquire({.path = path, .slot_count = 4});
  ASSERT_EQ(snapbus_first_look(path.c_str()), SNAPBUS_OK);
  publisher.transition(Phase::after_restore);

  snapbus_subscriber* late = nullptr;
  ASSERT_EQ(snapbus_subscriber_open(path.c_str(), "late", 1, &late), SNAPBUS_OK);
  snapbus_handled baseline{};
  ASSERT_EQ(snapbus_subscriber_baseline(late, &baseline), SNAPBUS_OK);
  EXPECT_EQ(baseline.generation, 0U) << "the restore came after this process's first look";
  EXPECT_NE(baseline.inode, 0U);
  EXPECT_EQ(snapbus_subscriber_lost_reason(late), nullptr);
  EXPECT_STREQ(snapbus_subscriber_notice(late), "");
  snapbus_subscriber_close(late);

  baseline.generation = 1;  // handled it since
  snapbus_subscriber* again = nullptr;
  ASSERT_EQ(snapbus_subscriber_open_after(path.c_str(), "again", 1, &baseline, &again), SNAPBUS_OK);
  snapbus_handled now{};
  ASSERT_EQ(snapbus_subscriber_baseline(again, &now), SNAPBUS_OK);
  EXPECT_EQ(now.generation, 1U);

  ASSERT_EQ(::unlink(path.c_str()), 0);
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (snapbus_subscriber_lost_reason(again) == nullptr && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_NE(snapbus_subscriber_lost_reason(again), nullptr);
  EXPECT_NE(std::string(snapbus_subscriber_lost_reason(again)).find("was deleted"), std::string::npos);
  snapbus_state state{};
  ASSERT_EQ(snapbus_subscriber_read_state(again, &state), SNAPBUS_OK);
  const auto started = std::chrono::steady_clock::now();
  // An error to act on, with the reason, not an interruption a caller would retry in a busy loop.
  EXPECT_EQ(snapbus_subscriber_wait(again, state.seq, 5000, nullptr), SNAPBUS_ERR_INVALID_SEGMENT);
  EXPECT_NE(std::string(snapbus_last_error_message()).find("was deleted"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << "a lost segment's wait returns at once";
  snapbus_subscriber_close(again);
}

}  // namespace
}  // namespace snapbus
