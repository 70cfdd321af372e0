#include "snapbus/subscriber.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "snapbus/publisher.h"
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

TEST_F(SubscriberTest, ChildThatNeverClaimedCannotAckOrFreeTheParentsSlot) {
  auto sub = Subscriber::open(path, {.name = "parent"});
  auto child = testing::fork_child([&] {
    try {
      sub.acknowledge({.seq = 0});
      return 2;
    } catch (const Error& e) {
      if (e.code() != Errc::invalid_argument) return 3;
    }
    Subscriber gone = std::move(sub);  // destroyed at scope end, in the child
    return 0;
  });
  ASSERT_EQ(child.wait_exit_code(5s), 0);
  const auto slots = read_slots(sub.segment());
  ASSERT_EQ(slots.size(), 1U);
  EXPECT_EQ(slots[0].owner.pid, ::getpid());
}

TEST_F(SubscriberTest, KnowsWhetherThePublisherLives) {
  auto sub = Subscriber::open(path, {});
  EXPECT_TRUE(sub.publisher_alive());
}

}  // namespace
}  // namespace snapbus
