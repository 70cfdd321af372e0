#include "emulate_command.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include "command_line.h"
#include "snapbus/file_contents.h"
#include "snapbus/text.h"

namespace snapbus::cli {
namespace {

constexpr const char* kDescription =
    "Runs a function the way AWS Lambda does: extensions from <opt>/extensions first, then the runtime\n"
    "(through AWS_LAMBDA_EXEC_WRAPPER when set), serving the Runtime API and the Extensions API on\n"
    "--runtime-api-port and invocations on --port. With --snapstart, Init ends with a real freeze of\n"
    "every process of the function, then a restore. Lambda log lines and the function's output (its\n"
    "stdout and stderr, in order) go to stdout, diagnostics to stderr.";

constexpr const char* kExitCodes =
    "After a failure the next invocation gets a fresh environment (a new Init, and with --snapstart a\n"
    "freeze and restore), unless --exit-on-failure.\n"
    "Exit codes: 0 orderly shutdown (SIGINT/SIGTERM, or the reader of stdout went away), 1 internal\n"
    "error, 2 bad usage; with --exit-on-failure also 3 Init failed, 4 restore failed, 5 the runtime\n"
    "failed during an invocation (crash, timeout, exit/error).";

constexpr const char* kPorts = "Ports (0 picks a free port; see --ready-file)";
constexpr const char* kFunction = "Function";
constexpr const char* kLifecycle = "Lifecycle";
constexpr const char* kReporting = "Reporting";

// The emulator owns these: letting a file override them would make the function talk to nothing.
bool is_reserved(const std::string& name) {
  return name == emulator::kEnvRuntimeApi || name == emulator::kEnvInitializationType ||
         name == emulator::kEnvEmulatorId;
}

// Seconds with an optional fraction, as Lambda's own settings are given.
std::chrono::milliseconds parse_seconds(const std::string& flag, const std::string& text) {
  double seconds = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, seconds);
  // Kept in milliseconds: a value that rounds to 0 ms would time out everything at once.
  if (text.empty() || error != std::errc() || stop != end || !(seconds >= 0.0005) || seconds > 86400) {
    throw UsageError(flag + " expects a number of seconds from 0.001 to 86400, got '" + text + "'");
  }
  return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

void add_seconds_option(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                        const std::string& description, const char* group) {
  app.add_option_function<std::string>(
         name, [&target, name](const std::string& text) { target = parse_seconds(name, text); }, description)
      ->option_text("S")
      ->group(group);
}

// --env-file and --env, in the order given: a later variable wins.
void add_user_env(emulator::Config& config, const std::map<std::string, std::string>& vars, const std::string& origin) {
  for (const auto& [name, value] : vars) {
    if (is_reserved(name)) throw UsageError(fmt::format("{}: {} is reserved; the emulator sets it", origin, name));
    config.user_env[name] = value;
  }
}

std::map<std::string, std::string> env_lines(const std::string& text, const std::string& origin) {
  try {
    return emulator::parse_env_file(text, origin);
  } catch (const emulator::ConfigError& error) {
    throw UsageError(error.what());
  }
}

std::string env_file_text(const std::string& path) {
  try {
    return read_file_contents(path);
  } catch (const std::system_error& error) {
    throw UsageError("cannot read env file '" + path + "': " + error.code().message());
  }
}

std::uint16_t port_number(std::optional<std::int64_t> value, std::uint16_t fallback) {
  return value ? static_cast<std::uint16_t>(*value) : fallback;
}

// After the options: the runtime command, or a word that looked like an option but is none.
std::vector<std::string> runtime_command(const CLI::App& app) {
  std::vector<std::string> rest = app.remaining();
  if (rest.empty()) return rest;
  if (rest.front() == "--") return {rest.begin() + 1, rest.end()};
  if (rest.front().size() > 1 && rest.front().front() == '-') {
    throw UsageError("unknown option '" + rest.front() + "'");
  }
  return rest;
}

// Flags win; otherwise an env file may carry the function's settings the way Lambda shows them.
void take_settings_from_env(const CLI::App& app, emulator::Config& config) {
  auto from_env = [&](const char* flag, const char* name, std::string& field) {
    if (app.count(flag) != 0) return;
    if (auto found = config.user_env.find(name); found != config.user_env.end()) field = found->second;
  };
  from_env("--handler", emulator::kEnvHandler, config.handler);
  from_env("--task-root", emulator::kEnvTaskRoot, config.task_root);
  from_env("--function-name", emulator::kEnvFunctionName, config.function_name);
  from_env("--function-version", emulator::kEnvFunctionVersion, config.function_version);
  from_env("--region", emulator::kEnvRegion, config.region);
  from_env("--exec-wrapper", emulator::kEnvExecWrapper, config.exec_wrapper);
  if (app.count("--memory-size") == 0) {
    if (auto found = config.user_env.find(emulator::kEnvMemorySize); found != config.user_env.end()) {
      const auto megabytes = parse_number<unsigned>(found->second, 128, 10240);
      if (!megabytes) {
        throw UsageError(std::string(emulator::kEnvMemorySize) + " expects a whole number from 128 to 10240, got '" +
                         found->second + "'");
      }
      config.memory_size_mb = *megabytes;
    }
  }
}

// Files the emulator writes later (the ready file once it listens, the report at exit) go into a
// directory that must exist and be writable now: a script that waits for the ready file would
// otherwise wait forever.
void check_output_file(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::absolute(path, ec).parent_path();
  if (!std::filesystem::is_directory(parent, ec)) {
    throw UsageError(fmt::format("{} '{}': the directory {} does not exist", flag, path, parent.string()));
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw UsageError(fmt::format("{} '{}': cannot write in {}: {}", flag, path, parent.string(),
                                 std::generic_category().message(errno)));
  }
}

// The listen address is an IP address: the emulator resolves no names.
void check_host(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) throw UsageError(fmt::format("--host expects an IPv4 or IPv6 address, got '{}'", host));
}

// The task root must exist. Without a command, the runtime is the first bootstrap Lambda looks for
// in a custom runtime: the task root's, then the one in /opt (a layer's, such as the adapter's).
void check_function_files(emulator::Config& config) {
  std::error_code ec;
  if (config.task_root.empty()) config.task_root = std::filesystem::current_path(ec).string();
  config.task_root = std::filesystem::absolute(config.task_root, ec).string();
  if (!std::filesystem::is_directory(config.task_root, ec)) {
    throw UsageError("task root '" + config.task_root + "' is not a directory");
  }
  if (!config.opt_dir.empty()) {
    // Extensions run in the task root, so a relative --opt would point elsewhere for them.
    config.opt_dir = std::filesystem::absolute(config.opt_dir, ec).string();
    if (!std::filesystem::is_directory(config.opt_dir, ec)) {
      throw UsageError("--opt '" + config.opt_dir + "' is not a directory");
    }
  }
  if (config.command.empty()) {
    std::vector<std::filesystem::path> candidates{std::filesystem::path(config.task_root) / "bootstrap"};
    if (!config.opt_dir.empty()) candidates.push_back(std::filesystem::path(config.opt_dir) / "bootstrap");
    for (const auto& bootstrap : candidates) {
      if (std::filesystem::exists(bootstrap, ec)) {
        config.command.push_back(std::filesystem::absolute(bootstrap, ec).string());
        return;
      }
    }
    throw UsageError("no runtime command given and no bootstrap in the task root '" + config.task_root + "'" +
                     (config.opt_dir.empty() ? "" : " or in --opt '" + config.opt_dir + "'") +
                     "; pass one after --, e.g. snapbus emulate -- /usr/bin/python3 runtime.py");
  }
}

// Numbers CLI11 reads before they are checked and converted.
struct NumberOptions {
  std::optional<std::int64_t> port;
  std::optional<std::int64_t> runtime_api_port;
  std::optional<std::int64_t> memory_size;
  std::optional<std::int64_t> event_retries;
};

// Where the emulator listens.
void add_port_options(CLI::App& app, emulator::Config& config, NumberOptions& numbers) {
  app.add_option("--host", config.host, "listen address (default 127.0.0.1)")->option_text("ADDR")->group(kPorts);
  add_number_option(app, "--port", numbers.port,
                    "front door: Function URL requests, and the Invoke API\n"
                    "POST /2015-03-31/functions/<name>/invocations of the AWS CLI\n"
                    "and SDKs (`function` as in the RIE, or --function-name), and\n"
                    "InvokeWithResponseStream (default 9000)",
                    0, 65535)
      ->group(kPorts);
  add_number_option(app, "--runtime-api-port", numbers.runtime_api_port,
                    "Runtime and Extensions API, AWS_LAMBDA_RUNTIME_API (default 9001)", 0, 65535)
      ->group(kPorts);
}

// What Lambda would know of the function: its files, names, limits and environment.
void add_function_options(CLI::App& app, emulator::Config& config, NumberOptions& numbers) {
  app.add_option("--task-root", config.task_root, "LAMBDA_TASK_ROOT and the runtime's working directory (default: cwd)")
      ->option_text("DIR")
      ->group(kFunction);
  app.add_option("--handler", config.handler, "_HANDLER (default: empty)")->option_text("NAME")->group(kFunction);
  app.add_option("--opt", config.opt_dir,
                 "the /opt of the function; executables in DIR/extensions are started\n"
                 "as external extensions, and DIR/bootstrap is the runtime when the\n"
                 "task root has none and no command is given (default: none)")
      ->option_text("DIR")
      ->group(kFunction);
  app.add_option("--function-name", config.function_name, "AWS_LAMBDA_FUNCTION_NAME (default function)")
      ->option_text("NAME")
      ->group(kFunction);
  app.add_option("--function-version", config.function_version, "AWS_LAMBDA_FUNCTION_VERSION (default $LATEST)")
      ->option_text("V")
      ->group(kFunction);
  add_number_option(app, "--memory-size", numbers.memory_size, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)", 128,
                    10240)
      ->option_text("MB")
      ->group(kFunction);
  app.add_option("--region", config.region, "AWS_REGION and AWS_DEFAULT_REGION (default us-east-1)")
      ->option_text("NAME")
      ->group(kFunction);
  app.add_option("--exec-wrapper", config.exec_wrapper,
                 "AWS_LAMBDA_EXEC_WRAPPER (default: taken from the function environment)")
      ->option_text("PATH")
      ->group(kFunction);
  add_seconds_option(app, "--timeout", config.timeout, "function timeout in seconds, sets the deadline (default 3)",
                     kFunction);
  app.add_option_function<std::string>(
         "--env-file",
         [&config](const std::string& path) { add_user_env(config, env_lines(env_file_text(path), path), path); },
         "KEY=VALUE lines added to the function environment (repeatable)")
      ->option_text("FILE")
      ->trigger_on_parse()
      ->group(kFunction);
  app.add_option_function<std::string>(
         "--env", [&config](const std::string& line) { add_user_env(config, env_lines(line, "--env"), "--env"); },
         "one variable (repeatable; later wins)")
      ->option_text("KEY=VALUE")
      ->trigger_on_parse()
      ->group(kFunction);
  app.add_flag("--clean-env", config.clean_env, "do not pass the emulator's own environment on (keeps PATH only)")
      ->group(kFunction);
}

// SnapStart, what a failure ends, and the time limits of each phase.
void add_lifecycle_options(CLI::App& app, emulator::Config& config, NumberOptions& numbers) {
  app.add_flag("--exit-on-failure", config.exit_on_failure,
               "exit after a failed Init, restore or invocation (codes 3, 4, 5) instead of starting a fresh "
               "environment for the next invocation")
      ->group(kLifecycle);
  app.add_flag("--snapstart", config.snapstart, "AWS_LAMBDA_INITIALIZATION_TYPE=snap-start: freeze after Init, restore")
      ->group(kLifecycle);
  app.add_option("--while-frozen", config.while_frozen, "run CMD (through /bin/sh -c) while the function is frozen")
      ->option_text("CMD")
      ->group(kLifecycle);
  app.add_option_function<std::string>(
         "--freezer",
         [&config](const std::string& mode) {
           if (mode == "auto") {
             config.freezer = emulator::FreezerMode::automatic;
           } else if (mode == "cgroup") {
             config.freezer = emulator::FreezerMode::cgroup;
           } else if (mode == "signal") {
             config.freezer = emulator::FreezerMode::signal;
           } else {
             throw UsageError("--freezer expects auto, cgroup or signal, got '" + mode + "'");
           }
         },
         "auto | cgroup | signal (default auto: cgroup v2 when writable)")
      ->option_text("MODE")
      ->group(kLifecycle);
  add_seconds_option(
      app, "--init-timeout", config.init_timeout,
      "Init limit (default 10; with --snapstart 130, or --timeout if longer); on demand, an Init past it "
      "runs again for the next invocation, within --timeout",
      kLifecycle);
  add_seconds_option(app, "--restore-timeout", config.restore_timeout,
                     "restore limit, SnapStartTimeoutException after it (default 10)", kLifecycle);
  add_seconds_option(app, "--shutdown-timeout", config.shutdown_timeout,
                     "time the runtime and extensions get to exit (default 2)", kLifecycle);
  add_number_option(app, "--event-retries", numbers.event_retries,
                    "times a failed Event invocation runs again, with the same request id\n"
                    "(Lambda's MaximumRetryAttempts; default 2)",
                    0, 2)
      ->group(kLifecycle);
  add_seconds_option(app, "--event-retry-delay", config.event_retry_delay,
                     "wait before an Event's first retry; the second waits twice as long\n"
                     "(default 60, Lambda's one minute, which it does not let you change)",
                     kLifecycle);
}

// What the emulator writes for scripts and tests.
void add_reporting_options(CLI::App& app, emulator::Config& config) {
  app.add_option("--ready-file", config.ready_file, "written (JSON: runtimeApi, frontDoor, pid) once both ports listen")
      ->option_text("FILE")
      ->group(kReporting);
  app.add_option("--json", config.json_report, "JSON report of phases and invocations, written at exit")
      ->option_text("FILE")
      ->group(kReporting);
  // Made again so that it comes last, under Reporting (the groups are listed in order of first use).
  app.set_help_flag("-h,--help", "this help")->group(kReporting);
}

}  // namespace

emulator::Config parse_emulate_command(std::span<const std::string> words) {
  const auto app = command_app("snapbus emulate", kDescription, kExitCodes, 28, "[options] [--] [runtime command...]");
  app->prefix_command();
  emulator::Config config;
  NumberOptions numbers;
  add_port_options(*app, config, numbers);
  add_function_options(*app, config, numbers);
  add_lifecycle_options(*app, config, numbers);
  add_reporting_options(*app, config);
  parse_command_line(*app, words);

  config.command = runtime_command(*app);
  config.port = port_number(numbers.port, config.port);
  config.runtime_api_port = port_number(numbers.runtime_api_port, config.runtime_api_port);
  if (numbers.memory_size) config.memory_size_mb = static_cast<unsigned>(*numbers.memory_size);
  if (numbers.event_retries) config.event_retries = static_cast<unsigned>(*numbers.event_retries);
  if (!config.while_frozen.empty() && !config.snapstart) {
    throw UsageError("--while-frozen needs --snapstart: without SnapStart nothing is ever frozen");
  }
  // Lambda gives a SnapStart Init the longer of 130 s and the function's timeout.
  if (app->count("--init-timeout") == 0 && config.snapstart) {
    config.init_timeout = std::max<std::chrono::milliseconds>(std::chrono::seconds(130), config.timeout);
  }
  take_settings_from_env(*app, config);
  check_host(config.host);
  check_function_files(config);
  check_output_file("--ready-file", config.ready_file);
  check_output_file("--json", config.json_report);
  return config;
}

}  // namespace snapbus::cli
