// The `snapbus` CLI end to end: status, watch and publish as a user runs them, text and JSON, and
// their exit codes.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "snapbus/file_contents.h"
#include "snapbus/publisher.h"
#include "snapbus/slot_table.h"
#include "spawned_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;
using testing::ExitResult;
using testing::run_to_exit;
using testing::snapbus_binary;
using testing::SpawnedProcess;

constexpr auto kPatience = 20s;

class CliEndToEndTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string> environment() const { return {{"SNAPBUS_SEGMENT", segment_.string()}}; }

  ExitResult snapbus(std::vector<std::string> args) {
    args.insert(args.begin(), snapbus_binary());
    return run_to_exit(std::move(args), environment(), kPatience);
  }

  // A subscriber that is subscribed (its ready file exists) when this returns.
  SpawnedProcess start_subscriber(const std::string& name, std::vector<std::string> extra = {}) {
    const auto ready = dir_.path() / (name + ".ready");
    std::vector<std::string> argv{testing::example_subscriber_binary(), "--name", name, "--ready-file", ready.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    SpawnedProcess subscriber(std::move(argv), environment());
    EXPECT_TRUE(testing::wait_for_file(ready, kPatience)) << subscriber.stderr_so_far();
    return subscriber;
  }

  static boost::json::object parse_object(const std::string& text) { return boost::json::parse(text).as_object(); }

  snapbus::testing::ScratchDirectory dir_;
  std::filesystem::path segment_ = dir_.path() / "segment";
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(CliEndToEndTest, StatusWithoutASegmentSaysSoAndExitsThree) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"status"}, {"status", "--json"}}) {
    const ExitResult result = snapbus(args);
    EXPECT_EQ(result.code, 3) << args.size();
    EXPECT_NE(result.stderr_text.find("no segment at " + segment_.string()), std::string::npos) << result.stderr_text;
    EXPECT_EQ(result.stdout_text, "");
  }
}

// The help explains the SNAPBUS_* variables: a malformed one must not hide it. Without --help the
// variable's error stands.
TEST_F(CliEndToEndTest, HelpWorksWhileAVariableIsMalformed) {
  std::map<std::string, std::string> malformed = environment();
  malformed["SNAPBUS_SLOTS"] = "abc";
  for (const std::string command : {"status", "watch", "publish"}) {
    const ExitResult help = run_to_exit({snapbus_binary(), command, "--help"}, malformed, kPatience);
    EXPECT_EQ(help.code, 0) << command << ": " << help.stderr_text;
    EXPECT_NE(help.stdout_text.find("snapbus " + command), std::string::npos) << help.stdout_text;
  }
  const ExitResult status = run_to_exit({snapbus_binary(), "status"}, malformed, kPatience);
  EXPECT_EQ(status.code, 2);
  EXPECT_NE(status.stderr_text.find("SNAPBUS_SLOTS=abc"), std::string::npos) << status.stderr_text;
}

// A path in a directory that does not exist is a wrong path, not a publisher yet to come: status
// and watch say so, and watch does not wait for a file that nothing can create.
TEST_F(CliEndToEndTest, ASegmentInAMissingDirectoryIsNamedAsAWrongPath) {
  const std::string missing = (segment_.parent_path() / "no-such-dir" / "bus.seg").string();
  for (const std::vector<std::string>& args : {std::vector<std::string>{"status", "--segment", missing},
                                               {"watch", "--timeout-ms", "30000", "--segment", missing}}) {
    const ExitResult result = snapbus(args);
    EXPECT_EQ(result.code, 3) << args[0];
    EXPECT_NE(result.stderr_text.find("no-such-dir does not exist"), std::string::npos) << result.stderr_text;
  }
}

TEST_F(CliEndToEndTest, RestoreRunsTheSubscribersHookAndStatusShowsGenerationOneAndTheAck) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess subscriber = start_subscriber("api");

  const ExitResult publish = snapbus({"publish", "restore", "--json"});

  ASSERT_EQ(publish.code, 0) << publish.stdout_text << publish.stderr_text;
  EXPECT_NE(publish.stderr_text.find("waiting for 1 subscriber..."), std::string::npos) << publish.stderr_text;
  const boost::json::object result = parse_object(publish.stdout_text);
  EXPECT_EQ(result.at("ok").as_bool(), true);
  EXPECT_EQ(result.at("published").at("phase").as_string(), "after-restore");
  EXPECT_EQ(result.at("published").at("generation").to_number<std::int64_t>(), 1);
  EXPECT_EQ(result.at("state").at("phase").as_string(), "running");
  ASSERT_EQ(result.at("acks").as_array().size(), 1U);
  const boost::json::object& ack = result.at("acks").as_array()[0].as_object();
  EXPECT_EQ(ack.at("pid").to_number<pid_t>(), subscriber.pid());
  EXPECT_EQ(ack.at("status").as_string(), "acked");
  EXPECT_TRUE(subscriber.wait_for_output("after-restore: regenerated token", kPatience));

  const ExitResult status = snapbus({"status", "--json"});
  ASSERT_EQ(status.code, 0) << status.stderr_text;
  const boost::json::object json = parse_object(status.stdout_text);
  const boost::json::object& state = json.at("state").as_object();
  EXPECT_EQ(state.at("generation").to_number<std::int64_t>(), 1);
  EXPECT_EQ(state.at("phase").as_string(), "running");
  EXPECT_EQ(state.at("restore_id").as_string().size(), 32U);
  EXPECT_EQ(state.at("source").as_string(), "manual");
  EXPECT_NE(state.at("restore_time").as_string(), "");
  EXPECT_EQ(json.at("publisher").at("alive").as_bool(), false);  // publish ran and exited
  const boost::json::array& subscribers = json.at("subscribers").as_array();
  ASSERT_EQ(subscribers.size(), 1U);
  const boost::json::object& slot = subscribers[0].as_object();
  EXPECT_EQ(slot.at("pid").to_number<pid_t>(), subscriber.pid());
  EXPECT_EQ(slot.at("alive").as_bool(), true);
  EXPECT_EQ(slot.at("name").as_string(), "api");
  EXPECT_EQ(slot.at("outcome").as_string(), "ok");
  EXPECT_EQ(slot.at("handled_generation").to_number<std::int64_t>(), 1);
  EXPECT_EQ(slot.at("hooks_failed").to_number<std::int64_t>(), 0);

  const ExitResult text = snapbus({"status"});
  ASSERT_EQ(text.code, 0);
  EXPECT_NE(text.stdout_text.find("generation  1\n"), std::string::npos) << text.stdout_text;
  EXPECT_NE(text.stdout_text.find(std::to_string(subscriber.pid()) + " alive  api"), std::string::npos)
      << text.stdout_text;
}

TEST_F(CliEndToEndTest, AFailedHookExitsOneNamingTheProcessAndTheHookAndStaysInThePhase) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess subscriber = start_subscriber("flaky", {"--fail-after-restore"});

  const ExitResult publish = snapbus({"publish", "restore"});

  EXPECT_EQ(publish.code, 1);
  const std::string& out = publish.stdout_text;
  EXPECT_NE(out.find("FAILED   pid " + std::to_string(subscriber.pid()) + " (flaky)"), std::string::npos) << out;
  EXPECT_NE(out.find("after-restore hook 'reconnect-db' failed: std::runtime_error: database unreachable"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("staying in after-restore"), std::string::npos) << out;
  // The subscriber's own stderr says so too.
  EXPECT_TRUE(
      subscriber.wait_for_output("after-restore hook 'reconnect-db' failed: std::runtime_error: database unreachable",
                                 kPatience, SpawnedProcess::Stream::err))
      << subscriber.stderr_so_far();

  const boost::json::object status = parse_object(snapbus({"status", "--json"}).stdout_text);
  EXPECT_EQ(status.at("state").at("phase").as_string(), "after-restore");
  const boost::json::object& slot = status.at("subscribers").as_array()[0].as_object();
  EXPECT_EQ(slot.at("outcome").as_string(), "failed");
  EXPECT_EQ(slot.at("hooks_failed").to_number<std::int64_t>(), 1);
}

TEST_F(CliEndToEndTest, BackToRunningWithoutARestoreSaysWhatStaysClosed) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  EXPECT_EQ(snapbus({"publish", "running"}).stderr_text.find("note:"), std::string::npos);
  SpawnedProcess subscriber = start_subscriber("pool");
  ASSERT_EQ(snapbus({"publish", "before-snapshot"}).code, 0);

  const ExitResult back = snapbus({"publish", "running"});

  EXPECT_EQ(back.code, 0);
  EXPECT_NE(back.stderr_text.find("note: from snapshot-ready, running runs no hook"), std::string::npos)
      << back.stderr_text;
  EXPECT_NE(back.stderr_text.find("`snapbus publish restore` runs their after-restore hooks"), std::string::npos);
}

TEST_F(CliEndToEndTest, AMissingAckAtTheTimeoutExitsOneNamingTheProcess) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess subscriber = start_subscriber("sluggish", {"--slow-hook-ms", "60000"});

  const ExitResult publish = snapbus({"publish", "restore", "--timeout-ms", "300", "--json"});

  EXPECT_EQ(publish.code, 1);
  const boost::json::object result = parse_object(publish.stdout_text);
  EXPECT_EQ(result.at("ok").as_bool(), false);
  EXPECT_EQ(result.at("state").at("phase").as_string(), "after-restore");
  ASSERT_EQ(result.at("acks").as_array().size(), 1U);
  const boost::json::object& ack = result.at("acks").as_array()[0].as_object();
  EXPECT_EQ(ack.at("status").as_string(), "missing");
  EXPECT_EQ(ack.at("pid").to_number<pid_t>(), subscriber.pid());
  EXPECT_EQ(ack.at("name").as_string(), "sluggish");
}

// Ctrl-C while publish waits: it still says who acked and who did not, and exits 130 at once
// rather than at its timeout. The phase stays, as after a timeout.
TEST_F(CliEndToEndTest, PublishInterruptedBySigintStillReportsWhoAckedAndExits130) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess quick = start_subscriber("quick");
  SpawnedProcess sluggish = start_subscriber("sluggish", {"--slow-hook-ms", "60000"});
  SpawnedProcess publish({snapbus_binary(), "publish", "restore", "--timeout-ms", "120000"}, environment());
  ASSERT_TRUE(publish.wait_for_output("waiting for 2 subscribers", kPatience)) << publish.stdout_so_far();
  // Interrupted only once quick has acknowledged: its ack must be in the report.
  const Segment segment = Segment::open(segment_, SegmentAccess::observe);
  const std::uint32_t published = segment.state().seq.load();
  const auto quick_acked = [&] {
    for (const SlotInfo& slot : read_slots(segment)) {
      if (slot.name == "quick" && slot.acked_seq == published) return true;
    }
    return false;
  };
  const auto patience_ends = std::chrono::steady_clock::now() + kPatience;
  while (!quick_acked() && std::chrono::steady_clock::now() < patience_ends) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(quick_acked());
  const auto interrupted = std::chrono::steady_clock::now();
  // Twice, as a Ctrl-C reaches the child of a wrapper such as timeout: from the terminal to the
  // whole process group, and once more passed on by the wrapper.
  publish.send_signal(SIGINT);
  publish.send_signal(SIGINT);
  const ExitResult result = publish.wait_exit(kPatience);
  EXPECT_LT(std::chrono::steady_clock::now() - interrupted, 15s);  // long before the 120 s timeout
  EXPECT_EQ(result.code, 130) << result.stdout_text << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("acked    pid " + std::to_string(quick.pid()) + " (quick): ok"), std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("MISSING  pid " + std::to_string(sluggish.pid()) + " (sluggish)"),
            std::string::npos)
      << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("interrupted by SIGINT after "), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("staying in after-restore"), std::string::npos) << result.stdout_text;
  EXPECT_EQ(Segment::open(segment_, SegmentAccess::observe).state().phase.load(),
            static_cast<std::uint16_t>(Phase::after_restore));
}

// SIGTERM ends the wait for --expect-subscribers the same way; --json says it was interrupted.
TEST_F(CliEndToEndTest, PublishInterruptedBySigtermWhileJoiningSaysSoInJson) {
  ASSERT_EQ(snapbus({"publish", "starting"}).code, 0);
  SpawnedProcess only = start_subscriber("only");
  SpawnedProcess publish(
      {snapbus_binary(), "publish", "before-snapshot", "--expect-subscribers", "2", "--timeout-ms", "120000", "--json"},
      environment());
  ASSERT_TRUE(publish.wait_for_output("waiting for 2 subscribers to join", kPatience, SpawnedProcess::Stream::err))
      << publish.stderr_so_far();
  publish.send_signal(SIGTERM);
  const ExitResult result = publish.wait_exit(kPatience);
  EXPECT_EQ(result.code, 130) << result.stdout_text << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("only 1 of 2 expected subscribers joined"), std::string::npos)
      << result.stderr_text;
  // As after an interrupted wait for acknowledgements.
  EXPECT_NE(result.stderr_text.find("interrupted by SIGTERM after "), std::string::npos) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(" ms: staying in starting\n"), std::string::npos) << result.stderr_text;
  const auto report = parse_object(result.stdout_text);
  EXPECT_EQ(report.at("interrupted"), true);
  EXPECT_TRUE(report.at("published").is_null());
  EXPECT_EQ(report.at("state").at("phase"), "starting");
}

TEST_F(CliEndToEndTest, ExpectSubscribersWaitsForALateWorkerBeforePublishing) {
  ASSERT_EQ(snapbus({"publish", "starting"}).code, 0);
  SpawnedProcess early = start_subscriber("early");
  // The publish starts while only one of two workers is up; the second joins while it waits.
  std::vector<std::string> argv{snapbus_binary(), "publish", "before-snapshot", "--expect-subscribers", "2",
                                "--timeout-ms",   "20000"};
  SpawnedProcess publish(std::move(argv), environment());
  ASSERT_TRUE(publish.wait_for_output("waiting for 2 subscribers to join (up to 20000 ms)", kPatience))
      << publish.stdout_so_far();
  SpawnedProcess late = start_subscriber("late");
  const ExitResult result = publish.wait_exit(kPatience);
  ASSERT_EQ(result.code, 0) << result.stdout_text << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("(early): ok"), std::string::npos) << result.stdout_text;
  EXPECT_NE(result.stdout_text.find("(late): ok"), std::string::npos) << result.stdout_text;
  EXPECT_TRUE(late.wait_for_output("before-snapshot", kPatience)) << late.stdout_so_far();
}

TEST_F(CliEndToEndTest, ExpectSubscribersThatNeverJoinExitsOneWithoutPublishing) {
  ASSERT_EQ(snapbus({"publish", "starting"}).code, 0);
  SpawnedProcess only = start_subscriber("only");
  const ExitResult result = snapbus({"publish", "before-snapshot", "--expect-subscribers", "3", "--timeout-ms", "200"});
  EXPECT_EQ(result.code, 1);
  EXPECT_NE(result.stderr_text.find("only 1 of 3 expected subscribers joined"), std::string::npos)
      << result.stderr_text;
  EXPECT_EQ(Segment::open(segment_, SegmentAccess::observe).state().phase.load(),
            static_cast<std::uint16_t>(Phase::starting));

  // --json still prints its one object, saying that nothing was published.
  const ExitResult json =
      snapbus({"publish", "before-snapshot", "--expect-subscribers", "3", "--timeout-ms", "200", "--json"});
  EXPECT_EQ(json.code, 1);
  const auto report = parse_object(json.stdout_text);
  EXPECT_TRUE(report.at("published").is_null()) << json.stdout_text;
  EXPECT_EQ(report.at("ok"), false);
  EXPECT_EQ(report.at("joined"), 1);
  EXPECT_EQ(report.at("state").at("phase"), "starting");

  // One expected, "subscriber"; and a timeout past a year is said as the year it is clamped to.
  const ExitResult one = snapbus(
      {"publish", "before-snapshot", "--expect-subscribers", "1", "--timeout-ms", "9223372036854775807", "--json"});
  EXPECT_EQ(one.code, 0) << one.stderr_text;
  EXPECT_NE(one.stderr_text.find("waiting for 1 subscriber to join (up to 31536000000 ms)"), std::string::npos)
      << one.stderr_text;
}

TEST_F(CliEndToEndTest, ExpectingMoreSubscribersThanSlotsIsAUsageErrorThatTouchesNoSegment) {
  // No segment yet: none is created.
  const ExitResult fresh = snapbus({"publish", "before-snapshot", "--expect-subscribers", "65"});
  EXPECT_EQ(fresh.code, 2);
  EXPECT_NE(fresh.stderr_text.find("--expect-subscribers 65 is more than the 64 slots"), std::string::npos)
      << fresh.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(segment_));

  // A live segment at generation 1: --fresh would have replaced it; it is left as it was.
  ASSERT_EQ(snapbus({"publish", "restore"}).code, 0);
  const auto inode = Segment::open(segment_, SegmentAccess::observe).inode();
  const ExitResult replace = snapbus({"publish", "starting", "--fresh", "--expect-subscribers", "65"});
  EXPECT_EQ(replace.code, 2);
  EXPECT_EQ(replace.stderr_text.find("replacing"), std::string::npos) << replace.stderr_text;
  const Segment after = Segment::open(segment_, SegmentAccess::observe);
  EXPECT_EQ(after.inode(), inode);
  EXPECT_EQ(after.state().generation.load(), 1U);
  EXPECT_EQ(after.state().phase.load(), static_cast<std::uint16_t>(Phase::running));
}

TEST_F(CliEndToEndTest, ARelativeSegmentIsTakenFromTheWorkingDirectoryAndShownWhole) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  const ExitResult status = run_to_exit({"/bin/sh", "-c", "cd \"$0\" && exec \"$1\" status --json --segment ./segment",
                                         dir_.path().string(), snapbus_binary()},
                                        {}, kPatience);
  ASSERT_EQ(status.code, 0) << status.stderr_text;
  EXPECT_EQ(parse_object(status.stdout_text).at("segment").as_string(), segment_.string());
}

// The reason is named, also where the failed write came long before the end (publish's progress lines).
TEST_F(CliEndToEndTest, OutputThatCannotBeWrittenIsAnErrorNotASuccess) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  for (const std::string command : {"status", "status --json", "publish running", "watch --count 1"}) {
    const ExitResult full = run_to_exit({"/bin/sh", "-c", "exec \"$0\" " + command + " > /dev/full", snapbus_binary()},
                                        environment(), kPatience);
    EXPECT_EQ(full.code, 5) << command << ": " << full.stderr_text;
    EXPECT_NE(full.stderr_text.find("snapbus " + command.substr(0, command.find(' ')) + ": cannot write to stdout"),
              std::string::npos)
        << command << ": " << full.stderr_text;
    EXPECT_NE(full.stderr_text.find("No space left on device"), std::string::npos) << command << full.stderr_text;
  }
}

// Started with stdout closed, a command prints to nothing: an error (as for coreutils), and its
// output must not land in the first file it opens, which would take descriptor 1 (the segment's lock).
TEST_F(CliEndToEndTest, AClosedStdoutIsAnErrorAndNoFileTakesItsPlace) {
  for (const std::string command : {"publish running", "status", "publish starting"}) {
    const ExitResult closed =
        run_to_exit({"/bin/sh", "-c", "exec \"$0\" " + command + " >&-", snapbus_binary()}, environment(), kPatience);
    EXPECT_EQ(closed.code, 5) << command << ": " << closed.stderr_text;
    EXPECT_NE(closed.stderr_text.find("cannot write to stdout: Bad file descriptor"), std::string::npos)
        << command << ": " << closed.stderr_text;
    const std::string lock_text = try_read_file_contents(segment_.string() + ".lock").value_or("");
    EXPECT_EQ(lock_text.find("publish"), std::string::npos) << command << ": the lock file holds " << lock_text;
  }
  EXPECT_EQ(Segment::open(segment_, SegmentAccess::observe).state().phase.load(),
            static_cast<std::uint16_t>(Phase::starting));
  // Help and the version are output too.
  for (const std::string words : {"--version", "--help", "status --help"}) {
    const ExitResult full = run_to_exit({"/bin/sh", "-c", "exec \"$0\" " + words + " > /dev/full", snapbus_binary()},
                                        environment(), kPatience);
    EXPECT_EQ(full.code, 5) << words << ": " << full.stderr_text;
    EXPECT_NE(full.stderr_text.find("No space left on device"), std::string::npos) << words << full.stderr_text;
  }
}

// `snapbus publish restore | head -1`: the reader leaves in the middle of the step, which must
// still end (phase running), not be cut short by SIGPIPE with the lifecycle left in after-restore.
// And a watch whose reader left ends without waiting for a change to fail to print.
TEST_F(CliEndToEndTest, AReaderThatGoesAwayCutsNoStepShortAndEndsAWatch) {
  ASSERT_EQ(snapbus({"publish", "starting"}).code, 0);
  // Its hook is long enough for head to have read the first line and left before publish writes again.
  SpawnedProcess slow = start_subscriber("slow", {"--slow-hook-ms", "2500"});
  const ExitResult publish = run_to_exit(
      {"/bin/bash", "-c", "\"$0\" publish restore | head -c 1 > /dev/null; exit ${PIPESTATUS[0]}", snapbus_binary()},
      environment(), kPatience);
  EXPECT_EQ(publish.code, 5) << publish.stderr_text;
  EXPECT_NE(publish.stderr_text.find("cannot write to stdout: Broken pipe (the command itself ran to its end, with "
                                     "exit code 0)"),
            std::string::npos)
      << publish.stderr_text;
  const ExitResult status = snapbus({"status", "--json"});
  ASSERT_EQ(status.code, 0) << status.stderr_text;
  EXPECT_EQ(parse_object(status.stdout_text).at("state").at("phase").as_string(), "running") << status.stdout_text;
  EXPECT_EQ(parse_object(status.stdout_text).at("state").at("generation").as_int64(), 1) << status.stdout_text;

  const ExitResult watch = run_to_exit(
      {"/bin/bash", "-c", "\"$0\" watch --json | head -n 1 > /dev/null; exit ${PIPESTATUS[0]}", snapbus_binary()},
      environment(), kPatience);
  EXPECT_EQ(watch.code, 5) << watch.stderr_text;
  EXPECT_NE(watch.stderr_text.find("cannot write to stdout: Broken pipe (its reader has gone)"), std::string::npos)
      << watch.stderr_text;

  // Also while it waits for a segment to appear, with nothing printed yet: `| true` reads nothing.
  const std::string missing = (segment_.parent_path() / "missing.seg").string();
  const ExitResult waiting = run_to_exit(
      {"/bin/bash", "-c", "\"$0\" watch --segment \"$1\" | true; exit ${PIPESTATUS[0]}", snapbus_binary(), missing},
      environment(), kPatience);
  EXPECT_EQ(waiting.code, 5) << waiting.stderr_text;
  EXPECT_NE(waiting.stderr_text.find("(its reader has gone)"), std::string::npos) << waiting.stderr_text;
}

TEST_F(CliEndToEndTest, PublishIsRefusedWhileAnotherLivePublisherOwnsTheSegment) {
  Publisher owner = Publisher::acquire({.path = segment_});

  const ExitResult publish = snapbus({"publish", "running"});

  EXPECT_EQ(publish.code, 4);
  EXPECT_NE(publish.stderr_text.find("refusing to publish"), std::string::npos) << publish.stderr_text;
  EXPECT_NE(publish.stderr_text.find(std::to_string(::getpid())), std::string::npos) << publish.stderr_text;
  EXPECT_EQ(owner.state().phase, Phase::starting);  // nothing was written
}

TEST_F(CliEndToEndTest, WatchPrintsTheCurrentStateThenOneJsonObjectPerChange) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess watch({snapbus_binary(), "watch", "--json", "--timeout-ms", "20000"}, environment());
  ASSERT_TRUE(watch.wait_for_output("\n", kPatience)) << watch.stderr_so_far();

  // Each publish is a new publisher (a change of publisher pid) plus its transition; a watch may
  // see those two as one, and then says how many it skipped.
  ASSERT_EQ(snapbus({"publish", "shutdown"}).code, 0);
  const ExitResult last = snapbus({"publish", "running", "--json"});
  ASSERT_EQ(last.code, 0);
  const auto final_seq = parse_object(last.stdout_text).at("state").at("seq").to_number<std::int64_t>();
  ASSERT_TRUE(watch.wait_for_output("\"seq\":" + std::to_string(final_seq) + ",", kPatience)) << watch.stdout_so_far();
  watch.send_signal(SIGTERM);
  const ExitResult result = watch.wait_exit(kPatience);

  const std::vector<std::string> lines = lines_of(result.stdout_text);
  ASSERT_GE(lines.size(), 3U) << result.stdout_text;
  std::vector<std::string> distinct_phases;
  std::int64_t first_seq = -1;
  std::int64_t previous_seq = -1;
  std::int64_t changes_accounted = 0;
  for (const std::string& line : lines) {
    const boost::json::object change = parse_object(line);
    const std::string phase(change.at("phase").as_string());
    if (distinct_phases.empty() || distinct_phases.back() != phase) distinct_phases.push_back(phase);
    const auto seq = change.at("seq").to_number<std::int64_t>();
    EXPECT_GT(seq, previous_seq);
    if (first_seq < 0) {
      first_seq = seq;
    } else {
      changes_accounted +=
          1 + (change.contains("skipped_changes") ? change.at("skipped_changes").to_number<std::int64_t>() : 0);
    }
    previous_seq = seq;
  }
  EXPECT_EQ(distinct_phases, (std::vector<std::string>{"running", "shutting-down", "running"}));
  EXPECT_EQ(previous_seq, final_seq);
  EXPECT_EQ(changes_accounted, (final_seq - first_seq) / 2);
}

TEST_F(CliEndToEndTest, WatchTextStopsAfterCount) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  const ExitResult result = snapbus({"watch", "--count", "1"});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(lines_of(result.stdout_text).size(), 1U);
  EXPECT_NE(result.stdout_text.find("generation 0  phase running"), std::string::npos) << result.stdout_text;
}

TEST_F(CliEndToEndTest, WatchWaitsForTheSegmentToAppear) {
  SpawnedProcess watch({snapbus_binary(), "watch", "--timeout-ms", "20000"}, environment());
  ASSERT_TRUE(watch.wait_for_output("waiting for a segment", kPatience, SpawnedProcess::Stream::err));
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  // The watch may first see the segment as just created (phase starting), then the change.
  EXPECT_TRUE(watch.wait_for_output("phase running", kPatience)) << watch.stdout_so_far();
}

// A symbolic link that dangles is refused at once (snapbus opens no link), not waited on for ever.
TEST_F(CliEndToEndTest, WatchRefusesADanglingSymbolicLinkAtOnce) {
  std::filesystem::create_symlink(segment_.parent_path() / "nowhere.seg", segment_);
  const ExitResult result = snapbus({"watch", "--timeout-ms", "20000"});
  EXPECT_EQ(result.code, 5) << result.stderr_text;
  EXPECT_EQ(result.stderr_text.find("waiting for a segment"), std::string::npos) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("is a symbolic link"), std::string::npos) << result.stderr_text;
}

// A truncated segment reads as zeros: an error (5) naming the file, never an all-zero state line.
TEST_F(CliEndToEndTest, WatchFailsOnASegmentTruncatedUnderIt) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess watch({snapbus_binary(), "watch", "--timeout-ms", "20000"}, environment());
  ASSERT_TRUE(watch.wait_for_output("phase running", kPatience)) << watch.stderr_so_far();
  std::filesystem::resize_file(segment_, 0);
  const ExitResult result = watch.wait_exit(kPatience);
  EXPECT_EQ(result.code, 5) << result.stdout_text;
  EXPECT_NE(result.stderr_text.find("was truncated to 0 bytes"), std::string::npos) << result.stderr_text;
  EXPECT_EQ(lines_of(result.stdout_text).size(), 1U) << result.stdout_text;
}

TEST_F(CliEndToEndTest, WatchSaysASegmentWasDeletedAndFollowsTheNextOne) {
  ASSERT_EQ(snapbus({"publish", "running"}).code, 0);
  SpawnedProcess watch({snapbus_binary(), "watch", "--timeout-ms", "20000"}, environment());
  ASSERT_TRUE(watch.wait_for_output("phase running", kPatience)) << watch.stderr_so_far();
  std::filesystem::remove(segment_);
  ASSERT_TRUE(watch.wait_for_output("was deleted; waiting for a publisher", kPatience, SpawnedProcess::Stream::err));
  ASSERT_EQ(snapbus({"publish", "shutdown"}).code, 0);
  EXPECT_TRUE(watch.wait_for_output("phase shutting-down", kPatience)) << watch.stdout_so_far();
  watch.send_signal(SIGTERM);
  watch.wait_exit(kPatience);
}

TEST_F(CliEndToEndTest, WatchWithoutASegmentGivesUpAtItsTimeoutWithThree) {
  const ExitResult result = snapbus({"watch", "--timeout-ms", "100"});
  EXPECT_EQ(result.code, 3);
  EXPECT_NE(result.stderr_text.find("no segment appeared"), std::string::npos) << result.stderr_text;
}

TEST_F(CliEndToEndTest, OptionValuesMayFollowOrBeJoinedWithEquals) {
  ASSERT_EQ(snapbus({"publish", "running", "--timeout-ms=500", "--segment=" + segment_.string()}).code, 0);
  const ExitResult spaced = snapbus({"status", "--segment", segment_.string(), "--json"});
  ASSERT_EQ(spaced.code, 0) << spaced.stderr_text;
  EXPECT_EQ(parse_object(spaced.stdout_text).at("state").at("phase").as_string(), "running");
  const ExitResult counted = snapbus({"watch", "--count=1", "--timeout-ms", "20000"});
  EXPECT_EQ(counted.code, 0) << counted.stderr_text;
  EXPECT_EQ(lines_of(counted.stdout_text).size(), 1U);
}

// A build with -DSNAPBUS_WITH_EMULATOR=OFF has no emulate command, and says why.
TEST_F(CliEndToEndTest, EmulateIsThereExactlyWhenBuiltIn) {
  const ExitResult overview = snapbus({"--help"});
  ASSERT_EQ(overview.code, 0);
#if SNAPBUS_WITH_EMULATOR
  EXPECT_NE(overview.stdout_text.find("  emulate "), std::string::npos) << overview.stdout_text;
  const ExitResult help = snapbus({"emulate", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.stdout_text.rfind("usage: snapbus emulate", 0), 0U) << help.stdout_text;
  EXPECT_EQ(snapbus({"emulate", "--frobnicate"}).code, 2);
#else
  EXPECT_EQ(overview.stdout_text.find("  emulate "), std::string::npos) << overview.stdout_text;
  const ExitResult emulate = snapbus({"emulate", "--", "/bin/true"});
  EXPECT_EQ(emulate.code, 2);
  EXPECT_NE(emulate.stderr_text.find("built without the emulator"), std::string::npos) << emulate.stderr_text;
#endif
}

TEST_F(CliEndToEndTest, HelpAndUsageErrors) {
  for (const char* command : {"status", "watch", "publish"}) {
    const ExitResult help = snapbus({command, "--help"});
    EXPECT_EQ(help.code, 0) << command;
    EXPECT_EQ(help.stdout_text.rfind(std::string("usage: snapbus ") + command, 0), 0U) << help.stdout_text;
    EXPECT_NE(help.stdout_text.find("exit codes:"), std::string::npos) << help.stdout_text;
  }
  EXPECT_EQ(snapbus({"--help"}).code, 0);
  EXPECT_EQ(snapbus({}).code, 2);
  EXPECT_EQ(snapbus({"frobnicate"}).code, 2);
  EXPECT_EQ(snapbus({"status", "--bogus"}).code, 2);
  EXPECT_EQ(snapbus({"publish", "after-restore"}).code, 2);
  EXPECT_EQ(snapbus({"publish"}).code, 2);
  EXPECT_EQ(snapbus({"watch", "--count", "many"}).code, 2);
  EXPECT_EQ(snapbus({"publish", "restore", "running"}).code, 2);
  EXPECT_EQ(snapbus({"help"}).code, 0);
  const ExitResult help_for_nothing = snapbus({"help", "frobnicate"});
  EXPECT_EQ(help_for_nothing.code, 2);
  EXPECT_NE(help_for_nothing.stderr_text.find("unknown command 'frobnicate'"), std::string::npos)
      << help_for_nothing.stderr_text;
  const ExitResult bad_env = run_to_exit({snapbus_binary(), "status"}, {{"SNAPBUS_SLOTS", "lots"}}, kPatience);
  EXPECT_EQ(bad_env.code, 2);
  EXPECT_NE(bad_env.stderr_text.find("SNAPBUS_SLOTS"), std::string::npos) << bad_env.stderr_text;
  // The adapter's own settings: an unset Runtime API address and a segment name too long are
  // configuration (2), not a failure of the Runtime API (5) or of the segment (6).
  const ExitResult no_api = run_to_exit({snapbus_binary(), "adapter"}, {{"AWS_LAMBDA_RUNTIME_API", ""}}, kPatience);
  EXPECT_EQ(no_api.code, 2) << no_api.stderr_text;
  EXPECT_NE(no_api.stderr_text.find("AWS_LAMBDA_RUNTIME_API is not set"), std::string::npos) << no_api.stderr_text;
  const ExitResult long_name = run_to_exit(
      {snapbus_binary(), "adapter"},
      {{"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"}, {"SNAPBUS_SEGMENT", "/tmp/" + std::string(240, 's')}}, kPatience);
  EXPECT_EQ(long_name.code, 2) << long_name.stderr_text;
  const ExitResult relative = run_to_exit({snapbus_binary(), "status"}, {{"SNAPBUS_SEGMENT", "bus.seg"}}, kPatience);
  EXPECT_EQ(relative.code, 2);
  EXPECT_NE(relative.stderr_text.find("SNAPBUS_SEGMENT=bus.seg: expected an absolute path"), std::string::npos)
      << relative.stderr_text;
}

}  // namespace
}  // namespace snapbus
