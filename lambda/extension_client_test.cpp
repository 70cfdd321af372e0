// End to end: ExtensionClient as an external extension (testing/client_extension.cpp, started from
// <opt>/extensions/) of a function under the real `snapbus emulate`, beside a RuntimeClient runtime.
#include "snapbus/extension_client.h"

#include <gtest/gtest.h>

#include "testing/local_lambda.h"
#include "testing/scratch_directory.h"

namespace snapbus::lambda {
namespace {

using namespace std::chrono_literals;
using testing::executable_from_environment;
using testing::LocalLambda;
using testing::wait_for_line;

// An /opt with the extension under the name "client-ext", and the emulator arguments around it.
class ExtensionScenario {
 public:
  ExtensionScenario() {
    std::filesystem::create_directories(dir_.path() / "opt" / "extensions");
    std::filesystem::create_symlink(executable_from_environment("SNAPBUS_CLIENT_EXTENSION"),
                                    dir_.path() / "opt" / "extensions" / "client-ext");
  }
  [[nodiscard]] std::vector<std::string> args(const std::string& extension_mode) const {
    return {"--opt",
            (dir_.path() / "opt").string(),
            "--function-name",
            "fn",
            "--handler",
            "app.handler",
            "--env",
            "SNAPBUS_CLIENT_TEST_DIR=" + dir_.path().string(),
            "--env",
            "SNAPBUS_CLIENT_TEST_EXTENSION_MODE=" + extension_mode,
            "--",
            executable_from_environment("SNAPBUS_CLIENT_RUNTIME"),
            "echo"};
  }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_.path(); }
  [[nodiscard]] std::filesystem::path records() const { return dir_.path() / "extension.txt"; }

 private:
  snapbus::testing::ScratchDirectory dir_;
};

TEST(ExtensionClient, RegisterThenInvokeAndShutdownEvents) {
  ExtensionScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("events"));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  auto answer = testing::invoke(emu.front_door_port(), R"({"x":1})");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->body(), R"({"x":1})");
  const auto invoke = wait_for_line(scenario.records(), "INVOKE ");
  ASSERT_TRUE(invoke) << emu.diagnostics();
  const auto runtime_event = wait_for_line(scenario.dir() / "runtime.txt", "event ");
  ASSERT_TRUE(runtime_event);
  const std::string request_id = runtime_event->substr(6, runtime_event->find(' ', 6) - 6);
  EXPECT_EQ(*invoke, "INVOKE " + request_id +
                         " deadline=set arn=arn:aws:lambda:us-east-1:000000000000:function:fn trace=present "
                         "event_id=present")
      << *invoke;
  EXPECT_EQ(emu.stop(), 0);
  const auto lines = testing::read_lines(scenario.records());
  ASSERT_EQ(lines.size(), 4U) << emu.diagnostics();
  EXPECT_EQ(lines[0], "next before register: invalid_argument 0 ");
  EXPECT_EQ(lines[1], "registered client-ext identifier=present function=fn version=$LATEST handler=app.handler");
  EXPECT_EQ(lines[3], "SHUTDOWN spindown deadline=set");
}

class ExtensionError : public ::testing::TestWithParam<std::string> {};

TEST_P(ExtensionError, FailsInit) {
  ExtensionScenario scenario;
  auto args = scenario.args(GetParam());
  args.insert(args.begin(), "--exit-on-failure");
  LocalLambda emu(scenario.dir(), args);
  EXPECT_EQ(emu.wait_exit(20s), 3) << emu.diagnostics();
  EXPECT_NE(emu.log().find("Extension.TestFailure"), std::string::npos) << emu.log();
  // The emulator may end the extension before it records the 202 it got.
  const auto lines = testing::read_lines(scenario.records());
  ASSERT_GE(lines.size(), 2U) << emu.diagnostics();
  EXPECT_EQ(lines[1].rfind("registered client-ext ", 0), 0U) << lines[1];
  if (lines.size() > 2) {
    EXPECT_EQ(lines[2], GetParam() + ": ok");
  }
}

INSTANTIATE_TEST_SUITE_P(InitAndExit, ExtensionError, ::testing::Values("init-error", "exit-error"));

}  // namespace
}  // namespace snapbus::lambda
