// The C++ client against the scenario table both clients share (client_scenarios.json; its
// "about" says what a scenario is). One ctest entry per scenario; tests/python runs the same table
// against the Python package, so the two implementations of one decision procedure cannot drift.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "snapbus/client.h"
#include "spawned_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const json::object& table() {
  static const json::value parsed = [] {
    std::ifstream in(SNAPBUS_CONTRACT_SCENARIOS);
    if (!in) throw std::runtime_error("cannot read " + std::string(SNAPBUS_CONTRACT_SCENARIOS));
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str());
  }();
  return parsed.as_object();
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const json::value& scenario : table().at("scenarios").as_array()) {
    names.emplace_back(scenario.at("name").as_string());
  }
  return names;
}

const json::object& scenario_named(const std::string& name) {
  for (const json::value& scenario : table().at("scenarios").as_array()) {
    if (scenario.at("name").as_string() == name) return scenario.as_object();
  }
  throw std::runtime_error("no scenario " + name);
}

std::string text_of(const json::value& value) { return std::string(value.as_string()); }

// The hooks' calls, in the order they happened (hooks run on the watcher thread).
class CallLog {
 public:
  void record(const std::string& name) {
    std::lock_guard lock(mutex_);
    calls_.push_back(name);
  }
  // The calls since the last take().
  std::vector<std::string> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(calls_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> calls_;
};

class ClientScenario : public ::testing::TestWithParam<std::string> {
 protected:
  testing::ExitResult snapbus_command(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv{testing::snapbus_binary()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    argv.insert(argv.end(), {"--segment", segment.string()});
    return testing::run_to_exit(argv, {}, 30s);
  }

  // Registers the scenario's hooks in table order and attaches; the watcher runs them.
  void join(const json::object& scenario) {
    client = std::make_unique<Client>(ClientOptions{.segment_path = segment, .name = "scenario"});
    for (const json::value& entry : scenario.at("hooks").as_array()) {
      const json::object& hook = entry.as_object();
      const std::string name = text_of(hook.at("name"));
      std::optional<std::string> fails;
      if (hook.contains("fails")) fails = text_of(hook.at("fails"));
      const HookOptions options{.order = hook.contains("order") ? static_cast<int>(hook.at("order").as_int64()) : 0};
      auto function = [this, name, fails] {
        calls.record(name);
        if (fails) throw std::runtime_error(*fails);
      };
      const std::string phase = text_of(hook.at("phase"));
      if (phase == "before-snapshot") {
        client->before_snapshot(name, function, options);
      } else if (phase == "after-restore") {
        client->after_restore(name, function, options);
      } else if (phase == "shutdown") {
        client->on_shutdown(name, function, options);
      } else {
        FAIL() << "unknown hook phase " << phase;
      }
    }
    ASSERT_TRUE(client->try_attach());
    client->start();
  }

  // The state and this process's slot, as `snapbus status --json` shows them.
  json::object status() {
    const testing::ExitResult result = snapbus_command({"status", "--json"});
    EXPECT_EQ(result.code, 0) << result.stderr_text;
    return json::parse(result.stdout_text).as_object();
  }

  void check_state_and_slot(const json::object& step, const std::string& where) {
    if (!step.contains("state") && !step.contains("slot")) return;
    const json::object report = status();
    if (step.contains("state")) {
      const json::object& state = report.at("state").as_object();
      for (const auto& [key, expected] : step.at("state").as_object()) {
        EXPECT_EQ(state.at(key), expected) << where << ": state." << key;
      }
    }
    if (!step.contains("slot")) return;
    const json::object* slot = nullptr;
    for (const json::value& candidate : report.at("subscribers").as_array()) {
      if (candidate.at("pid").to_number<std::int64_t>() == ::getpid()) slot = &candidate.as_object();
    }
    ASSERT_NE(slot, nullptr) << where << ": no slot of this process in " << json::serialize(report);
    for (const auto& [key, expected] : step.at("slot").as_object()) {
      if (key == "failures") {
        std::string message;
        for (const json::value& failure : expected.as_array()) {
          const json::array& parts = failure.as_array();
          if (!message.empty()) message += "; ";
          message += text_of(parts.at(0)) + " hook '" + text_of(parts.at(1)) +
                     "' failed: std::runtime_error: " + text_of(parts.at(2));
        }
        EXPECT_EQ(text_of(slot->at("message")), message) << where;
      } else {
        EXPECT_EQ(slot->at(key), expected) << where << ": slot." << key;
      }
    }
  }

  testing::ScratchDirectory dir;
  std::filesystem::path segment = dir.path() / "bus.seg";
  CallLog calls;
  std::unique_ptr<Client> client;
};

TEST_P(ClientScenario, Run) {
  const json::object& scenario = scenario_named(GetParam());
  SCOPED_TRACE(text_of(scenario.at("doc")));
  const testing::ExitResult created = snapbus_command({"publish", "running"});
  ASSERT_EQ(created.code, 0) << created.stdout_text << created.stderr_text;

  const json::array& steps = scenario.at("steps").as_array();
  const bool joins_later = std::any_of(steps.begin(), steps.end(),
                                       [](const json::value& step) { return step.as_object().contains("join"); });
  if (!joins_later) {
    ASSERT_NO_FATAL_FAILURE(join(scenario));
  }

  for (std::size_t i = 0; i < steps.size(); ++i) {
    const json::object& step = steps[i].as_object();
    std::string where = "step " + std::to_string(i + 1);
    if (step.contains("join")) {
      ASSERT_NO_FATAL_FAILURE(join(scenario));
    } else {
      const std::string phase = text_of(step.at("publish"));
      where += " (publish " + phase + ")";
      const testing::ExitResult result = snapbus_command({"publish", phase, "--timeout-ms", "10000"});
      EXPECT_EQ(result.code, step.at("exit").as_int64()) << where << "\n" << result.stdout_text << result.stderr_text;
    }
    std::vector<std::string> expected_calls;
    for (const json::value& call : step.at("calls").as_array()) expected_calls.push_back(text_of(call));
    EXPECT_EQ(calls.take(), expected_calls) << where;
    check_state_and_slot(step, where);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ClientScenario, ::testing::ValuesIn(scenario_names()),
                         [](const ::testing::TestParamInfo<std::string>& scenario) { return scenario.param; });

}  // namespace
}  // namespace snapbus
