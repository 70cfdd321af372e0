#include "snapbus/subscriber_join.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <optional>
#include <thread>
#include <vector>

#include "snapbus/publisher.h"
#include "snapbus/subscriber.h"
#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus::lifecycle {
namespace {

using namespace std::chrono_literals;

class SubscriberJoinTest : public ::testing::Test {
 protected:
  testing::ScratchDirectory dir;
  std::filesystem::path path = dir.path() / "bus.seg";
  Publisher publisher = Publisher::acquire({.path = path, .slot_count = 8});
};

TEST_F(SubscriberJoinTest, CountsOnlyTheSubscribersThatWantToBeWaitedFor) {
  auto waited = Subscriber::open(path, {.name = "worker"});
  auto watcher = Subscriber::open(path, {.name = "observer", .wait_for_ack = false});
  EXPECT_EQ(count_waited_for(publisher.segment()), 1U);
}

TEST_F(SubscriberJoinTest, ReachedAtOnceWhenEnoughAreThere) {
  auto first = Subscriber::open(path, {.name = "a"});
  auto second = Subscriber::open(path, {.name = "b"});
  const auto started = FutexClock::now();
  const JoinOutcome outcome = wait_for_subscribers(publisher.segment(), {.at_least = 2}, started + 10s);
  EXPECT_TRUE(outcome.reached);
  EXPECT_EQ(outcome.count, 2U);
  EXPECT_LT(FutexClock::now() - started, 5s);
}

TEST_F(SubscriberJoinTest, GivesUpAtTheDeadlineSayingHowManyCame) {
  auto only = Subscriber::open(path, {.name = "only"});
  const auto started = FutexClock::now();
  std::vector<std::size_t> progress;
  const JoinOutcome outcome = wait_for_subscribers(
      publisher.segment(), {.at_least = 3}, started + 250ms, nullptr,
      [&progress](std::size_t count) { progress.push_back(count); }, 50ms);
  EXPECT_FALSE(outcome.reached);
  EXPECT_EQ(outcome.count, 1U);
  EXPECT_GE(FutexClock::now() - started, 250ms);
  // Once an interval, from the first interval's end: about 4 in 250 ms (fewer on a slow machine).
  EXPECT_GE(progress.size(), 1U);
  EXPECT_LE(progress.size(), 5U);
  EXPECT_EQ(std::count(progress.begin(), progress.end(), 1U), static_cast<std::ptrdiff_t>(progress.size()));
}

TEST_F(SubscriberJoinTest, ALateJoinerFromAnotherProcessIsWaitedFor) {
  // Forked before this process subscribes: a child forked from a parent with threads (every
  // Subscriber runs one) can deadlock under AddressSanitizer.
  auto late = testing::fork_child([&] {
    std::this_thread::sleep_for(50ms);
    auto subscriber = Subscriber::open(path, {.name = "late"});
    std::this_thread::sleep_for(60s);  // killed by the test
    return 0;
  });
  auto early = Subscriber::open(path, {.name = "early"});
  const JoinOutcome outcome = wait_for_subscribers(publisher.segment(), {.at_least = 2}, FutexClock::now() + 20s);
  EXPECT_TRUE(outcome.reached);
  EXPECT_EQ(outcome.count, 2U);
}

// The count falls short because a worker subscribed and then died: the outcome names it.
TEST_F(SubscriberJoinTest, ASubscriberThatDiedIsNamedWhenTheCountFallsShort) {
  // Forked before this process subscribes (see above).
  auto crashed = testing::fork_child([&] {
    auto subscriber = Subscriber::open(path, {.name = "crashed"});
    ::kill(::getpid(), SIGKILL);  // dies holding its slot
    return 0;
  });
  const int status = crashed.wait_status(20s);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  auto only = Subscriber::open(path, {.name = "only"});
  const JoinOutcome outcome = wait_for_subscribers(publisher.segment(), {.at_least = 2}, FutexClock::now() + 50ms);
  EXPECT_FALSE(outcome.reached);
  EXPECT_EQ(outcome.count, 1U);
  ASSERT_EQ(outcome.departed.size(), 1U);
  EXPECT_EQ(outcome.departed[0].name, "crashed");
}

// "Count stable for a settle time": a joiner restarts the clock, so the wait ends stable_for after
// the last change, not after the first look.
TEST_F(SubscriberJoinTest, StableForRestartsWhenTheCountChanges) {
  const auto started = FutexClock::now();
  // Forked before this process subscribes (see above).
  auto late = testing::fork_child([&] {
    std::this_thread::sleep_for(100ms);
    auto subscriber = Subscriber::open(path, {.name = "late"});
    std::this_thread::sleep_for(60s);  // killed by the test
    return 0;
  });
  auto early = Subscriber::open(path, {.name = "early"});
  const JoinOutcome outcome =
      wait_for_subscribers(publisher.segment(), {.at_least = 1, .stable_for = 1500ms}, started + 20s);
  ASSERT_TRUE(outcome.reached);
  // The late one joins 100 ms in (well within the 1.5 s) and restarts the clock.
  ASSERT_EQ(outcome.count, 2U) << "the late subscriber took over 1.5 s to join";
  EXPECT_GE(FutexClock::now() - started, 1600ms);
}

}  // namespace
}  // namespace snapbus::lifecycle
