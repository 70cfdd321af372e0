#include "snapbus/emulate_config.h"

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace snapbus::emulator {
namespace {

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

template <typename T>
T parse_number(const std::string& flag, const std::string& value, T min, T max) {
  T out{};
  const auto* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, out);
  if (ec != std::errc{} || ptr != end || out < min || out > max) {
    throw ConfigError(fmt::format("{} expects a whole number from {} to {}, got '{}'", flag, min, max, value));
  }
  return out;
}

std::chrono::milliseconds parse_seconds(const std::string& flag, const std::string& value) {
  // Seconds with an optional fraction, as Lambda's own settings are given.
  double seconds = 0;
  std::istringstream in(value);
  in >> seconds;
  if (!in || !in.eof() || seconds <= 0 || seconds > 86400) {
    throw ConfigError(fmt::format("{} expects a positive number of seconds, got '{}'", flag, value));
  }
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
}

bool is_reserved(const std::string& name) {
  // The emulator owns these: letting a file override them would make the function talk to nothing.
  return name == kEnvRuntimeApi || name == kEnvInitializationType || name == kEnvEmulatorId;
}

void add_user_env(Config& config, std::map<std::string, std::string> vars, const std::string& origin) {
  for (auto& [name, value] : vars) {
    if (is_reserved(name)) {
      throw ConfigError(fmt::format("{}: {} is reserved; the emulator sets it", origin, name));
    }
    config.user_env[name] = std::move(value);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("cannot read env file '{}'", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::map<std::string, std::string> parse_env_file(const std::string& text, const std::string& origin) {
  std::map<std::string, std::string> vars;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string content = trim(line);
    if (content.empty() || content[0] == '#') continue;
    if (content.rfind("export ", 0) == 0) content = trim(std::string_view(content).substr(7));
    const auto eq = content.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError(fmt::format("{}:{}: expected KEY=VALUE, got '{}'", origin, number, content));
    }
    std::string name = trim(std::string_view(content).substr(0, eq));
    std::string value = trim(std::string_view(content).substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
        throw ConfigError(fmt::format("{}:{}: '{}' is not a valid variable name", origin, number, name));
      }
    }
    vars[name] = value;
  }
  return vars;
}

std::string emulate_usage() {
  return R"(usage: snapbus emulate [options] [--] [runtime command...]

Runs a function the way AWS Lambda does: extensions from <opt>/extensions first, then the runtime
(through AWS_LAMBDA_EXEC_WRAPPER when set), serving the Runtime API and the Extensions API on
--runtime-api-port and invocations on --port. With --snapstart, Init ends with a real freeze of
every process of the function, then a restore. Lambda log lines go to stdout, diagnostics to stderr.

Ports (0 picks a free port; see --ready-file):
  --host ADDR               listen address (default 127.0.0.1)
  --port N                  front door: Function URL requests and the RIE path
                            POST /2015-03-31/functions/function/invocations (default 9000)
  --runtime-api-port N      Runtime and Extensions API, AWS_LAMBDA_RUNTIME_API (default 9001)

Function:
  --task-root DIR           LAMBDA_TASK_ROOT and the runtime's working directory (default: cwd)
  --handler NAME            _HANDLER (default: empty)
  --opt DIR                 the /opt of the function; executables in DIR/extensions are started
                            as external extensions (default: none)
  --function-name NAME      AWS_LAMBDA_FUNCTION_NAME (default function)
  --function-version V      AWS_LAMBDA_FUNCTION_VERSION (default $LATEST)
  --memory-size MB          AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)
  --region NAME             AWS_REGION and AWS_DEFAULT_REGION (default us-east-1)
  --exec-wrapper PATH       AWS_LAMBDA_EXEC_WRAPPER (default: taken from the function environment)
  --timeout S               function timeout in seconds, sets the deadline (default 3)
  --env-file FILE           KEY=VALUE lines added to the function environment (repeatable)
  --env KEY=VALUE           one variable (repeatable; later wins)
  --clean-env               do not pass the emulator's own environment on (keeps PATH only)

Lifecycle:
  --snapstart               AWS_LAMBDA_INITIALIZATION_TYPE=snap-start: freeze after Init, restore
  --while-frozen CMD        run CMD (through /bin/sh -c) while the function is frozen
  --freezer MODE            auto | cgroup | signal (default auto: cgroup v2 when writable)
  --init-timeout S          Init limit (default 10, or 130 with --snapstart)
  --restore-timeout S       restore limit, SnapStartTimeoutException after it (default 10)
  --shutdown-timeout S      time the runtime and extensions get to exit (default 2)

Reporting:
  --ready-file FILE         written (JSON: runtimeApi, frontDoor, pid) once both ports listen
  --json FILE               JSON report of phases and invocations, written at exit
  -h, --help                this help

Exit codes: 0 orderly shutdown (SIGINT/SIGTERM), 1 internal error, 2 bad usage, 3 Init failed,
4 restore failed, 5 the runtime failed during an invocation (crash, timeout, exit/error).
)";
}

ParsedArgs parse_emulate_args(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  Config& config = parsed.config;
  bool init_timeout_given = false;
  std::map<std::string, bool> given;
  std::size_t i = 1;
  auto value_of = [&](const std::string& flag) -> std::string {
    if (i + 1 >= args.size()) throw ConfigError(fmt::format("{} needs a value", flag));
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty() || arg[0] != '-') break;
    given[arg] = true;
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
    } else if (arg == "--host") {
      config.host = value_of(arg);
    } else if (arg == "--port") {
      config.port = parse_number<std::uint16_t>(arg, value_of(arg), 0, 65535);
    } else if (arg == "--runtime-api-port") {
      config.runtime_api_port = parse_number<std::uint16_t>(arg, value_of(arg), 0, 65535);
    } else if (arg == "--task-root") {
      config.task_root = value_of(arg);
    } else if (arg == "--handler") {
      config.handler = value_of(arg);
    } else if (arg == "--opt") {
      config.opt_dir = value_of(arg);
    } else if (arg == "--function-name") {
      config.function_name = value_of(arg);
    } else if (arg == "--function-version") {
      config.function_version = value_of(arg);
    } else if (arg == "--memory-size") {
      config.memory_size_mb = parse_number<unsigned>(arg, value_of(arg), 128, 10240);
    } else if (arg == "--region") {
      config.region = value_of(arg);
    } else if (arg == "--exec-wrapper") {
      config.exec_wrapper = value_of(arg);
    } else if (arg == "--timeout") {
      config.timeout = parse_seconds(arg, value_of(arg));
    } else if (arg == "--env-file") {
      const std::string path = value_of(arg);
      add_user_env(config, parse_env_file(read_file(path), path), path);
    } else if (arg == "--env") {
      const std::string kv = value_of(arg);
      add_user_env(config, parse_env_file(kv, "--env"), "--env");
    } else if (arg == "--clean-env") {
      config.clean_env = true;
    } else if (arg == "--snapstart") {
      config.snapstart = true;
    } else if (arg == "--while-frozen") {
      config.while_frozen = value_of(arg);
    } else if (arg == "--freezer") {
      const std::string mode = value_of(arg);
      if (mode == "auto") {
        config.freezer = FreezerMode::kAuto;
      } else if (mode == "cgroup") {
        config.freezer = FreezerMode::kCgroup;
      } else if (mode == "signal") {
        config.freezer = FreezerMode::kSignal;
      } else {
        throw ConfigError(fmt::format("--freezer expects auto, cgroup or signal, got '{}'", mode));
      }
    } else if (arg == "--init-timeout") {
      config.init_timeout = parse_seconds(arg, value_of(arg));
      init_timeout_given = true;
    } else if (arg == "--restore-timeout") {
      config.restore_timeout = parse_seconds(arg, value_of(arg));
    } else if (arg == "--shutdown-timeout") {
      config.shutdown_timeout = parse_seconds(arg, value_of(arg));
    } else if (arg == "--ready-file") {
      config.ready_file = value_of(arg);
    } else if (arg == "--json") {
      config.json_report = value_of(arg);
    } else {
      throw ConfigError(fmt::format("unknown option '{}' (see snapbus emulate --help)", arg));
    }
  }
  for (; i < args.size(); ++i) config.command.push_back(args[i]);
  if (parsed.help) return parsed;

  if (!config.while_frozen.empty() && !config.snapstart) {
    throw ConfigError("--while-frozen needs --snapstart: without SnapStart nothing is ever frozen");
  }
  if (!init_timeout_given && config.snapstart) config.init_timeout = std::chrono::seconds(130);

  // Flags win; otherwise an env file may carry the function's settings the way Lambda shows them.
  auto from_env = [&](const char* flag, const char* name, std::string& field) {
    if (given.count(flag) != 0) return;
    if (auto it = config.user_env.find(name); it != config.user_env.end()) field = it->second;
  };
  from_env("--handler", kEnvHandler, config.handler);
  from_env("--task-root", kEnvTaskRoot, config.task_root);
  from_env("--function-name", kEnvFunctionName, config.function_name);
  from_env("--function-version", kEnvFunctionVersion, config.function_version);
  from_env("--region", kEnvRegion, config.region);
  from_env("--exec-wrapper", kEnvExecWrapper, config.exec_wrapper);
  if (given.count("--memory-size") == 0) {
    if (auto it = config.user_env.find(kEnvMemorySize); it != config.user_env.end()) {
      config.memory_size_mb = parse_number<unsigned>(kEnvMemorySize, it->second, 128, 10240);
    }
  }

  std::error_code ec;
  if (config.task_root.empty()) config.task_root = std::filesystem::current_path(ec).string();
  config.task_root = std::filesystem::absolute(config.task_root, ec).string();
  if (!std::filesystem::is_directory(config.task_root, ec)) {
    throw ConfigError(fmt::format("task root '{}' is not a directory", config.task_root));
  }
  if (config.command.empty()) {
    const auto bootstrap = std::filesystem::path(config.task_root) / "bootstrap";
    if (!std::filesystem::exists(bootstrap, ec)) {
      throw ConfigError(fmt::format(
          "no runtime command given and no bootstrap in the task root '{}'; "
          "pass one after --, e.g. snapbus emulate -- /usr/bin/python3 runtime.py",
          config.task_root));
    }
    config.command.push_back(bootstrap.string());
  }
  if (!config.opt_dir.empty() && !std::filesystem::is_directory(config.opt_dir, ec)) {
    throw ConfigError(fmt::format("--opt '{}' is not a directory", config.opt_dir));
  }
  return parsed;
}

}  // namespace snapbus::emulator
