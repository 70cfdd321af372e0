#include "snapbus/emulate_config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

ParsedArgs parse(std::vector<std::string> args) {
  args.insert(args.begin(), "emulate");
  return parse_emulate_args(args);
}

TEST(EmulateConfig, DefaultsKeepClearOf8080) {
  auto config = parse({"--", "/bin/true"}).config;
  EXPECT_EQ(config.port, 9000);
  EXPECT_EQ(config.runtime_api_port, 9001);
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.restore_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config.init_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config.command, std::vector<std::string>{"/bin/true"});
  EXPECT_FALSE(config.snapstart);
}

TEST(EmulateConfig, FlagsAndCommandWithoutSeparator) {
  auto config = parse({"--snapstart", "--restore-timeout", "2.5", "--port", "0", "--freezer", "signal",
                       "--while-frozen", "echo hi", "/bin/echo", "--not-a-flag"})
                    .config;
  EXPECT_TRUE(config.snapstart);
  EXPECT_EQ(config.restore_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(config.init_timeout, std::chrono::seconds(130));
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.freezer, FreezerMode::kSignal);
  EXPECT_EQ(config.command, (std::vector<std::string>{"/bin/echo", "--not-a-flag"}));
}

TEST(EmulateConfig, BadInputGetsClearErrors) {
  EXPECT_THROW(parse({"--port", "70000", "--", "x"}), ConfigError);
  EXPECT_THROW(parse({"--frobnicate"}), ConfigError);
  EXPECT_THROW(parse({"--timeout"}), ConfigError);
  EXPECT_THROW(parse({"--while-frozen", "x", "--", "x"}), ConfigError);  // needs --snapstart
  EXPECT_THROW(parse({"--env", "AWS_LAMBDA_RUNTIME_API=elsewhere", "--", "x"}), ConfigError);
  EXPECT_THROW(parse({"--freezer", "ice", "--", "x"}), ConfigError);
  try {
    parse({"--memory-size", "12"});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--memory-size"), std::string::npos);
  }
}

TEST(EmulateConfig, EnvFileParsingAndFunctionSettings) {
  auto vars = parse_env_file("# comment\n\nexport A=1\nB = \"two words\"\nC='x=y'\n", "test");
  EXPECT_EQ(vars.at("A"), "1");
  EXPECT_EQ(vars.at("B"), "two words");
  EXPECT_EQ(vars.at("C"), "x=y");
  EXPECT_THROW(parse_env_file("no equals\n", "test"), ConfigError);

  const auto path = std::filesystem::temp_directory_path() / ("emulate_config_test_" + std::to_string(::getpid()));
  {
    std::ofstream out(path);
    out << "AWS_LAMBDA_FUNCTION_NAME=from-file\n_HANDLER=app.handler\nAWS_LAMBDA_FUNCTION_MEMORY_SIZE=512\nX=1\n";
  }
  auto config = parse({"--env-file", path.string(), "--function-name", "from-flag", "--", "x"}).config;
  std::filesystem::remove(path);
  EXPECT_EQ(config.function_name, "from-flag");  // flags win
  EXPECT_EQ(config.handler, "app.handler");
  EXPECT_EQ(config.memory_size_mb, 512U);
  EXPECT_EQ(config.user_env.at("X"), "1");
}

TEST(EmulateConfig, HelpMentionsEveryFlag) {
  EXPECT_TRUE(parse({"--help"}).help);
  const std::string usage = emulate_usage();
  for (const char* flag : {"--host", "--port", "--runtime-api-port", "--task-root", "--handler", "--opt",
                           "--function-name", "--function-version", "--memory-size", "--region", "--exec-wrapper",
                           "--timeout", "--env-file", "--env", "--clean-env", "--snapstart", "--while-frozen",
                           "--freezer", "--init-timeout", "--restore-timeout", "--shutdown-timeout", "--ready-file",
                           "--json"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace snapbus::emulator
