#include "function_launcher.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const char* root = std::getenv("SNAPBUS_TEST_TMPDIR");
  fs::path dir = fs::path(root != nullptr ? root : "/tmp") / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

TEST(FunctionLauncher, EnvironmentHasTheLambdaVariables) {
  Config config;
  config.task_root = "/var/task";
  config.handler = "app.handler";
  config.function_name = "fn";
  config.memory_size_mb = 512;
  config.region = "eu-west-1";
  config.exec_wrapper = "/opt/wrapper";
  config.clean_env = true;
  config.user_env["MY_VAR"] = "1";
  config.user_env["TZ"] = "Europe/Paris";
  auto env = function_environment(config, "127.0.0.1:9001", kInitTypeSnapStart, "SNAPBUS_EMULATOR_ID=x");
  for (const char* entry :
       {"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001", "AWS_LAMBDA_INITIALIZATION_TYPE=snap-start",
        "LAMBDA_TASK_ROOT=/var/task", "_HANDLER=app.handler", "AWS_LAMBDA_FUNCTION_NAME=fn",
        "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512", "AWS_REGION=eu-west-1",
        "AWS_DEFAULT_REGION=eu-west-1", "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn",
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper", "MY_VAR=1", "TZ=Europe/Paris", "SNAPBUS_EMULATOR_ID=x"}) {
    EXPECT_TRUE(has(env, entry)) << entry;
  }
  EXPECT_FALSE(has(env, std::string("HOME=") + (std::getenv("HOME") ? std::getenv("HOME") : "")));
}

TEST(FunctionLauncher, ExecWrapperGoesFirst) {
  Config config;
  config.command = {"/var/runtime/bootstrap", "--flag"};
  EXPECT_EQ(runtime_argv(config), config.command);
  config.exec_wrapper = "/opt/wrapper";
  EXPECT_EQ(runtime_argv(config), (std::vector<std::string>{"/opt/wrapper", "/var/runtime/bootstrap", "--flag"}));
}

// As the RIE lists them (agents.ListExternalAgentPaths): every entry but a directory, in name order,
// whether it can be run or not; starting one that cannot is what fails.
TEST(FunctionLauncher, FindsEveryExtensionButADirectoryInOrder) {
  const auto opt = scratch("launcher_opt");
  fs::create_directories(opt / "extensions" / "a-directory");
  for (const char* name : {"b-ext", "a-ext", "not-executable"}) {
    std::ofstream(opt / "extensions" / name) << "#!/bin/sh\n";
  }
  ::chmod((opt / "extensions" / "a-ext").c_str(), 0755);
  ::chmod((opt / "extensions" / "b-ext").c_str(), 0755);
  fs::create_directory_symlink(opt / "extensions" / "a-directory", opt / "extensions" / "link-to-directory");
  auto found = find_extensions(opt.string());
  ASSERT_EQ(found.size(), 4U);
  EXPECT_EQ(found[0].filename(), "a-ext");
  EXPECT_EQ(found[1].filename(), "b-ext");
  EXPECT_EQ(found[2].filename(), "link-to-directory");
  EXPECT_EQ(found[3].filename(), "not-executable");
  EXPECT_TRUE(find_extensions("").empty());
}

TEST(FunctionLauncher, SpawnsWithEnvironmentAndDirectory) {
  const auto dir = scratch("launcher_spawn");
  const pid_t pid = spawn_process({.argv = {"/bin/sh", "-c", "echo \"$GREETING $(pwd)\" > out.txt"},
                                   .env = {"GREETING=hello", "PATH=/usr/bin:/bin"},
                                   .cwd = dir.string()},
                                  nullptr);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream in(dir / "out.txt");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "hello " + dir.string());
}

TEST(FunctionLauncher, ExecFailureIsAClearError) {
  try {
    spawn_process({.argv = {"/nonexistent/bootstrap"}, .env = {}, .cwd = {}}, nullptr);
    FAIL() << "expected LaunchError";
  } catch (const LaunchError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/bootstrap"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos);
  }
}

}  // namespace
}  // namespace snapbus::emulator
