#include "adapter_command.h"

#include <cstdlib>
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
