// What `snapbus emulate` runs: one plain Config (the command line that fills it is in
// cli/emulate_command.h), and the environment files it reads.
//
//   snapbus::emulator::Config config;
//   config.snapstart = true;
//   config.user_env = snapbus::emulator::parse_env_file("AWS_LAMBDA_FUNCTION_NAME=demo\n", "inline");
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "snapbus/lambda_protocol.h"

namespace snapbus::emulator {

// The Lambda environment variables the emulator sets or reads, and the init types (lambda_protocol.h).
using lambda::kEnvDefaultRegion;
using lambda::kEnvExecWrapper;
using lambda::kEnvFunctionName;
using lambda::kEnvFunctionVersion;
using lambda::kEnvHandler;
using lambda::kEnvInitializationType;
using lambda::kEnvLang;
using lambda::kEnvLogGroup;
using lambda::kEnvLogStream;
using lambda::kEnvMemorySize;
using lambda::kEnvPath;
using lambda::kEnvRegion;
using lambda::kEnvRuntimeApi;
using lambda::kEnvRuntimeDir;
using lambda::kEnvTaskRoot;
using lambda::kEnvTz;
using lambda::kInitTypeOnDemand;
using lambda::kInitTypeSnapStart;

// Every process of the function carries this marker, so a sweep can find strays by their environment.
inline constexpr const char* kEnvEmulatorId = "SNAPBUS_EMULATOR_ID";
// And every process of the --while-frozen command carries this one: it runs beside the function,
// not in it, so what it leaves running (adopted by the emulator) is no part of the function's memory.
inline constexpr const char* kEnvWhileFrozenId = "SNAPBUS_EMULATOR_WHILE_FROZEN_ID";

// The account the emulated function belongs to: in its ARN, and for extensions that ask for it.
inline constexpr std::string_view kEmulatedAccountId = "000000000000";

enum class FreezerMode { automatic, cgroup, signal };

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9000;
  // The front door (Function URL and RIE invoke path). 9000/9001 keep clear of an app on 8080.
  std::uint16_t runtime_api_port = 9001;
  std::vector<std::string> command;
  // The runtime (bootstrap) command line; defaults to <task root>/bootstrap.
  std::string opt_dir;
  std::string task_root;
  std::string handler;
  std::string function_name = "function";
  std::string function_version = "$LATEST";
  unsigned memory_size_mb = 128;
  std::string region = "us-east-1";
  std::string exec_wrapper;
  std::chrono::milliseconds timeout{3000};
  bool snapstart = false;
  std::chrono::milliseconds init_timeout{10000};
  std::chrono::milliseconds restore_timeout{10000};
  std::chrono::milliseconds shutdown_timeout{2000};
  std::string while_frozen;
  FreezerMode freezer = FreezerMode::automatic;
  std::string json_report;
  std::string ready_file;
  bool clean_env = false;
  // After a failed Init, restore or invocation: exit (codes 3, 4, 5) instead of starting a fresh
  // environment for the next invocation, as Lambda does.
  bool exit_on_failure = false;
  // An Event invocation that fails runs again, as Lambda's asynchronous queue retries it: at most
  // this many times (Lambda's MaximumRetryAttempts, 0 to 2, 2 by default), the first retry after
  // event_retry_delay and the second after twice that (Lambda: one minute, then two).
  unsigned event_retries = 2;
  std::chrono::milliseconds event_retry_delay{60000};
  std::map<std::string, std::string> user_env;
  // From --env-file and --env, later ones winning; reserved names are refused.
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::map<std::string, std::string> parse_env_file(const std::string& text, const std::string& origin);
// KEY=VALUE lines; blank lines and # comments skipped; an optional `export ` prefix and matching
// surrounding quotes are removed.

}  // namespace snapbus::emulator
