#include "adapter_command.h"

#include <filesystem>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

#include "adapter_config.h"
#include "cli_exit_code.h"
#include "command_line.h"
#include "proxy_adapter.h"
#include "snapbus/config.h"
#include "snapbus/error.h"
#include "snapbus/lambda_protocol.h"
#include "web_adapter.h"

namespace snapbus::cli {
namespace {

constexpr std::size_t kOptionColumn = 28;

constexpr const char* kDescription =
    "Runs the Lambda adapter in front of a web app: the function's runtime client (Lambda Web\n"
    "Adapter's variables and defaults), with the SnapStart bracket run in every process of the app\n"
    "through the lifecycle bus. In Lambda it starts as the extension /opt/extensions/snapbus, without\n"
    "arguments; this command runs the same code by hand, against AWS_LAMBDA_RUNTIME_API.\n"
    "\n"
    "Steps: create the segment (starting); register as an extension (with --extension-name); wait for\n"
    "the app's readiness check; with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start wait for the workers to\n"
    "subscribe, publish before-snapshot, call restore/next, publish after-restore (each waiting for\n"
    "every acknowledgement); then forward invocations until SHUTDOWN, SIGTERM or SIGINT.\n"
    "\n"
    "Configuration (environment; README lists every variable with its default):\n"
    "  AWS_LWA_PORT, AWS_LWA_HOST, AWS_LWA_READINESS_CHECK_{PORT,PATH,PROTOCOL,HEALTHY_STATUS},\n"
    "  AWS_LWA_ASYNC_INIT, AWS_LWA_INVOKE_MODE, AWS_LWA_PASS_THROUGH_PATH, AWS_LWA_REMOVE_BASE_PATH,\n"
    "  AWS_LWA_ENABLE_COMPRESSION, AWS_LWA_AUTHORIZATION_SOURCE, AWS_LWA_ERROR_STATUS_CODES,\n"
    "  AWS_LWA_LAMBDA_RUNTIME_API_PROXY, AWS_LWA_SNAPSTART_{BEFORE_CHECKPOINT,AFTER_RESTORE}_PATH,\n"
    "  AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS,\n"
    "  SNAPBUS_MODE (web or proxy), SNAPBUS_PROXY_PORT, SNAPBUS_BRACKET, SNAPBUS_SEGMENT,\n"
    "  SNAPBUS_EXPECT_SUBSCRIBERS, SNAPBUS_SUBSCRIBER_SETTLE_MS, SNAPBUS_BEFORE_SNAPSHOT_TIMEOUT_MS,\n"
    "  SNAPBUS_AFTER_RESTORE_TIMEOUT_MS, SNAPBUS_SLOTS, SNAPBUS_SEGMENT_GROUP, SNAPBUS_ACK_TIMEOUT_MS\n"
    "  (/opt/bootstrap also reads SNAPBUS_ZERO_CODE and SNAPBUS_LISTEN_NOTICE)\n"
    "\n"
    "With SNAPBUS_MODE=proxy (or `snapbus proxy`) it is instead a Runtime API proxy on\n"
    "127.0.0.1:SNAPBUS_PROXY_PORT for a runtime client it does not replace (LWA through\n"
    "AWS_LWA_LAMBDA_RUNTIME_API_PROXY, awslambdaric through the exec wrapper), and runs the bracket\n"
    "around the client's restore/next, or its first invocation/next.";

constexpr const char* kProxyDescription =
    "Runs the adapter as a Runtime API proxy (SNAPBUS_MODE=proxy) on 127.0.0.1:SNAPBUS_PROXY_PORT\n"
    "(9009) between Lambda and a runtime client it does not replace: LWA (through\n"
    "AWS_LWA_LAMBDA_RUNTIME_API_PROXY), awslambdaric or a custom runtime (through the exec wrapper, which\n"
    "points AWS_LAMBDA_RUNTIME_API at it). Every call is forwarded as it came; the SnapStart bracket\n"
    "runs in every process of the function through the lifecycle bus, around the client's\n"
    "restore/next or, when it never calls that, its first invocation/next. In Lambda it starts as the\n"
    "extension /opt/extensions/snapbus with SNAPBUS_MODE=proxy; this command runs the same code by\n"
    "hand, against AWS_LAMBDA_RUNTIME_API.\n"
    "\n"
    "Configuration (environment; README lists every variable with its default):\n"
    "  SNAPBUS_PROXY_PORT, SNAPBUS_BRACKET, SNAPBUS_SEGMENT, SNAPBUS_EXPECT_SUBSCRIBERS,\n"
    "  SNAPBUS_SUBSCRIBER_SETTLE_MS, SNAPBUS_BEFORE_SNAPSHOT_TIMEOUT_MS, SNAPBUS_AFTER_RESTORE_TIMEOUT_MS,\n"
    "  SNAPBUS_SLOTS, SNAPBUS_SEGMENT_GROUP, SNAPBUS_ACK_TIMEOUT_MS";

constexpr const char* kFooter =
    "exit codes: 0 shut down (SHUTDOWN, SIGTERM, SIGINT, or the reader of its output went away), 2 bad\n"
    "usage or configuration, 3 before-snapshot failed (web mode; sent to init/error), 4 after-restore\n"
    "failed (web mode; sent to restore/error), 5 the Runtime API failed, 6 the segment could not be\n"
    "created, 7 the proxy's port is taken";

// The proxy reports a failed hook upstream and answers the client's call with it; it does not exit.
constexpr const char* kProxyFooter =
    "exit codes: 0 shut down (SHUTDOWN, SIGTERM, SIGINT, or the reader of its output went away), 2 bad\n"
    "usage or configuration, 5 the Runtime API failed, 6 the segment could not be created, 7 the proxy's\n"
    "port is taken. A failed hook does not end the proxy: it goes to init/error or restore/error, and\n"
    "the client's call is answered with it";

constexpr int kExitSegmentError = 6;

// The file name of LWA's extension in its layer (/opt/extensions/lambda-adapter).
constexpr std::string_view kLwaExtensionName = "lambda-adapter";

}  // namespace

std::optional<std::string> extension_name_for(std::string_view argv0, int argument_count) {
  if (argument_count != 0) return std::nullopt;
  const std::filesystem::path path(argv0);
  if (path.parent_path().filename() != "extensions") return std::nullopt;
  return path.filename().string();
}

std::optional<std::string> warning_for_lwa_beside(std::string_view argv0) {
  const std::filesystem::path lwa = std::filesystem::path(argv0).parent_path() / kLwaExtensionName;
  std::error_code ec;
  if (!std::filesystem::exists(lwa, ec)) return std::nullopt;
  return fmt::format(
      "warning: {} is here too: Lambda Web Adapter's extension would also act as the function's runtime client "
      "and take invocations past snapbus's SnapStart bracket; remove LWA's layer from the function (or keep it in "
      "front, with SNAPBUS_MODE=proxy)",
      lwa.string());
}

int run_adapter_command(std::span<const std::string> words, std::optional<std::string> extension_name,
                        AdapterCommand command, std::string_view extension_path) {
  const bool proxy = command == AdapterCommand::proxy;
  const auto app = command_app(proxy ? "snapbus proxy" : "snapbus adapter", proxy ? kProxyDescription : kDescription,
                               proxy ? kProxyFooter : kFooter, kOptionColumn, "[--extension-name NAME]");
  std::string name;
  app->add_option("--extension-name", name, "register with the Extensions API under NAME (SHUTDOWN events)")
      ->option_text("NAME");
  parse_command_line(*app, words);
  if (app->count("--extension-name") != 0) {
    if (name.empty()) throw UsageError("--extension-name needs a name, got an empty one");
    extension_name = name;
  }

  adapter::AdapterConfig config;
  Config bus_config;
  try {
    config =
        adapter::adapter_config_from_environment([command](std::string_view variable) -> std::optional<std::string> {
          if (command == AdapterCommand::proxy && variable == adapter::kEnvMode) return "proxy";
          return adapter::process_environment(variable);
        });
    bus_config = config_from_environment();
  } catch (const std::exception& error) {
    throw UsageError(error.what());
  }
  if (!extension_path.empty() && config.mode == adapter::AdapterMode::web) {
    if (auto warning = warning_for_lwa_beside(extension_path)) std::cerr << "[snapbus] " << *warning << std::endl;
  }
  if (config.expect_subscribers && *config.expect_subscribers > bus_config.slot_count) {
    throw UsageError(fmt::format("{}={}: more than the segment's {} slots ({})", adapter::kEnvExpectSubscribers,
                                 *config.expect_subscribers, bus_config.slot_count, kEnvSlots));
  }
  // A setting, not a failure of the Runtime API: exit 2 like any other.
  if (config.runtime_api.empty()) {
    throw UsageError(
        fmt::format("{} is not set: not running in Lambda or under `snapbus emulate`", lambda::kEnvRuntimeApi));
  }
  for (const std::string& warning : config.warnings) std::cerr << "[snapbus] " << warning << std::endl;
  try {
    if (config.mode == adapter::AdapterMode::proxy) {
      return adapter::run_proxy_adapter(config, bus_config, {.extension_name = extension_name});
    }
    return adapter::run_web_adapter(config, bus_config, {.extension_name = extension_name});
  } catch (const Error& error) {
    std::cerr << "[snapbus] " << error.what() << std::endl;
    // A segment path the bus refuses (a file name too long, a directory) is a setting: 2, as above.
    return error.code() == Errc::invalid_argument ? static_cast<int>(ExitCode::usage) : kExitSegmentError;
  }
}

}  // namespace snapbus::cli
