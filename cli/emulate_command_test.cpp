#include "emulate_command.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "command_line.h"

namespace snapbus::cli {
namespace {

emulator::Config parse_emulate(std::vector<std::string> words) { return parse_emulate_command(words); }

TEST(EmulateCommandTest, DefaultsKeepClearOf8080) {
  const emulator::Config config = parse_emulate({"--", "/bin/true"});
  EXPECT_EQ(config.port, 9000);
  EXPECT_EQ(config.runtime_api_port, 9001);
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.restore_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config.init_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config.command, std::vector<std::string>{"/bin/true"});
  EXPECT_EQ(config.task_root, std::filesystem::current_path().string());
  EXPECT_FALSE(config.snapstart);
}

// Lambda retries a failed Event twice, one minute and then two later; the emulator may wait less.
TEST(EmulateCommandTest, EventRetriesAreLambdasUnlessToldOtherwise) {
  const emulator::Config lambdas = parse_emulate({"--", "/bin/true"});
  EXPECT_EQ(lambdas.event_retries, 2U);
  EXPECT_EQ(lambdas.event_retry_delay, std::chrono::seconds(60));
  const emulator::Config quick =
      parse_emulate({"--event-retries", "1", "--event-retry-delay", "0.2", "--", "/bin/true"});
  EXPECT_EQ(quick.event_retries, 1U);
  EXPECT_EQ(quick.event_retry_delay, std::chrono::milliseconds(200));
  EXPECT_EQ(parse_emulate({"--event-retries", "0", "--", "/bin/true"}).event_retries, 0U);
  EXPECT_THROW(parse_emulate({"--event-retries", "3", "--", "/bin/true"}), UsageError);  // Lambda's maximum is 2
  EXPECT_THROW(parse_emulate({"--event-retry-delay", "0", "--", "/bin/true"}), UsageError);
}

// Lambda gives a SnapStart Init the longer of 130 s and the function's timeout.
TEST(EmulateCommandTest, ASnapStartInitMayLastAsLongAsTheFunctionTimeout) {
  auto init_limit = [](std::vector<std::string> words) {
    words.insert(words.end(), {"--", "/bin/true"});
    return parse_emulate(words).init_timeout;
  };
  EXPECT_EQ(init_limit({"--snapstart", "--timeout", "300"}), std::chrono::seconds(300));
  EXPECT_EQ(init_limit({"--snapstart", "--timeout", "30"}), std::chrono::seconds(130));
  EXPECT_EQ(init_limit({"--snapstart", "--timeout", "300", "--init-timeout", "20"}), std::chrono::seconds(20));
  EXPECT_EQ(init_limit({"--timeout", "300"}), std::chrono::seconds(10));
}

TEST(EmulateCommandTest, FlagsAndCommandWithoutSeparator) {
  const emulator::Config config = parse_emulate({"--snapstart", "--restore-timeout", "2.5", "--port", "0", "--freezer",
                                                 "signal", "--while-frozen", "echo hi", "/bin/echo", "--not-a-flag"});
  EXPECT_TRUE(config.snapstart);
  EXPECT_EQ(config.restore_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(config.init_timeout, std::chrono::seconds(130));
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.freezer, emulator::FreezerMode::signal);
  EXPECT_EQ(config.while_frozen, "echo hi");
  EXPECT_EQ(config.command, (std::vector<std::string>{"/bin/echo", "--not-a-flag"}));
}

TEST(EmulateCommandTest, EqualsFormAndSeparatorKeepTheCommandWhole) {
  const emulator::Config config =
      parse_emulate({"--port=0", "--runtime-api-port=0", "--memory-size=512", "--timeout=1.5", "--init-timeout", "20",
                     "--snapstart", "--", "/bin/sh", "-c", "--", "x"});
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.runtime_api_port, 0);
  EXPECT_EQ(config.memory_size_mb, 512U);
  EXPECT_EQ(config.timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.init_timeout, std::chrono::seconds(20)) << "given, so --snapstart does not raise it";
  EXPECT_EQ(config.command, (std::vector<std::string>{"/bin/sh", "-c", "--", "x"}));
}

TEST(EmulateCommandTest, BadInputGetsClearErrors) {
  EXPECT_THROW(parse_emulate({"--port", "70000", "--", "x"}), UsageError);
  EXPECT_THROW(parse_emulate({"--frobnicate"}), UsageError);
  EXPECT_THROW(parse_emulate({"--frobnicate", "--", "x"}), UsageError);
  EXPECT_THROW(parse_emulate({"--timeout"}), UsageError);
  EXPECT_THROW(parse_emulate({"--while-frozen", "x", "--", "x"}), UsageError);  // needs --snapstart
  EXPECT_THROW(parse_emulate({"--env", "AWS_LAMBDA_RUNTIME_API=elsewhere", "--", "x"}), UsageError);
  EXPECT_THROW(parse_emulate({"--env", "no-equals", "--", "x"}), UsageError);
  EXPECT_THROW(parse_emulate({"--env-file", "/nonexistent/env", "--", "x"}), UsageError);
  EXPECT_THROW(parse_emulate({"--freezer", "ice", "--", "x"}), UsageError);
  EXPECT_THROW(parse_emulate({"--task-root", "/nonexistent/dir", "--", "x"}), UsageError);
  try {
    parse_emulate({"--memory-size", "12"});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--memory-size"), std::string::npos) << e.what();
  }
  try {
    parse_emulate({"--timeout", "soon", "--", "x"});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "--timeout expects a number of seconds from 0.001 to 86400, got 'soon'");
  }
  EXPECT_THROW(parse_emulate({"--timeout", "0.0001", "--", "x"}), UsageError);  // 0 ms
  EXPECT_EQ(parse_emulate({"--timeout", "0.001", "--", "x"}).timeout, std::chrono::milliseconds(1));
}

TEST(EmulateCommandTest, ListenAddressAndOutputFilesAreCheckedBeforeAnythingStarts) {
  for (const char* host : {"notanaddr", "256.0.0.1", "localhost"}) {
    try {
      parse_emulate({"--host", host, "--", "x"});
      ADD_FAILURE() << host;
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()), std::string("--host expects an IPv4 or IPv6 address, got '") + host + "'");
    }
  }
  EXPECT_EQ(parse_emulate({"--host", "::1", "--", "x"}).host, "::1");
  for (const char* flag : {"--ready-file", "--json"}) {
    try {
      parse_emulate({flag, "/nonexistent/dir/out.json", "--", "x"});
      ADD_FAILURE() << flag;
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()),
                std::string(flag) + " '/nonexistent/dir/out.json': the directory /nonexistent/dir does not exist");
    }
  }
}

TEST(EmulateCommandTest, FunctionSettingsFromAnEnvFileUnlessAFlagGivesThem) {
  const auto path = std::filesystem::temp_directory_path() / ("emulate_command_test_" + std::to_string(::getpid()));
  {
    std::ofstream out(path);
    out << "AWS_LAMBDA_FUNCTION_NAME=from-file\n_HANDLER=app.handler\nAWS_LAMBDA_FUNCTION_MEMORY_SIZE=512\nX=1\n";
  }
  const emulator::Config config =
      parse_emulate({"--env-file", path.string(), "--function-name", "from-flag", "--env", "X=2", "--", "x"});
  std::filesystem::remove(path);
  EXPECT_EQ(config.function_name, "from-flag");  // flags win
  EXPECT_EQ(config.handler, "app.handler");
  EXPECT_EQ(config.memory_size_mb, 512U);
  EXPECT_EQ(config.user_env.at("X"), "2");  // a later --env wins over the file
}

TEST(EmulateCommandTest, HelpMentionsEveryFlag) {
  try {
    parse_emulate({"--help"});
    FAIL() << "no help";
  } catch (const HelpRequested& help) {
    const std::string& usage = help.text();
    EXPECT_EQ(usage.rfind("usage: snapbus emulate [options] [--] [runtime command...]\n", 0), 0U) << usage;
    for (const char* flag : {"--host",
                             "--port",
                             "--runtime-api-port",
                             "--task-root",
                             "--handler",
                             "--opt",
                             "--function-name",
                             "--function-version",
                             "--memory-size",
                             "--region",
                             "--exec-wrapper",
                             "--timeout",
                             "--env-file",
                             "--env",
                             "--clean-env",
                             "--snapstart",
                             "--while-frozen",
                             "--freezer",
                             "--init-timeout",
                             "--restore-timeout",
                             "--shutdown-timeout",
                             "--event-retries",
                             "--event-retry-delay",
                             "--ready-file",
                             "--json",
                             "Exit codes:",
                             "Lifecycle:"}) {
      EXPECT_NE(usage.find(flag), std::string::npos) << flag;
    }
  }
}

}  // namespace
}  // namespace snapbus::cli
