#include "snapbus/seqlock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "snapbus/error.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;

// A state whose every field is a function of k, so a torn copy (fields from two writes) shows.
StateSnapshot state_for(std::uint64_t k) {
  StateSnapshot s;
  s.phase = static_cast<Phase>(k % kPhaseCount);
  s.init_type = static_cast<InitType>(k % kInitTypeCount);
  s.source = static_cast<TransitionSource>(k % kTransitionSourceCount);
  s.generation = k;
  s.restore_id_high = k * 3;
  s.restore_id_low = ~k;
  s.snapshot_wall_ns = k + 1;
  s.snapshot_mono_ns = k + 2;
  s.restore_wall_ns = k + 3;
  s.restore_mono_ns = k + 4;
  s.changed_wall_ns = k + 5;
  s.publisher_pid = static_cast<std::uint32_t>(k * 7);
  return s;
}

TEST(Seqlock, WriteBumpsSeqByTwoAndReadSeesEveryField) {
  StateRecord record{};
  EXPECT_EQ(write_state(record, state_for(9)), 2U);
  EXPECT_EQ(write_state(record, state_for(10)), 4U);
  StateSnapshot expected = state_for(10);
  expected.seq = 4;
  EXPECT_EQ(read_state(record), expected);
}

TEST(Seqlock, NoTornReadUnderAConcurrentWriter) {
  StateRecord record{};
  write_state(record, state_for(0));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t k = 1; !stop.load(std::memory_order_relaxed); ++k) write_state(record, state_for(k));
  });
  std::vector<std::thread> readers;
  std::atomic<int> torn{0};
  std::atomic<int> went_back{0};
  readers.reserve(2);
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::uint32_t last_seq = 0;
      for (int i = 0; i < 200000; ++i) {
        // Generous patience: on a loaded machine the writer thread can be preempted mid-write for
        // longer than the default, which is about a dead publisher, not a busy one.
        const StateSnapshot got = read_state(record, 30s);
        StateSnapshot expected = state_for(got.generation);
        expected.seq = got.seq;
        if (!(got == expected)) ++torn;
        if (got.seq < last_seq) ++went_back;
        last_seq = got.seq;
      }
    });
  }
  for (auto& reader : readers) reader.join();
  stop = true;
  writer.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(went_back.load(), 0);
  EXPECT_GT(record.seq.load(), 2U) << "the writer never ran, so the test proved nothing";
}

TEST(Seqlock, OddSeqFailsOneAttemptAndBoundsTheRetries) {
  StateRecord record{};
  record.seq.store(3);  // a writer that died mid-write
  EXPECT_FALSE(try_read_state(record).has_value());
  try {
    read_state(record, 20ms);
    FAIL() << "read_state returned on an odd seq";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::timed_out);
    EXPECT_NE(std::string(e.what()).find("mid-write"), std::string::npos);
  }
  EXPECT_EQ(repair_seq(record), 4U);
  EXPECT_TRUE(try_read_state(record).has_value());
  EXPECT_EQ(repair_seq(record), 4U) << "repairing an even seq changes nothing";
}

}  // namespace
}  // namespace snapbus
