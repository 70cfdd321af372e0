#include "snapbus/slot_table.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

class SlotTableTest : public ::testing::Test {
 protected:
  testing::ScratchDirectory dir;
  Segment segment = Segment::create(dir.path() / "bus.seg", {.slot_count = 2});
};

TEST_F(SlotTableTest, ClaimRecordsOwnerNameAndBaseline) {
  const ProcessIdentity self = current_process();
  const auto index = claim_slot(segment, self, {.name = "worker"}, {.acked_seq = 6, .handled_generation = 3});
  const auto slots = read_slots(segment);
  ASSERT_EQ(slots.size(), 1U);
  EXPECT_EQ(slots[0].index, index);
  EXPECT_EQ(slots[0].owner.pid, self.pid);
  EXPECT_TRUE(slots[0].alive);
  EXPECT_TRUE(slots[0].wait_for_ack);
  EXPECT_EQ(slots[0].name, "worker");
  EXPECT_EQ(slots[0].acked_seq, 6U);
  EXPECT_EQ(slots[0].handled_generation, 3U);
  release_slot(segment, index, self);
  EXPECT_TRUE(read_slots(segment).empty());
}

TEST_F(SlotTableTest, FullTableIsAnErrorNamingTheFix) {
  const ProcessIdentity self = current_process();
  claim_slot(segment, self, {.name = "a"}, {});
  claim_slot(segment, self, {.name = "b"}, {});
  try {
    claim_slot(segment, self, {.name = "c"}, {});
    FAIL() << "a third slot in a table of two";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::no_free_slot);
    EXPECT_NE(std::string(e.what()).find("SNAPBUS_SLOTS"), std::string::npos);
  }
}

TEST_F(SlotTableTest, DeadOwnersSlotIsReclaimed) {
  auto child = testing::fork_child([&] {
    claim_slot(segment, current_process(), {.name = "x"}, {});
    claim_slot(segment, current_process(), {.name = "y"}, {});
    return 0;
  });
  ASSERT_EQ(child.wait_exit_code(5s), 0);
  ASSERT_EQ(read_slots(segment).size(), 2U);
  EXPECT_FALSE(read_slots(segment)[0].alive);
  EXPECT_NO_THROW(claim_slot(segment, current_process(), {.name = "mine"}, {}));
}

// Liveness is the slot lock, held through the owner's own open file description: while the owner
// runs its slot is held and cannot be reaped, whatever its recorded start time says; once it is
// gone (SIGKILL here) the kernel has dropped the lock and the slot is reaped as died.
TEST_F(SlotTableTest, TheSlotLockDecidesLivenessNotTheRecordedStartTime) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  auto child = testing::fork_child([&] {
    Segment own = Segment::open(segment.path(), SegmentAccess::subscribe);
    claim_slot(own, current_process(), {.name = "owner"}, {});
    char byte = 0;
    return ::read(go[0], &byte, 1) == 1 ? 0 : 1;  // lives until told
  });
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (read_slots(segment, Liveness::skip).empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(read_slots(segment, Liveness::skip).size(), 1U);
  const std::uint32_t index = read_slots(segment).front().index;
  segment.mutable_slot(index).start_time.store(1);  // what a restore does to /proc's start time
  EXPECT_TRUE(slot_held(segment, index));
  EXPECT_TRUE(read_slots(segment).front().alive);
  EXPECT_FALSE(reap_slot_if_departed(segment, index).has_value()) << "a live owner's slot was reaped";

  ::kill(child.pid(), SIGKILL);
  EXPECT_EQ(child.wait_exit_code(5s), 128 + SIGKILL);
  EXPECT_FALSE(slot_held(segment, index));
  const std::optional<SlotInfo> reaped = reap_slot_if_departed(segment, index);
  ASSERT_TRUE(reaped.has_value());
  EXPECT_EQ(reaped->name, "owner");
  EXPECT_FALSE(reaped->still_running);
  EXPECT_TRUE(read_slots(segment).empty());
  ::close(go[0]);
  ::close(go[1]);
}

// A slot freed by one owner and claimed by the next must never show the new pid with what the last
// owner left: a publisher waiting for acks would take the last owner's acked_seq for the newcomer's.
// One thread claims the table's two slots in turn under made-up owners, each claim named after its
// pid with its pid as acked_seq, and frees the older one after each claim (so one slot is always
// owned, and each is freed and claimed again); another reads the table and checks every pid it sees.
TEST_F(SlotTableTest, AReaderNeverSeesANewOwnerWithTheLastOwnersFields) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> claims{0};
  std::thread claimer([&] {
    auto claim = [&](std::uint32_t n) {
      const ProcessIdentity owner{static_cast<pid_t>(100000 + n % 50000), std::uint64_t{n} + 1};
      const auto index = claim_slot(segment, owner, {.name = "p" + std::to_string(owner.pid)},
                                    {.acked_seq = static_cast<std::uint32_t>(owner.pid)});
      claims.fetch_add(1, std::memory_order_relaxed);
      return std::pair{index, owner};
    };
    auto older = claim(0);
    for (std::uint32_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
      const auto newer = claim(n);
      release_slot(segment, older.first, older.second);
      older = newer;
    }
    release_slot(segment, older.first, older.second);
  });
  std::uint64_t owned_reads = 0;
  std::string first_mismatch;
  std::uint64_t mismatches = 0;
  const auto until = std::chrono::steady_clock::now() + 500ms;
  while (std::chrono::steady_clock::now() < until) {
    for (const SlotInfo& slot : read_slots(segment, Liveness::skip)) {
      ++owned_reads;
      const std::string expected = "p" + std::to_string(slot.owner.pid);
      if (slot.name != expected || slot.acked_seq != static_cast<std::uint32_t>(slot.owner.pid)) {
        if (mismatches++ == 0) {
          first_mismatch = "pid " + std::to_string(slot.owner.pid) + " read with name '" + slot.name +
                           "' and acked_seq " + std::to_string(slot.acked_seq);
        }
      }
    }
  }
  stop = true;
  claimer.join();
  EXPECT_EQ(mismatches, 0U) << "of " << owned_reads << " reads of a claimed slot; the first: " << first_mismatch;
  // The race was there to be seen: the slot changed hands many times, and was read while owned.
  EXPECT_GT(claims.load(), 1000U);
  EXPECT_GT(owned_reads, 1000U);
}

// An owner stopped in the middle of writing its record (here: the write is simply never ended) keeps
// the reader from ever finding it quiet: after its few milliseconds of patience it shows the record
// as last read, and says so.
TEST_F(SlotTableTest, ARecordWhoseWriteNeverEndsIsShownMarkedMidWrite) {
  const ProcessIdentity self = current_process();
  const auto index = claim_slot(segment, self, {.name = "stopped"}, {});
  ASSERT_FALSE(read_slots(segment).at(0).mid_write);
  {
    const SlotRecordWrite write(segment.mutable_slot(index));
    const auto started = std::chrono::steady_clock::now();
    const auto slots = read_slots(segment);
    ASSERT_EQ(slots.size(), 1U);
    EXPECT_TRUE(slots[0].mid_write);
    EXPECT_EQ(slots[0].name, "stopped");
    EXPECT_GE(std::chrono::steady_clock::now() - started, 5ms) << "the reader gave up without waiting";
  }
  EXPECT_FALSE(read_slots(segment).at(0).mid_write) << "the write ended";
  release_slot(segment, index, self);
}

TEST_F(SlotTableTest, ReusedPidWithAnotherStartTimeIsDead) {
  ProcessIdentity self = current_process();
  EXPECT_TRUE(process_alive(self));
  self.start_time += 1;
  EXPECT_FALSE(process_alive(self));
  EXPECT_FALSE(process_alive({0, 0}));
}

TEST_F(SlotTableTest, ZombieCountsAsDead) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(0);
  const auto start = process_start_time(pid);
  // Not reaped yet: a zombie until waitpid. Give it a moment to exit (bounded).
  for (int i = 0; i < 500 && process_alive({pid, start.value_or(0)}); ++i) std::this_thread::sleep_for(2ms);
  EXPECT_FALSE(process_alive({pid, start.value_or(0)}));
  ::waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace snapbus
