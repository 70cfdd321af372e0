#include "segment_monitor.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr auto kPatience = 5s;

std::set<pid_t> thread_ids() {
  std::set<pid_t> ids;
  for (const auto& entry : fs::directory_iterator("/proc/self/task")) ids.insert(std::stoi(entry.path().filename()));
  return ids;
}

// How often thread `tid` of this process has gone to sleep: each of its wake-ups adds one.
std::optional<long> voluntary_switches(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  const std::string key = "voluntary_ctxt_switches:";
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  }
  return std::nullopt;
}

bool eventually(const std::atomic<int>& events) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (events.load() == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

class SegmentMonitorTest : public ::testing::Test {
 protected:
  testing::ScratchDirectory dir;
  fs::path path = dir.path() / "bus.seg";
  std::atomic<int> events{0};

  void SetUp() override { write_file(path, std::string(4096, 'x')); }
};

TEST_F(SegmentMonitorTest, TruncationIsAnEvent) {
  SegmentMonitor monitor(path, [this] { ++events; });
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  EXPECT_TRUE(eventually(events));
}

TEST_F(SegmentMonitorTest, DeletionIsAnEvent) {
  SegmentMonitor monitor(path, [this] { ++events; });
  fs::remove(path);
  EXPECT_TRUE(eventually(events));
}

TEST_F(SegmentMonitorTest, ReplacementIsAnEvent) {
  SegmentMonitor monitor(path, [this] { ++events; });
  write_file(dir.path() / "new.seg", "other");
  fs::rename(dir.path() / "new.seg", path);
  EXPECT_TRUE(eventually(events));
}

TEST_F(SegmentMonitorTest, AFileAlreadyGoneIsAnEventAtOnce) {
  fs::remove(path);
  SegmentMonitor monitor(path, [this] { ++events; });
  EXPECT_TRUE(eventually(events));
}

// The segment's directory is /tmp by default, which the app writes as it likes: writes to other
// files there must not wake the monitor thread (each one woke every process's, before). Its
// wake-ups are counted by the kernel; one write every millisecond gives a watched write time to
// wake it each time, so 50 writes would add about 50.
TEST_F(SegmentMonitorTest, WritesToOtherFilesOfTheDirectoryWakeNobody) {
  const std::set<pid_t> before = thread_ids();
  SegmentMonitor monitor(path, [this] { ++events; });
  std::optional<pid_t> monitor_tid;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!monitor_tid && std::chrono::steady_clock::now() < deadline) {
    for (pid_t tid : thread_ids()) {
      if (before.count(tid) == 0) monitor_tid = tid;
    }
  }
  ASSERT_TRUE(monitor_tid.has_value()) << "no monitor thread appeared";
  // Created first: a new name in the directory is an event the monitor must look at.
  const int log = ::open((dir.path() / "app.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ASSERT_GE(log, 0);
  std::this_thread::sleep_for(20ms);  // let it handle that and reach its poll() again
  const std::optional<long> start = voluntary_switches(*monitor_tid);
  ASSERT_TRUE(start.has_value());
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(::write(log, "line\n", 5), 5);
    ::fchmod(log, i % 2 == 0 ? 0640 : 0600);
    std::this_thread::sleep_for(1ms);
  }
  ::close(log);
  std::this_thread::sleep_for(20ms);
  const std::optional<long> end = voluntary_switches(*monitor_tid);
  ASSERT_TRUE(end.has_value());
  EXPECT_LE(*end - *start, 2) << "the monitor thread woke for other files' writes";
  EXPECT_EQ(events.load(), 0);

  // It still wakes for its own file.
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  EXPECT_TRUE(eventually(events));
}

}  // namespace
}  // namespace snapbus
