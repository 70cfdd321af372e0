// Every environment variable the adapter reads, and the plain AdapterConfig built from them: Lambda
// Web Adapter's own (same names, same defaults, so moving from LWA is a change of layer) and
// snapbus's additions for the SnapStart bracket. The bus's own variables (SNAPBUS_SEGMENT, ...)
// stay in snapbus/config.h.
//
//   snapbus::adapter::AdapterConfig config = snapbus::adapter::adapter_config_from_environment();
//   for (const std::string& warning : config.warnings) log(warning);   // deprecated names used
//   connect(config.app_host, config.app_port);
//
// The only place in the adapter that reads the environment. README's adapter table lists the same
// names and defaults; keep the two in step. A malformed value is an error naming the variable,
// never a silent default: LWA skips what it cannot parse, which hides typos until production.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace snapbus::adapter {

// Lambda Web Adapter's variables (the reference's section 6), with the deprecated names LWA still reads.
inline constexpr const char* kEnvPort = "AWS_LWA_PORT";
inline constexpr const char* kEnvPortFallback = "PORT";  // not deprecated: LWA keeps it as a fallback
inline constexpr const char* kEnvHost = "AWS_LWA_HOST";
inline constexpr const char* kEnvHostDeprecated = "HOST";
inline constexpr const char* kEnvReadinessPort = "AWS_LWA_READINESS_CHECK_PORT";
inline constexpr const char* kEnvReadinessPortDeprecated = "READINESS_CHECK_PORT";
inline constexpr const char* kEnvReadinessPath = "AWS_LWA_READINESS_CHECK_PATH";
inline constexpr const char* kEnvReadinessPathDeprecated = "READINESS_CHECK_PATH";
inline constexpr const char* kEnvReadinessProtocol = "AWS_LWA_READINESS_CHECK_PROTOCOL";
inline constexpr const char* kEnvReadinessProtocolDeprecated = "READINESS_CHECK_PROTOCOL";
inline constexpr const char* kEnvReadinessHealthyStatus = "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS";
// Deprecated: every status below it is healthy.
inline constexpr const char* kEnvReadinessMinUnhealthyStatus = "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS";
inline constexpr const char* kEnvAsyncInit = "AWS_LWA_ASYNC_INIT";
inline constexpr const char* kEnvAsyncInitDeprecated = "ASYNC_INIT";
inline constexpr const char* kEnvRemoveBasePath = "AWS_LWA_REMOVE_BASE_PATH";
inline constexpr const char* kEnvRemoveBasePathDeprecated = "REMOVE_BASE_PATH";
inline constexpr const char* kEnvPassThroughPath = "AWS_LWA_PASS_THROUGH_PATH";
inline constexpr const char* kEnvEnableCompression = "AWS_LWA_ENABLE_COMPRESSION";
inline constexpr const char* kEnvInvokeMode = "AWS_LWA_INVOKE_MODE";
inline constexpr const char* kEnvAuthorizationSource = "AWS_LWA_AUTHORIZATION_SOURCE";
inline constexpr const char* kEnvErrorStatusCodes = "AWS_LWA_ERROR_STATUS_CODES";
inline constexpr const char* kEnvRuntimeApiProxy = "AWS_LWA_LAMBDA_RUNTIME_API_PROXY";
// LWA 1.1's SnapStart hooks: one POST to the app before restore/next and one after it returns.
inline constexpr const char* kEnvSnapStartBeforeCheckpointPath = "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH";
inline constexpr const char* kEnvSnapStartAfterRestorePath = "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH";

// Lambda's own.
inline constexpr const char* kEnvRuntimeApi = "AWS_LAMBDA_RUNTIME_API";
// Set by Lambda Managed Instances: how many invocations the environment takes at once.
inline constexpr const char* kEnvMaxConcurrency = "AWS_LAMBDA_MAX_CONCURRENCY";

// snapbus's additions.
inline constexpr const char* kEnvMode = "SNAPBUS_MODE";
inline constexpr const char* kEnvBeforeSnapshotTimeoutMs = "SNAPBUS_BEFORE_SNAPSHOT_TIMEOUT_MS";
inline constexpr const char* kEnvAfterRestoreTimeoutMs = "SNAPBUS_AFTER_RESTORE_TIMEOUT_MS";
inline constexpr const char* kEnvExpectSubscribers = "SNAPBUS_EXPECT_SUBSCRIBERS";
inline constexpr const char* kEnvSubscriberSettleMs = "SNAPBUS_SUBSCRIBER_SETTLE_MS";
inline constexpr const char* kEnvBracket = "SNAPBUS_BRACKET";
inline constexpr const char* kEnvProxyPort = "SNAPBUS_PROXY_PORT";

enum class AdapterMode { web, proxy };
enum class ReadinessProtocol { http, tcp };
enum class InvokeMode { buffered, response_stream };

// A set of HTTP status codes written as LWA writes them: "200-399" or "200,201,204,301-399".
class StatusSet {
 public:
  // The codes (100 to 999) and ranges (200-399) of a comma-separated list. As Lambda Web Adapter
  // reads it, a part that is neither is skipped: it goes into `unreadable`, for a warning.
  static StatusSet parse(std::string_view text, std::vector<std::string>& unreadable);
  static StatusSet range(unsigned first, unsigned last);

  [[nodiscard]] bool contains(unsigned status) const { return status < kLimit && codes_.test(status); }
  [[nodiscard]] bool empty() const { return codes_.none(); }
  bool operator==(const StatusSet&) const = default;

 private:
  static constexpr unsigned kLimit = 1000;
  std::bitset<kLimit> codes_;
};

// The longest after-restore phase: past Lambda's 10 s Lambda ends the restore itself
// (SnapStartTimeoutException), and the restore/error that names the hook still running would come
// too late. A second is left for resuming, restore/next's answer and the report.
inline constexpr std::chrono::milliseconds kAfterRestoreTimeoutMax{9'000};

struct AdapterConfig {
  AdapterMode mode = AdapterMode::web;

  // The app, and how its readiness is checked.
  std::string app_host = "127.0.0.1";
  std::uint16_t app_port = 8080;
  std::uint16_t readiness_port = 8080;  // defaults to app_port
  std::string readiness_path = "/";
  ReadinessProtocol readiness_protocol = ReadinessProtocol::http;
  StatusSet healthy_status = StatusSet::range(100, 499);
  bool async_init = false;

  // Requests and responses.
  std::string remove_base_path;
  std::string pass_through_path = "/events";
  bool enable_compression = false;  // buffered mode only, as in LWA
  InvokeMode invoke_mode = InvokeMode::buffered;
  std::string authorization_source;
  std::optional<StatusSet> error_status_codes;

  // How many invocations are forwarded at once: one invocation/next poller each, as LWA 1.0 runs
  // (lambda_http's run_concurrent) when Lambda Managed Instances sets AWS_LAMBDA_MAX_CONCURRENCY.
  unsigned max_concurrency = 1;

  // Where the Runtime API is: AWS_LWA_LAMBDA_RUNTIME_API_PROXY when set (web mode), else
  // AWS_LAMBDA_RUNTIME_API (always, in proxy mode: the proxy's upstream is Lambda).
  std::string runtime_api;

  // The SnapStart bracket.
  std::string snapstart_before_checkpoint_path;
  std::string snapstart_after_restore_path;
  // Unset: what is left of the Init that Lambda allows a SnapStart function (snapstart_bracket.h).
  // A priming hook may take most of it, as under LWA 1.1 or Lambda's own runtimes, neither of which
  // limits before-snapshot hooks on its own.
  std::optional<std::chrono::milliseconds> before_snapshot_timeout;
  // Lambda fails a restore that takes over 10 s in all; the hooks get half of it by default, and
  // at most kAfterRestoreTimeoutMax.
  std::chrono::milliseconds after_restore_timeout{5'000};
  // Wait for this many subscribers before the snapshot; unset: until their count has not changed
  // for subscriber_settle (a worker still importing would otherwise miss the bracket).
  std::optional<unsigned> expect_subscribers;
  std::chrono::milliseconds subscriber_settle{500};
  // Off: web mode is a plain LWA-style client (no segment, no restore/next), for a function where a
  // proxy in front of it runs the bracket.
  bool run_bracket = true;

  // Proxy mode: the loopback port the Runtime API proxy listens on (what the exec wrapper, or
  // AWS_LWA_LAMBDA_RUNTIME_API_PROXY, points the client at).
  std::uint16_t proxy_port = 9009;

  // One sentence per deprecated name that was used, for the log.
  std::vector<std::string> warnings;
};

// Reads one variable; nullopt when it is unset. Tests pass their own.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment, as an EnvironmentLookup (read at start-up, before any thread).
std::optional<std::string> process_environment(std::string_view name);

// Reads the variables above through `lookup` (the process environment by default). Throws
// std::invalid_argument naming the variable and the value it could not use.
AdapterConfig adapter_config_from_environment(const EnvironmentLookup& lookup);
AdapterConfig adapter_config_from_environment();

}  // namespace snapbus::adapter
