#include "snapstart_bracket.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "snapbus/client.h"
#include "snapbus/http_server.h"
#include "snapbus/step_failure.h"
#include "snapbus/subscriber.h"
#include "spawned_process.h"
#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using testing::SpawnedProcess;

constexpr auto kPatience = 20s;

// The app's side of LWA 1.1's hooks: records each POST, answers with `status`.
class HookApp {
 public:
  explicit HookApp(http::status status) : status_(status) {
    const auto endpoint = net::http_listen(io_, "127.0.0.1", 0, [this](net::HttpExchange& ex) -> asio::awaitable<void> {
      {
        const std::lock_guard lock(mutex_);
        paths_.push_back(std::string(http::to_string(ex.request().method())) + " " +
                         std::string(ex.request().target()));
      }
      co_await ex.respond(status_, status_ == http::status::ok ? "" : "hook failed: disk full", "text/plain");
    });
    port_ = endpoint.port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HookApp() {
    io_.stop();
    thread_.join();
  }
  HookApp(const HookApp&) = delete;
  HookApp& operator=(const HookApp&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  std::vector<std::string> paths() const {
    const std::lock_guard lock(mutex_);
    return paths_;
  }

 private:
  http::status status_;
  asio::io_context io_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> paths_;
};

class SnapStartBracketTest : public ::testing::Test {
 protected:
  SpawnedProcess start_subscriber(const std::string& name, std::vector<std::string> extra = {}) {
    const auto ready = dir.path() / (name + ".ready");
    std::vector<std::string> argv{testing::example_subscriber_binary(), "--name", name, "--ready-file", ready.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    SpawnedProcess subscriber(std::move(argv), {{"SNAPBUS_SEGMENT", path.string()}});
    EXPECT_TRUE(testing::wait_for_file(ready, kPatience)) << subscriber.stderr_so_far();
    return subscriber;
  }

  // Runs one step of the bracket to its end on this thread.
  // `step` makes the awaitable from the bracket, one for the test as for an adapter, made at the
  // first step (after the test has set the config).
  template <typename Step>
  std::optional<lambda::FunctionError> run(Step step) {
    if (!bracket_under_test) {
      bracket_under_test.emplace(publisher, config, adapter_started, io.get_executor(),
                                 [this](std::string_view lines) { logged(lines); });
    }
    auto result = asio::co_spawn(io, step(*bracket_under_test), asio::use_future);
    io.restart();
    io.run_for(kPatience);
    EXPECT_EQ(result.wait_for(0s), std::future_status::ready) << "the step did not end";
    return result.get();
  }
  std::optional<lambda::FunctionError> before_snapshot() {
    return run([](SnapStartBracket& bracket) { return bracket.before_snapshot(); });
  }
  std::optional<lambda::FunctionError> after_restore(std::string first_line = {}) {
    return run([&first_line](SnapStartBracket& bracket) { return bracket.after_restore(first_line); });
  }

  testing::ScratchDirectory dir;
  std::filesystem::path path = dir.path() / "bus.seg";
  Publisher publisher = Publisher::acquire({.path = path, .slot_count = 8});
  AdapterConfig config;
  std::chrono::steady_clock::time_point adapter_started = std::chrono::steady_clock::now();
  asio::io_context io;
  std::optional<SnapStartBracket> bracket_under_test;
  std::vector<std::string> calls;  // what each call to the log was given
  std::vector<std::string> log;    // line by line, as log_line() writes them

 private:
  void logged(std::string_view lines) {
    calls.emplace_back(lines);
    for (std::size_t start = 0; start <= lines.size();) {
      const std::size_t end = std::min(lines.find('\n', start), lines.size());
      log.emplace_back(lines.substr(start, end - start));
      start = end + 1;
    }
  }
};

TEST_F(SnapStartBracketTest, EveryProcessAndTheLwaPathsRunInsideTheBracket) {
  HookApp app(http::status::ok);
  config.app_port = app.port();
  config.snapstart_before_checkpoint_path = "/snapstart/before";
  config.snapstart_after_restore_path = "/snapstart/after";
  config.expect_subscribers = 2;
  SpawnedProcess api = start_subscriber("api");
  SpawnedProcess jobs = start_subscriber("jobs");

  EXPECT_EQ(before_snapshot(), std::nullopt);
  EXPECT_EQ(publisher.state().phase, Phase::snapshot_ready);
  EXPECT_EQ(app.paths(), std::vector<std::string>{"POST /snapstart/before"});

  EXPECT_EQ(after_restore("restore/next returned: restored"), std::nullopt);
  const StateSnapshot state = publisher.state();
  EXPECT_EQ(state.phase, Phase::running);
  EXPECT_EQ(state.generation, 1U);
  EXPECT_EQ(app.paths(), (std::vector<std::string>{"POST /snapstart/before", "POST /snapstart/after"}));
  EXPECT_TRUE(api.wait_for_output("after-restore: regenerated token", kPatience)) << api.stdout_so_far();
  EXPECT_TRUE(jobs.wait_for_output("after-restore: regenerated token", kPatience)) << jobs.stdout_so_far();

  bool logged_acks = false;
  for (const std::string& line : log) logged_acks |= line.find("restore: 2 subscribers acknowledged") == 0;
  EXPECT_TRUE(logged_acks) << "the log says how long the hooks took";
  // The caller's first line, the published line, the per-subscriber lines and the summary come with
  // the POST's line, in one call: nothing is written while the workers run their hooks or while the
  // app answers the POST, and one write while the first request waits.
  const auto summary = std::find_if(calls.begin(), calls.end(), [](const std::string& call) {
    return call.find("restore: 2 subscribers acknowledged") != std::string::npos;
  });
  ASSERT_NE(summary, calls.end());
  EXPECT_EQ(std::count(summary->begin(), summary->end(), '\n'), 5) << *summary;
  EXPECT_EQ(summary->find("restore/next returned: restored\nrestore: published after-restore"), 0U) << *summary;
  EXPECT_NE(summary->find("acknowledged in "), std::string::npos) << *summary;
  EXPECT_EQ(summary->rfind("\nPOST /snapstart/after: 200 in "), summary->rfind('\n')) << *summary;
}

// A worker whose process started before before-snapshot was published (a uvicorn worker still
// importing the app) but that subscribes `delay` later: `sh` execs it, keeping its pid and start time.
SpawnedProcess start_slow_subscriber(const std::filesystem::path& segment, const std::filesystem::path& ready,
                                     const std::string& delay) {
  return SpawnedProcess({"/bin/sh", "-c",
                         "sleep " + delay + "; exec '" + testing::example_subscriber_binary() +
                             "' --name slow --ready-file '" + ready.string() + "'"},
                        {{"SNAPBUS_SEGMENT", segment.string()}});
}

// The log lines that name `pid` with `words`.
std::vector<std::string> lines_naming(const std::vector<std::string>& log, pid_t pid, std::string_view words) {
  std::vector<std::string> found;
  for (const std::string& line : log) {
    if (line.find("pid " + std::to_string(pid) + " ") != std::string::npos && line.find(words) != std::string::npos) {
      found.push_back(line);
    }
  }
  return found;
}

// A worker too slow for the settle time (or past the expected count) was frozen without its
// before-snapshot hooks: the restore names it. One started after before-snapshot is not named.
TEST_F(SnapStartBracketTest, AWorkerThatSubscribedAfterBeforeSnapshotIsNamedAtTheRestore) {
  config.expect_subscribers = 1;
  SpawnedProcess api = start_subscriber("api");
  SpawnedProcess slow = start_slow_subscriber(path, dir.path() / "slow.ready", "0.5");
  EXPECT_EQ(before_snapshot(), std::nullopt);
  ASSERT_TRUE(testing::wait_for_file(dir.path() / "slow.ready", kPatience)) << slow.stderr_so_far();
  SpawnedProcess fresh = start_subscriber("fresh");
  EXPECT_EQ(after_restore(), std::nullopt);
  EXPECT_TRUE(slow.wait_for_output("after-restore: regenerated token", kPatience)) << slow.stdout_so_far();

  const std::vector<std::string> named = lines_naming(log, slow.pid(), "subscribed after it");
  ASSERT_EQ(named.size(), 1U) << fmt::format("{}", fmt::join(log, "\n"));
  EXPECT_EQ(named[0].find("restore: pid " + std::to_string(slow.pid()) +
                          " (slow) started before before-snapshot was published but subscribed after it"),
            0U)
      << named[0];
  EXPECT_TRUE(lines_naming(log, fresh.pid(), "subscribed").empty()) << fmt::format("{}", fmt::join(log, "\n"));
  EXPECT_TRUE(lines_naming(log, api.pid(), "subscribed").empty());
}

// One that subscribes while before-snapshot waits for the others takes it as handled without
// running its hooks: before-snapshot names it.
TEST_F(SnapStartBracketTest, AWorkerThatSubscribedDuringBeforeSnapshotIsNamed) {
  config.expect_subscribers = 1;
  config.before_snapshot_timeout = 1500ms;
  // Subscribed, and never acknowledging: before-snapshot waits for it until its limit.
  auto stuck = Subscriber::open(path, {.name = "stuck"});
  SpawnedProcess slow = start_slow_subscriber(path, dir.path() / "slow.ready", "0.3");
  const auto failure = before_snapshot();
  ASSERT_TRUE(failure.has_value()) << "the stuck subscriber never acknowledged";
  const std::vector<std::string> named = lines_naming(log, slow.pid(), "subscribed while before-snapshot");
  ASSERT_EQ(named.size(), 1U) << fmt::format("{}", fmt::join(log, "\n"));
  EXPECT_NE(named[0].find("its before-snapshot hooks did not run"), std::string::npos) << named[0];
}

// A helper a before-snapshot hook forks holds a slot born acknowledging the change, and is listed
// with the others: the count says as many as the list.
TEST_F(SnapStartBracketTest, AChildAHookForkedCountsAmongTheAcknowledgementsListed) {
  SNAPBUS_SKIP_FORK_WITH_THREADS_UNDER_ASAN();
  SNAPBUS_SKIP_THREADS_IN_FORKED_CHILD_UNDER_TSAN();
  config.expect_subscribers = 1;
  int release[2];
  ASSERT_EQ(::pipe(release), 0);
  std::atomic<pid_t> helper = 0;
  {
    Client forker({.segment_path = path, .name = "forker"});
    forker.before_snapshot("spawn-helper", [&] {
      const pid_t pid = ::fork();
      if (pid == 0) {
        char byte = 0;
        ::_exit(::read(release[0], &byte, 1) == 1 ? 0 : 1);
      }
      helper = pid;
    });
    forker.start();
    EXPECT_EQ(before_snapshot(), std::nullopt);
  }
  ASSERT_GT(helper.load(), 0);
  testing::ChildProcess child(helper.load());
  ASSERT_EQ(::write(release[1], "x", 1), 1);
  EXPECT_EQ(child.wait_exit_code(kPatience), 0);
  for (int fd : release) ::close(fd);
  const auto listed = std::count_if(
      log.begin(), log.end(), [](const std::string& line) { return line.starts_with("before-snapshot:   acked "); });
  EXPECT_EQ(listed, 2) << fmt::format("{}", fmt::join(log, "\n"));
  const auto counted = std::count_if(log.begin(), log.end(), [](const std::string& line) {
    return line.starts_with("before-snapshot: 2 subscribers acknowledged in ");
  });
  EXPECT_EQ(counted, 1) << fmt::format("{}", fmt::join(log, "\n"));
}

TEST_F(SnapStartBracketTest, ALwaPathThatFailsStopsTheSnapshotBeforeAnythingIsPublished) {
  HookApp app(http::status::internal_server_error);
  config.app_port = app.port();
  config.snapstart_before_checkpoint_path = "/snapstart/before";
  const auto failure = before_snapshot();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "Runtime.BeforeSnapshotError");
  EXPECT_EQ(failure->message, "POST /snapstart/before answered 500: hook failed: disk full");
  EXPECT_EQ(publisher.state().phase, Phase::starting);
}

TEST_F(SnapStartBracketTest, AnAppThatIsGoneFailsTheLwaPathWithTheReason) {
  config.app_port = 1;  // nothing listens on port 1 of loopback
  config.snapstart_after_restore_path = "/after";
  config.after_restore_timeout = 2000ms;
  const auto failure = after_restore();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "Runtime.AfterRestoreError");
  EXPECT_NE(failure->message.find("POST /after to the app: connect to 127.0.0.1:1"), std::string::npos)
      << failure->message;
}

TEST_F(SnapStartBracketTest, TooFewWorkersMeansNoSnapshot) {
  config.expect_subscribers = 3;
  config.before_snapshot_timeout = 300ms;
  SpawnedProcess api = start_subscriber("api");
  const auto failure = before_snapshot();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "Runtime.BeforeSnapshotError");
  EXPECT_EQ(failure->message.rfind(
                "only 1 of 3 expected subscribers joined within 300 ms; not taking the snapshot without them (a "
                "Python worker subscribes at its first hook registration",
                0),
            0U)
      << failure->message;
  EXPECT_NE(failure->message.find("must keep it, PYTHONPATH=$PYTHONPATH:... or PYTHONPATH=/opt/python:..."),
            std::string::npos);

  config.mode = AdapterMode::proxy;  // no run.sh there
  EXPECT_EQ(before_snapshot()->message,
            "only 1 of 3 expected subscribers joined within 300 ms; not taking the snapshot without them");
}

TEST_F(SnapStartBracketTest, NoSubscriberAtAllIsSaidWithItsUsualCause) {
  config.subscriber_settle = 50ms;
  ASSERT_FALSE(before_snapshot().has_value());
  const bool said = std::any_of(log.begin(), log.end(), [](const std::string& line) {
    return line.find(
               "before-snapshot: no process subscribed, so no hook runs in the snapshot's processes (a Python "
               "worker subscribes") != std::string::npos;
  });
  EXPECT_TRUE(said) << fmt::format("{}", fmt::join(log, "\n"));
}

// Unset, the before-snapshot limit is what is left of Lambda's 130 s SnapStart Init (less the time to
// report): here the adapter started 124.6 s ago, so 400 ms are left, where a fixed default gave 10 s.
TEST_F(SnapStartBracketTest, WithoutALimitSetBeforeSnapshotEndsBeforeLambdasInitAllowance) {
  config.expect_subscribers = 3;
  SpawnedProcess api = start_subscriber("api");
  // After the subscriber is up: its start-up must not eat into the 400 ms.
  adapter_started = std::chrono::steady_clock::now() - (kSnapStartInitAllowance - kInitReportMargin) + 400ms;
  const auto started = std::chrono::steady_clock::now();
  const auto failure = before_snapshot();
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "Runtime.BeforeSnapshotError");
  EXPECT_NE(failure->message.find("only 1 of 3 expected subscribers joined within "), std::string::npos)
      << failure->message;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log.front().find("what is left of Lambda's 130 s SnapStart Init, less 5 s to report"), std::string::npos)
      << log.front();
}

TEST_F(SnapStartBracketTest, AFailedAfterRestoreHookNamesTheProcessAndTheHook) {
  SpawnedProcess flaky = start_subscriber("flaky", {"--fail-after-restore"});
  const auto failure = after_restore();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "Runtime.AfterRestoreError");
  EXPECT_NE(failure->message.find("pid " + std::to_string(flaky.pid()) +
                                  " (flaky) failed 1 of 2 hooks: after-restore hook 'reconnect-db' failed"),
            std::string::npos)
      << failure->message;
}

// A segment replaced under the adapter (someone's cleanup, a second deployment step): the workers
// open the new file and would never hear the restore, so it fails rather than passes unheard.
TEST_F(SnapStartBracketTest, ASegmentReplacedUnderTheAdapterFailsTheStepAndSaysWhy) {
  std::filesystem::copy_file(path, dir.path() / "copy.seg");
  std::filesystem::rename(dir.path() / "copy.seg", path);
  const auto failure = after_restore();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->type, "Runtime.AfterRestoreError");
  EXPECT_NE(failure->message.find("the restore step could not run: " + path.string() + " was deleted or replaced"),
            std::string::npos)
      << failure->message;
  const bool logged = std::any_of(log.begin(), log.end(), [&](const std::string& line) {
    return line.starts_with("restore: " + path.string() + " was deleted or replaced");
  });
  EXPECT_TRUE(logged) << "the adapter's log says why the step failed";
}

TEST(JoinConditionTest, AnExpectedCountWinsOverTheSettleTime) {
  AdapterConfig config;
  EXPECT_EQ(join_condition_for(config).at_least, 0U);
  EXPECT_EQ(join_condition_for(config).stable_for, 500ms);
  config.expect_subscribers = 4;
  EXPECT_EQ(join_condition_for(config).at_least, 4U);
  EXPECT_EQ(join_condition_for(config).stable_for, 0ms);
}

}  // namespace
}  // namespace snapbus::adapter
