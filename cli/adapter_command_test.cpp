#include "adapter_command.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "command_line.h"

namespace snapbus::cli {
namespace {

TEST(AdapterCommandTest, StartedFromAnExtensionsDirectoryWithoutArgumentsIsTheExtension) {
  EXPECT_EQ(extension_name_for("/opt/extensions/snapbus", 0), "snapbus");
  EXPECT_EQ(extension_name_for("/opt/extensions/my-adapter", 0), "my-adapter");
  EXPECT_EQ(extension_name_for("extensions/snapbus", 0), "snapbus");
}

TEST(AdapterCommandTest, AnythingElseIsTheCommandLine) {
  EXPECT_EQ(extension_name_for("/opt/extensions/snapbus", 1), std::nullopt);  // arguments: a person typed it
  EXPECT_EQ(extension_name_for("/usr/bin/snapbus", 0), std::nullopt);
  EXPECT_EQ(extension_name_for("snapbus", 0), std::nullopt);
}

TEST(AdapterCommandTest, LwasExtensionBesideThisOneIsWarnedOf) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("snapbus-adapter-command-test." + std::to_string(::getpid())) / "extensions";
  std::filesystem::create_directories(dir);
  const std::string self = (dir / "snapbus").string();
  EXPECT_EQ(warning_for_lwa_beside(self), std::nullopt);
  std::ofstream(dir / "lambda-adapter") << "LWA";
  const auto warning = warning_for_lwa_beside(self);
  ASSERT_TRUE(warning.has_value());
  EXPECT_NE(warning->find((dir / "lambda-adapter").string() + " is here too"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("remove LWA's layer"), std::string::npos) << *warning;

  // Said at start-up in web mode; proxy mode keeps LWA in front on purpose. (Without a Runtime API the
  // command stops right after.)
  ::unsetenv("AWS_LAMBDA_RUNTIME_API");
  for (const char* mode : {"web", "proxy"}) {
    ::setenv("SNAPBUS_MODE", mode, 1);
    ::testing::internal::CaptureStderr();
    EXPECT_THROW(run_adapter_command({}, "snapbus", AdapterCommand::adapter, self), UsageError);
    const std::string said = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(said.find("lambda-adapter is here too") != std::string::npos, std::string(mode) == "web") << said;
  }
  ::unsetenv("SNAPBUS_MODE");
  std::filesystem::remove_all(dir.parent_path());
}

TEST(AdapterCommandTest, HelpListsTheVariablesAndExitCodes) {
  const std::vector<std::string> words{"--help"};
  try {
    run_adapter_command(words, std::nullopt);
    FAIL() << "--help must end the command";
  } catch (const HelpRequested& help) {
    EXPECT_NE(help.text().find("AWS_LWA_PORT"), std::string::npos);
    EXPECT_NE(help.text().find("SNAPBUS_EXPECT_SUBSCRIBERS"), std::string::npos);
    EXPECT_NE(help.text().find("exit codes"), std::string::npos);
  }
}

TEST(AdapterCommandTest, AMalformedVariableIsAUsageErrorNamingIt) {
  ASSERT_EQ(setenv("AWS_LWA_PORT", "eighty", 1), 0);
  try {
    run_adapter_command({}, std::nullopt);
    FAIL() << "a malformed AWS_LWA_PORT must not start the adapter";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("AWS_LWA_PORT"), std::string::npos) << error.what();
  }
  unsetenv("AWS_LWA_PORT");
}

TEST(AdapterCommandTest, AnUnknownOptionIsAUsageError) {
  const std::vector<std::string> words{"--port", "8080"};
  EXPECT_THROW(run_adapter_command(words, std::nullopt), UsageError);
}

}  // namespace
}  // namespace snapbus::cli
