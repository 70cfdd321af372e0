// One publisher (`snapbus publish`) and several subscriber processes (example_subscriber): hooks
// run exactly once per process per transition, dead subscribers are reported rather than waited
// for, forked children run their own hooks, and a restarted publisher takes the segment over.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "snapbus/file_contents.h"
#include "spawned_process.h"
#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;
using testing::ExitResult;
using testing::run_to_exit;
using testing::snapbus_binary;
using testing::SpawnedProcess;

constexpr auto kPatience = 20s;

// Kills processes a test learned about only by pid (forked grandchildren), whatever happens.
class KillOnExit {
 public:
  ~KillOnExit() {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
  }
  void add(pid_t pid) { pids_.push_back(pid); }

 private:
  std::vector<pid_t> pids_;
};

class MultiProcessTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string> environment() const { return {{"SNAPBUS_SEGMENT", segment_.string()}}; }

  ExitResult snapbus(std::vector<std::string> args) {
    args.insert(args.begin(), snapbus_binary());
    return run_to_exit(std::move(args), environment(), kPatience);
  }

  SpawnedProcess start_publish(const std::string& phase, const std::string& timeout_ms) {
    return SpawnedProcess({snapbus_binary(), "publish", phase, "--timeout-ms", timeout_ms}, environment());
  }

  // A subscriber that is subscribed (with all its forked children) when this returns.
  SpawnedProcess start_subscriber(const std::string& name, std::vector<std::string> extra = {}) {
    const auto ready = ready_file(name);
    std::vector<std::string> argv{testing::example_subscriber_binary(), "--name", name, "--ready-file", ready.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    SpawnedProcess subscriber(std::move(argv), environment());
    EXPECT_TRUE(testing::wait_for_file(ready, kPatience)) << subscriber.stderr_so_far();
    return subscriber;
  }

  std::filesystem::path ready_file(const std::string& name) const { return dir_.path() / (name + ".ready"); }

  static std::string hook_line(pid_t pid, const std::string& name, const std::string& what) {
    return "[example pid " + std::to_string(pid) + " " + name + "] " + what;
  }

  snapbus::testing::ScratchDirectory dir_;
  std::filesystem::path segment_ = dir_.path() / "segment";
};

TEST_F(MultiProcessTest, EverySubscriberRunsEachHookExactlyOncePerTransitionAndPublishWaitsForAll) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  std::vector<SpawnedProcess> subscribers;
  subscribers.reserve(3);
  for (int i = 0; i < 3; ++i) subscribers.push_back(start_subscriber("sub" + std::to_string(i)));

  const ExitResult snapshot = snapbus({"publish", "before-snapshot"});
  ASSERT_EQ(snapshot.code, 0) << snapshot.stdout_text;
  EXPECT_NE(snapshot.stdout_text.find("waiting for 3 subscribers..."), std::string::npos) << snapshot.stdout_text;
  EXPECT_NE(snapshot.stdout_text.find("now snapshot-ready"), std::string::npos) << snapshot.stdout_text;
  for (int round = 1; round <= 2; ++round) {
    const ExitResult restore = snapbus({"publish", "restore"});
    ASSERT_EQ(restore.code, 0) << restore.stdout_text;
    for (const SpawnedProcess& subscriber : subscribers) {
      EXPECT_NE(restore.stdout_text.find("acked    pid " + std::to_string(subscriber.pid())), std::string::npos)
          << restore.stdout_text;
    }
  }

  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    SpawnedProcess& subscriber = subscribers[i];
    // Publish returned after every ack, and hooks print before they return.
    ASSERT_TRUE(subscriber.wait_for_output("(generation 2)", kPatience)) << subscriber.stdout_so_far();
    const std::string name = "sub" + std::to_string(i);
    EXPECT_EQ(subscriber.count_in_output(hook_line(subscriber.pid(), name, "before-snapshot: closed connections")), 1U)
        << subscriber.stdout_so_far();
    EXPECT_EQ(subscriber.count_in_output(hook_line(subscriber.pid(), name, "after-restore: regenerated token")), 2U)
        << subscriber.stdout_so_far();
  }

  // The last publish moved on to running without waiting for that change's acks (nothing runs on
  // it), so the subscribers ack it a moment later: wait for that, within the patience.
  const auto all_acked = [](const boost::json::object& status) {
    const boost::json::array& slots = status.at("subscribers").as_array();
    return std::all_of(slots.begin(), slots.end(), [](const auto& slot) { return slot.at("acked").as_bool(); });
  };
  boost::json::object status = boost::json::parse(snapbus({"status", "--json"}).stdout_text).as_object();
  for (const auto deadline = std::chrono::steady_clock::now() + kPatience;
       !all_acked(status) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
    status = boost::json::parse(snapbus({"status", "--json"}).stdout_text).as_object();
  }
  EXPECT_EQ(status.at("state").at("generation").to_number<std::int64_t>(), 2);
  const boost::json::array& slots = status.at("subscribers").as_array();
  ASSERT_EQ(slots.size(), 3U);
  for (const boost::json::value& slot : slots) {
    EXPECT_EQ(slot.at("handled_generation").to_number<std::int64_t>(), 2);
    EXPECT_EQ(slot.at("acked").as_bool(), true);
    EXPECT_EQ(slot.at("outcome").as_string(), "ok");
  }
}

TEST_F(MultiProcessTest, ASubscriberKilledMidHookIsReportedAsDeadWithoutWaitingForTheTimeout) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess slow = start_subscriber("slow", {"--slow-hook-ms", "60000"});
  SpawnedProcess quick = start_subscriber("quick");
  const auto started = std::chrono::steady_clock::now();
  SpawnedProcess publish = start_publish("restore", "60000");

  ASSERT_TRUE(slow.wait_for_output("warm-cache started", kPatience)) << slow.stdout_so_far();
  const pid_t slow_pid = slow.pid();
  slow.send_signal(SIGKILL);
  EXPECT_EQ(slow.wait_exit(kPatience).code, 128 + SIGKILL);
  const ExitResult result = publish.wait_exit(kPatience);

  EXPECT_EQ(result.code, 1) << result.stdout_text << result.stderr_text;
  // The point is "not at the 60 s timeout"; the bound is generous for loaded sanitizer runs.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_NE(result.stdout_text.find("DIED     pid " + std::to_string(slow_pid) + " (slow)"), std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("acked    pid " + std::to_string(quick.pid()) + " (quick)"), std::string::npos)
      << result.stdout_text;

  // The dead subscriber's slot was reaped: only the live one is left.
  const boost::json::object status = boost::json::parse(snapbus({"status", "--json"}).stdout_text).as_object();
  const boost::json::array& slots = status.at("subscribers").as_array();
  ASSERT_EQ(slots.size(), 1U);
  EXPECT_EQ(slots[0].at("pid").to_number<pid_t>(), quick.pid());
}

TEST_F(MultiProcessTest, ChildrenForkedAfterSubscribingRunTheirOwnHooks) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess parent = start_subscriber("forky", {"--fork", "2"});
  const std::vector<pid_t> pids = testing::read_pids(ready_file("forky"));
  KillOnExit cleanup;
  for (pid_t pid : pids) cleanup.add(pid);
  ASSERT_EQ(pids.size(), 3U);
  EXPECT_EQ(pids.front(), parent.pid());

  const ExitResult publish = run_to_exit({snapbus_binary(), "publish", "restore", "--json"}, environment(), kPatience);

  ASSERT_EQ(publish.code, 0) << publish.stdout_text << publish.stderr_text;
  std::set<pid_t> acked;
  const boost::json::value result = boost::json::parse(publish.stdout_text);
  for (const boost::json::value& ack : result.at("acks").as_array()) {
    EXPECT_EQ(ack.at("status").as_string(), "acked");
    acked.insert(ack.at("pid").to_number<pid_t>());
  }
  EXPECT_EQ(acked, std::set<pid_t>(pids.begin(), pids.end()));
  for (pid_t pid : pids) {
    EXPECT_TRUE(parent.wait_for_output(hook_line(pid, "forky", "after-restore: regenerated token"), kPatience))
        << parent.stdout_so_far();
  }
  for (pid_t pid : pids) {
    EXPECT_EQ(parent.count_in_output(hook_line(pid, "forky", "after-restore: regenerated token")), 1U);
  }

  parent.send_signal(SIGTERM);  // the parent stops its children, then itself
  EXPECT_EQ(parent.wait_exit(kPatience).code, 0);
}

TEST_F(MultiProcessTest, APublisherKilledWhileWaitingIsReplacedAndTheSubscribersCarryOn) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess subscriber = start_subscriber("steady", {"--slow-hook-ms", "1000"});

  SpawnedProcess first = start_publish("restore", "60000");
  ASSERT_TRUE(first.wait_for_output("waiting for 1 subscriber...", kPatience)) << first.stderr_so_far();
  first.send_signal(SIGKILL);
  EXPECT_EQ(first.wait_exit(kPatience).code, 128 + SIGKILL);

  const ExitResult second = snapbus({"publish", "restore"});

  ASSERT_EQ(second.code, 0) << second.stdout_text << second.stderr_text;
  EXPECT_NE(second.stdout_text.find("took over the segment"), std::string::npos) << second.stdout_text;
  EXPECT_NE(second.stdout_text.find("now running (seq"), std::string::npos) << second.stdout_text;
  EXPECT_NE(second.stdout_text.find("generation 2)"), std::string::npos) << second.stdout_text;
  ASSERT_TRUE(subscriber.wait_for_output("regenerated token", kPatience));
  EXPECT_TRUE(subscriber.wait_for_output("(generation 2)", kPatience)) << subscriber.stdout_so_far();

  const boost::json::object status = boost::json::parse(snapbus({"status", "--json"}).stdout_text).as_object();
  EXPECT_EQ(status.at("state").at("phase").as_string(), "running");
  const boost::json::value& slot = status.at("subscribers").as_array().at(0);
  EXPECT_EQ(slot.at("handled_generation").to_number<std::int64_t>(), 2);
  EXPECT_EQ(slot.at("outcome").as_string(), "ok");
}

// A custom runtime's first step (examples/lambda/bootstrap.py): in Lambda /tmp starts empty, so a segment
// at the path was left by an earlier local run, and its generation must not carry over.
TEST_F(MultiProcessTest, AFreshStartReplacesALeftoverSegmentAndItsSubscribersFollow) {
  ASSERT_EQ(snapbus({"publish", "restore"}).code, 0);  // the earlier run: generation 1
  SpawnedProcess subscriber = start_subscriber("follower");

  const ExitResult fresh = snapbus({"publish", "starting", "--fresh"});

  ASSERT_EQ(fresh.code, 0) << fresh.stdout_text << fresh.stderr_text;
  EXPECT_NE(fresh.stdout_text.find("replacing the segment an earlier run left there"), std::string::npos)
      << fresh.stdout_text;
  EXPECT_NE(fresh.stdout_text.find("generation 0)"), std::string::npos) << fresh.stdout_text;
  // The subscriber watches the path: it moves to the new segment and is reached by its first restore.
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  std::size_t joined = 0;
  while (joined == 0 && std::chrono::steady_clock::now() < deadline) {
    const ExitResult status = snapbus({"status", "--json"});
    if (status.code == 0) joined = boost::json::parse(status.stdout_text).at("subscribers").as_array().size();
    if (joined == 0) std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(joined, 1U) << "the subscriber never joined the new segment";
  const ExitResult restore = snapbus({"publish", "restore"});
  EXPECT_EQ(restore.code, 0) << restore.stdout_text;
  EXPECT_NE(restore.stdout_text.find("generation 1)"), std::string::npos) << restore.stdout_text;
  EXPECT_TRUE(subscriber.wait_for_output("(generation 1)", kPatience)) << subscriber.stdout_so_far();
}

TEST_F(MultiProcessTest, AFreshStartNeverReplacesAFileThatIsNotASegment) {
  const std::string foreign(4096, 'x');
  {
    std::ofstream out(segment_);
    out << foreign;
  }
  // Private, as a segment must be: the refusal is then about what the file holds, not its mode.
  std::filesystem::permissions(segment_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  const ExitResult fresh = snapbus({"publish", "starting", "--fresh"});

  EXPECT_EQ(fresh.code, 5) << fresh.stderr_text;
  EXPECT_NE(fresh.stderr_text.find("not a snapbus segment"), std::string::npos) << fresh.stderr_text;
  EXPECT_EQ(read_file_contents(segment_), foreign) << "the file was changed";
}

TEST_F(MultiProcessTest, ASubscriberStartedBeforeThePublisherAttachesWhenTheSegmentAppears) {
  const auto ready = ready_file("early");
  SpawnedProcess subscriber({testing::example_subscriber_binary(), "--name", "early", "--ready-file", ready.string(),
                             "--exit-after-restores", "2"},
                            environment());
  ASSERT_TRUE(subscriber.wait_for_output("waiting for a segment", kPatience)) << subscriber.stderr_so_far();
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  ASSERT_TRUE(testing::wait_for_file(ready, kPatience));

  const ExitResult restore = snapbus({"publish", "restore"});

  EXPECT_EQ(restore.code, 0) << restore.stdout_text;
  EXPECT_NE(restore.stdout_text.find("acked    pid " + std::to_string(subscriber.pid()) + " (early)"),
            std::string::npos)
      << restore.stdout_text;
  // The second restore is its last: it acks, then leaves (its ack may land before publish looks).
  EXPECT_EQ(snapbus({"publish", "restore"}).code, 0);
  const ExitResult exited = subscriber.wait_exit(kPatience);
  EXPECT_EQ(exited.code, 0);
  EXPECT_NE(exited.stdout_text.find("handled 2 restores, exiting"), std::string::npos) << exited.stdout_text;
}

}  // namespace
}  // namespace snapbus
