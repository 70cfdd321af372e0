#include "adapter_config.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace snapbus::adapter {
namespace {

AdapterConfig from(const std::map<std::string, std::string, std::less<>>& variables) {
  return adapter_config_from_environment([&](std::string_view name) -> std::optional<std::string> {
    const auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  });
}

std::string error_of(const std::map<std::string, std::string, std::less<>>& variables) {
  try {
    from(variables);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "no error";
}

TEST(AdapterConfig, DefaultsAreLambdaWebAdapters) {
  const AdapterConfig config = from({});
  EXPECT_EQ(config.mode, AdapterMode::web);
  EXPECT_EQ(config.app_host, "127.0.0.1");
  EXPECT_EQ(config.app_port, 8080);
  EXPECT_EQ(config.readiness_port, 8080);
  EXPECT_EQ(config.readiness_path, "/");
  EXPECT_EQ(config.readiness_protocol, ReadinessProtocol::http);
  EXPECT_TRUE(config.healthy_status.contains(100));
  EXPECT_TRUE(config.healthy_status.contains(404));
  EXPECT_TRUE(config.healthy_status.contains(499));
  EXPECT_FALSE(config.healthy_status.contains(500));
  EXPECT_FALSE(config.async_init);
  EXPECT_EQ(config.pass_through_path, "/events");
  EXPECT_EQ(config.invoke_mode, InvokeMode::buffered);
  EXPECT_FALSE(config.enable_compression);
  EXPECT_FALSE(config.error_status_codes.has_value());
  EXPECT_FALSE(config.expect_subscribers.has_value());
  EXPECT_EQ(config.max_concurrency, 1U);
  EXPECT_TRUE(config.warnings.empty());
}

TEST(AdapterConfig, LambdaManagedInstancesConcurrency) {
  EXPECT_EQ(from({{"AWS_LAMBDA_MAX_CONCURRENCY", "64"}}).max_concurrency, 64U);
  EXPECT_EQ(error_of({{"AWS_LAMBDA_MAX_CONCURRENCY", "0"}}),
            "AWS_LAMBDA_MAX_CONCURRENCY=0: expected a whole number from 1 to 10000");
}

TEST(AdapterConfig, ReadinessPortFollowsTheAppPortAndPortIsAFallback) {
  EXPECT_EQ(from({{"PORT", "3000"}}).readiness_port, 3000);
  EXPECT_TRUE(from({{"PORT", "3000"}}).warnings.empty());  // PORT is not deprecated
  const AdapterConfig both =
      from({{"AWS_LWA_PORT", "8000"}, {"PORT", "3000"}, {"AWS_LWA_READINESS_CHECK_PORT", "8001"}});
  EXPECT_EQ(both.app_port, 8000);
  EXPECT_EQ(both.readiness_port, 8001);
}

TEST(AdapterConfig, DeprecatedNamesStillWorkAndSaySo) {
  const AdapterConfig config = from({{"READINESS_CHECK_PATH", "/health"}, {"ASYNC_INIT", "true"}, {"HOST", "0.0.0.0"}});
  EXPECT_EQ(config.readiness_path, "/health");
  EXPECT_TRUE(config.async_init);
  EXPECT_EQ(config.app_host, "0.0.0.0");
  ASSERT_EQ(config.warnings.size(), 3U);
  EXPECT_NE(config.warnings[0].find("use AWS_LWA_HOST"), std::string::npos) << config.warnings[0];
  // The new name wins, silently.
  EXPECT_EQ(from({{"READINESS_CHECK_PATH", "/old"}, {"AWS_LWA_READINESS_CHECK_PATH", "/new"}}).readiness_path, "/new");
  const AdapterConfig legacy = from({{"AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "400"}});
  EXPECT_TRUE(legacy.healthy_status.contains(399));
  EXPECT_FALSE(legacy.healthy_status.contains(400));
  EXPECT_EQ(legacy.warnings.size(), 1U);
  const AdapterConfig both = from(
      {{"AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "400"}, {"AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "200"}});
  EXPECT_FALSE(both.healthy_status.contains(399));
  ASSERT_EQ(both.warnings.size(), 1U);
  EXPECT_NE(both.warnings[0].find("MIN_UNHEALTHY_STATUS is ignored"), std::string::npos) << both.warnings[0];
}

// LWA takes any prefix; one without its leading / can never match, and the log says so.
TEST(AdapterConfig, ABasePathWithoutItsSlashIsKeptButSaidToMatchNothing) {
  const AdapterConfig config = from({{"AWS_LWA_REMOVE_BASE_PATH", "stage"}});
  EXPECT_EQ(config.remove_base_path, "stage");
  ASSERT_EQ(config.warnings.size(), 1U);
  EXPECT_NE(config.warnings[0].find("did you mean /stage?"), std::string::npos) << config.warnings[0];
  EXPECT_TRUE(from({{"AWS_LWA_REMOVE_BASE_PATH", "/stage"}}).warnings.empty());
}

// The same for an authorization source that no request can carry as a header.
TEST(AdapterConfig, AnAuthorizationSourceThatIsNoHeaderNameIsKeptButSaidToMatchNothing) {
  const AdapterConfig config = from({{"AWS_LWA_AUTHORIZATION_SOURCE", "X Custom Auth"}});
  EXPECT_EQ(config.authorization_source, "X Custom Auth");
  ASSERT_EQ(config.warnings.size(), 1U);
  EXPECT_NE(config.warnings[0].find("AWS_LWA_AUTHORIZATION_SOURCE=X Custom Auth is not a valid header name"),
            std::string::npos)
      << config.warnings[0];
  EXPECT_TRUE(from({{"AWS_LWA_AUTHORIZATION_SOURCE", "X-Custom-Auth"}}).warnings.empty());
}

TEST(AdapterConfig, StatusSetsTakeCodesAndRanges) {
  std::vector<std::string> unreadable;
  const StatusSet set = StatusSet::parse("200-299, 301,404 ,500-502", unreadable);
  for (unsigned code : {200U, 250U, 299U, 301U, 404U, 500U, 502U}) EXPECT_TRUE(set.contains(code)) << code;
  for (unsigned code : {199U, 300U, 302U, 403U, 503U, 0U, 5000U}) EXPECT_FALSE(set.contains(code)) << code;
  EXPECT_TRUE(unreadable.empty());
  EXPECT_TRUE(StatusSet::parse("2xx, 500-400,99, , 404", unreadable) == StatusSet::range(404, 404));
  EXPECT_EQ(unreadable, (std::vector<std::string>{"2xx", "500-400", "99"}));
  const AdapterConfig config = from({{"AWS_LWA_ERROR_STATUS_CODES", "500,502-504"}});
  ASSERT_TRUE(config.error_status_codes.has_value());
  EXPECT_TRUE(config.error_status_codes->contains(503));
  EXPECT_FALSE(config.error_status_codes->contains(501));
  EXPECT_TRUE(config.warnings.empty());
}

// A function moved from LWA behaves as it did: what LWA reads leniently is read so here, with a
// warning where LWA said nothing.
TEST(AdapterConfig, LambdaWebAdaptersVariablesAreReadAsItReadsThem) {
  // Only `true` turns a switch on (Rust's bool parse): 1 or True never compressed under LWA.
  for (const char* on : {"1", "True", "yes", " true"}) {
    const AdapterConfig config = from({{"AWS_LWA_ENABLE_COMPRESSION", on}, {"AWS_LWA_ASYNC_INIT", on}});
    EXPECT_FALSE(config.enable_compression) << on;
    EXPECT_FALSE(config.async_init) << on;
    ASSERT_EQ(config.warnings.size(), 2U) << on;
    EXPECT_NE(config.warnings[0].find("is read as false, as Lambda Web Adapter reads any value but true"),
              std::string::npos)
        << config.warnings[0];
  }
  const AdapterConfig on = from({{"AWS_LWA_ENABLE_COMPRESSION", "true"}, {"ASYNC_INIT", "true"}});
  EXPECT_TRUE(on.enable_compression);
  EXPECT_TRUE(on.async_init);
  EXPECT_TRUE(from({{"AWS_LWA_ASYNC_INIT", "false"}}).warnings.empty());
  // An unknown choice is LWA's default.
  const AdapterConfig choices =
      from({{"AWS_LWA_INVOKE_MODE", "RESPONSE-STREAM"}, {"READINESS_CHECK_PROTOCOL", "HTTPS"}});
  EXPECT_EQ(choices.invoke_mode, InvokeMode::buffered);
  EXPECT_EQ(choices.readiness_protocol, ReadinessProtocol::http);
  ASSERT_EQ(choices.warnings.size(), 3U);  // with the deprecated name's
  EXPECT_NE(choices.warnings[1].find("READINESS_CHECK_PROTOCOL=HTTPS is read as http"), std::string::npos)
      << choices.warnings[1];
  EXPECT_NE(choices.warnings[2].find("AWS_LWA_INVOKE_MODE=RESPONSE-STREAM is read as buffered"), std::string::npos)
      << choices.warnings[2];
  EXPECT_EQ(from({{"AWS_LWA_READINESS_CHECK_PROTOCOL", "TCP"}}).readiness_protocol, ReadinessProtocol::tcp);
  // Status lists skip what they cannot read; one with nothing readable is unset.
  const AdapterConfig codes = from({{"AWS_LWA_ERROR_STATUS_CODES", "500-599,abc"}});
  ASSERT_TRUE(codes.error_status_codes.has_value());
  EXPECT_TRUE(codes.error_status_codes->contains(503));
  ASSERT_EQ(codes.warnings.size(), 1U);
  EXPECT_NE(codes.warnings[0].find("'abc' is neither a status code"), std::string::npos) << codes.warnings[0];
  const AdapterConfig none = from({{"AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "ok"}});
  EXPECT_TRUE(none.healthy_status == StatusSet::range(100, 499));
  EXPECT_EQ(none.warnings.size(), 2U);
  // The pass-through path gains the leading / that LWA's URL gives it.
  EXPECT_EQ(from({{"AWS_LWA_PASS_THROUGH_PATH", "events"}}).pass_through_path, "/events");
}

TEST(AdapterConfig, MalformedValuesNameTheVariable) {
  EXPECT_EQ(error_of({{"AWS_LWA_PORT", "http"}}), "AWS_LWA_PORT=http: expected a whole number from 1 to 65535");
  EXPECT_NE(error_of({{"SNAPBUS_MODE", "sidecar"}}).find("web or proxy"), std::string::npos);
  EXPECT_NE(error_of({{"SNAPBUS_BRACKET", "maybe"}}).find("SNAPBUS_BRACKET=maybe"), std::string::npos);
  EXPECT_NE(error_of({{"SNAPBUS_AFTER_RESTORE_TIMEOUT_MS", "-1"}}).find("SNAPBUS_AFTER_RESTORE_TIMEOUT_MS"),
            std::string::npos);
}

TEST(AdapterConfig, PathsTheAdapterRequestsMustBeAbsolute) {
  EXPECT_EQ(error_of({{"AWS_LWA_READINESS_CHECK_PATH", "health"}}),
            "AWS_LWA_READINESS_CHECK_PATH=health: expected a path that starts with / and has no blanks");
  EXPECT_NE(error_of({{"READINESS_CHECK_PATH", "/a b"}}).find("READINESS_CHECK_PATH=/a b"), std::string::npos);
  EXPECT_NE(error_of({{"AWS_LWA_PASS_THROUGH_PATH", "/a b"}}).find("AWS_LWA_PASS_THROUGH_PATH"), std::string::npos);
  EXPECT_NE(
      error_of({{"AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "restore"}}).find("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"),
      std::string::npos);
  EXPECT_EQ(from({{"AWS_LWA_READINESS_CHECK_PATH", "/healthz?full=1"}}).readiness_path, "/healthz?full=1");
}

TEST(AdapterConfig, AMalformedRuntimeApiNamesItsVariable) {
  EXPECT_EQ(error_of({{"AWS_LAMBDA_RUNTIME_API", "garbage"}}),
            "AWS_LAMBDA_RUNTIME_API=garbage: expected host:port ('garbage' is not host:port: the port is missing)");
  EXPECT_NE(error_of({{"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"}, {"AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "garbage"}})
                .find("AWS_LWA_LAMBDA_RUNTIME_API_PROXY=garbage"),
            std::string::npos);
}

TEST(AdapterConfig, StreamingTurnsCompressionOffWithAWarning) {
  const AdapterConfig config =
      from({{"AWS_LWA_ENABLE_COMPRESSION", "true"}, {"AWS_LWA_INVOKE_MODE", "RESPONSE_STREAM"}});
  EXPECT_EQ(config.invoke_mode, InvokeMode::response_stream);
  EXPECT_FALSE(config.enable_compression);
  EXPECT_EQ(config.warnings.size(), 1U);
}

TEST(AdapterConfig, TheRuntimeApiProxyWinsOverLambdasAddress) {
  EXPECT_EQ(from({{"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"}}).runtime_api, "127.0.0.1:9001");
  EXPECT_EQ(from({{"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"}, {"AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "127.0.0.1:9009"}})
                .runtime_api,
            "127.0.0.1:9009");
  // The proxy is what the variable points at; its own upstream is Lambda.
  EXPECT_EQ(from({{"SNAPBUS_MODE", "proxy"},
                  {"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"},
                  {"AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "127.0.0.1:9009"}})
                .runtime_api,
            "127.0.0.1:9001");
}

TEST(AdapterConfig, TheBracketAndTheProxyPort) {
  EXPECT_TRUE(from({}).run_bracket);
  EXPECT_EQ(from({}).proxy_port, 9009);
  EXPECT_FALSE(from({{"SNAPBUS_BRACKET", "off"}}).run_bracket);
  EXPECT_EQ(from({{"SNAPBUS_PROXY_PORT", "9123"}}).proxy_port, 9123);
  EXPECT_NE(error_of({{"SNAPBUS_PROXY_PORT", "0"}}).find("SNAPBUS_PROXY_PORT=0"), std::string::npos);
  EXPECT_NE(error_of({{"SNAPBUS_BRACKET", "sometimes"}}).find("SNAPBUS_BRACKET=sometimes"), std::string::npos);
}

TEST(AdapterConfig, SnapStartSettings) {
  const AdapterConfig config = from({{"SNAPBUS_MODE", "proxy"},
                                     {"SNAPBUS_EXPECT_SUBSCRIBERS", "4"},
                                     {"SNAPBUS_SUBSCRIBER_SETTLE_MS", "250"},
                                     {"SNAPBUS_AFTER_RESTORE_TIMEOUT_MS", "2000"},
                                     {"AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", "/snapshot"},
                                     {"AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "/restored"}});
  EXPECT_EQ(config.mode, AdapterMode::proxy);
  EXPECT_EQ(config.expect_subscribers, 4U);
  EXPECT_EQ(config.subscriber_settle, std::chrono::milliseconds(250));
  EXPECT_EQ(config.after_restore_timeout, std::chrono::milliseconds(2000));
  EXPECT_FALSE(config.before_snapshot_timeout.has_value());
  EXPECT_EQ(from({{"SNAPBUS_BEFORE_SNAPSHOT_TIMEOUT_MS", "60000"}}).before_snapshot_timeout,
            std::chrono::milliseconds(60000));
  EXPECT_EQ(config.snapstart_before_checkpoint_path, "/snapshot");
  EXPECT_EQ(config.snapstart_after_restore_path, "/restored");
}

TEST(AdapterConfig, AnAfterRestoreTimeoutPastLambdasRestoreLimitIsCutToItAndSaid) {
  EXPECT_TRUE(from({{"SNAPBUS_AFTER_RESTORE_TIMEOUT_MS", "9000"}}).warnings.empty());
  const AdapterConfig config = from({{"SNAPBUS_AFTER_RESTORE_TIMEOUT_MS", "15000"}});
  EXPECT_EQ(config.after_restore_timeout, std::chrono::milliseconds(9000));
  ASSERT_EQ(config.warnings.size(), 1U);
  EXPECT_NE(config.warnings[0].find("SNAPBUS_AFTER_RESTORE_TIMEOUT_MS=15000 is read as 9000"), std::string::npos)
      << config.warnings[0];
}

}  // namespace
}  // namespace snapbus::adapter
