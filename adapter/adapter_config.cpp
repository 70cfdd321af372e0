#include "adapter_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "snapbus/field_name.h"
#include "snapbus/http_client.h"
#include "snapbus/text.h"

namespace snapbus::adapter {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

[[noreturn]] void bad_value(std::string_view name, std::string_view value, std::string_view expected) {
  throw std::invalid_argument(fmt::format("{}={}: expected {}", name, value, expected));
}

// The variables of one configuration, read through the caller's lookup, with LWA's rule for
// renamed variables: the new name wins, the old one still works and leaves a warning.
class Reader {
 public:
  Reader(const EnvironmentLookup& lookup, std::vector<std::string>& warnings) : lookup_(lookup), warnings_(warnings) {}

  std::optional<std::string> text(const char* name, const char* deprecated = nullptr) {
    if (auto value = lookup_(name); value && !value->empty()) {
      used_ = name;
      return value;
    }
    if (deprecated != nullptr) {
      if (auto value = lookup_(deprecated); value && !value->empty()) {
        warnings_.push_back(
            fmt::format("{} is deprecated (Lambda Web Adapter removes it in 2.0); use {}", deprecated, name));
        used_ = deprecated;
        return value;
      }
    }
    return std::nullopt;
  }

  // A path the adapter requests from the app: it goes on the request line as it is, so it must be
  // an absolute path without blanks ("health" would make `GET health HTTP/1.1`).
  std::optional<std::string> url_path(const char* name, const char* deprecated = nullptr) {
    auto value = text(name, deprecated);
    if (value) require_request_path(*value);
    return value;
  }

  void require_request_path(const std::string& value) const {
    const bool blank = std::any_of(value.begin(), value.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
    if (value.front() != '/' || blank) bad_value(used_, value, "a path that starts with / and has no blanks");
  }

  // The name the last value came from, for error messages.
  [[nodiscard]] std::string_view used() const { return used_; }

  template <typename Int>
  std::optional<Int> number(const char* name, Int min, Int max, const char* deprecated = nullptr) {
    const auto value = text(name, deprecated);
    if (!value) return std::nullopt;
    const auto parsed = parse_number<Int>(trim(*value), min, max);
    if (!parsed) bad_value(used_, *value, fmt::format("a whole number from {} to {}", min, max));
    return parsed;
  }

  std::optional<bool> boolean(const char* name, const char* deprecated = nullptr) {
    const auto value = text(name, deprecated);
    if (!value) return std::nullopt;
    const std::string word = lower(trim(*value));
    if (word == "1" || word == "true" || word == "yes" || word == "on") return true;
    if (word == "0" || word == "false" || word == "no" || word == "off") return false;
    bad_value(used_, *value, "true or false (also 1/0, yes/no, on/off)");
  }

  // One of Lambda Web Adapter's switches, read as LWA reads it (Rust's bool parse), so that a
  // function behaves as it did under LWA: only `true` turns it on. Any other value but `false` is
  // off too, and said, since whoever wrote `1` or `True` meant on.
  std::optional<bool> lwa_switch(const char* name, const char* deprecated = nullptr) {
    const auto value = text(name, deprecated);
    if (!value) return std::nullopt;
    if (*value == "true") return true;
    if (*value != "false") {
      warnings_.push_back(
          fmt::format("{}={} is read as false, as Lambda Web Adapter reads any value but true: "
                      "set it to true to turn it on",
                      used_, *value));
    }
    return false;
  }

  // One of Lambda Web Adapter's choices, read as LWA reads it: case aside, a value that is none of
  // `choices` is its default (the first), and said.
  std::size_t lwa_choice(const char* name, const char* deprecated, std::initializer_list<std::string_view> choices) {
    const auto value = text(name, deprecated);
    if (!value) return 0;
    const std::string word = lower(trim(*value));
    const auto found = std::find(choices.begin(), choices.end(), word);
    if (found != choices.end()) return static_cast<std::size_t>(found - choices.begin());
    warnings_.push_back(fmt::format("{}={} is read as {}, as Lambda Web Adapter reads any value but {}", used_, *value,
                                    *choices.begin(), fmt::join(choices, " or ")));
    return 0;
  }

  std::optional<std::chrono::milliseconds> milliseconds(const char* name) {
    const auto ms = number<std::int64_t>(name, 0, 3'600'000);
    if (!ms) return std::nullopt;
    return std::chrono::milliseconds(*ms);
  }

  // A list of status codes, read as Lambda Web Adapter reads it: the parts it cannot read are
  // skipped, and said; a list with none it can read is as if unset.
  std::optional<StatusSet> statuses(const char* name) {
    const auto value = text(name);
    if (!value) return std::nullopt;
    std::vector<std::string> unreadable;
    const StatusSet set = StatusSet::parse(*value, unreadable);
    for (const std::string& part : unreadable) {
      warnings_.push_back(
          fmt::format("{}: '{}' is neither a status code (100 to 999) nor a range like 200-399: "
                      "skipped, as Lambda Web Adapter skips it",
                      name, part));
    }
    if (set.empty()) {
      warnings_.push_back(fmt::format("{}={} names no status code: the default applies", name, *value));
      return std::nullopt;
    }
    return set;
  }

 private:
  const EnvironmentLookup& lookup_;
  std::vector<std::string>& warnings_;
  std::string_view used_;
};

}  // namespace

StatusSet StatusSet::range(unsigned first, unsigned last) {
  StatusSet set;
  for (unsigned code = first; code <= last && code < kLimit; ++code) set.codes_.set(code);
  return set;
}

StatusSet StatusSet::parse(std::string_view text, std::vector<std::string>& unreadable) {
  StatusSet set;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view part = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (part.empty()) continue;
    const auto dash = part.find('-');
    const auto first = parse_number<unsigned>(trim(part.substr(0, dash)), 100, 999);
    const auto last =
        dash == std::string_view::npos ? first : parse_number<unsigned>(trim(part.substr(dash + 1)), 100, 999);
    if (!first || !last || *last < *first) {
      unreadable.emplace_back(part);
      continue;
    }
    set.codes_ |= range(*first, *last).codes_;
  }
  return set;
}

AdapterConfig adapter_config_from_environment(const EnvironmentLookup& lookup) {
  AdapterConfig config;
  Reader env(lookup, config.warnings);

  if (const auto mode = env.text(kEnvMode)) {
    const std::string word = lower(trim(*mode));
    if (word == "web") {
      config.mode = AdapterMode::web;
    } else if (word == "proxy") {
      config.mode = AdapterMode::proxy;
    } else {
      bad_value(kEnvMode, *mode, "web or proxy");
    }
  }

  if (auto host = env.text(kEnvHost, kEnvHostDeprecated)) config.app_host = std::move(*host);
  const auto port_max = std::numeric_limits<std::uint16_t>::max();
  if (auto port = env.number<std::uint16_t>(kEnvPort, 1, port_max)) {
    config.app_port = *port;
  } else if (auto fallback = env.number<std::uint16_t>(kEnvPortFallback, 1, port_max)) {
    config.app_port = *fallback;
  }
  config.readiness_port =
      env.number<std::uint16_t>(kEnvReadinessPort, 1, port_max, kEnvReadinessPortDeprecated).value_or(config.app_port);
  if (auto path = env.url_path(kEnvReadinessPath, kEnvReadinessPathDeprecated)) {
    config.readiness_path = std::move(*path);
  }
  config.readiness_protocol =
      env.lwa_choice(kEnvReadinessProtocol, kEnvReadinessProtocolDeprecated, {"http", "tcp"}) == 0
          ? ReadinessProtocol::http
          : ReadinessProtocol::tcp;
  if (auto healthy = env.statuses(kEnvReadinessHealthyStatus)) {
    config.healthy_status = *healthy;
    if (env.text(kEnvReadinessMinUnhealthyStatus)) {
      config.warnings.push_back(
          fmt::format("{} is ignored: {} is set", kEnvReadinessMinUnhealthyStatus, kEnvReadinessHealthyStatus));
    }
  } else if (auto min_unhealthy = env.number<unsigned>(kEnvReadinessMinUnhealthyStatus, 101, 999)) {
    config.warnings.push_back(fmt::format("{} is deprecated; use {}={}-{}", kEnvReadinessMinUnhealthyStatus,
                                          kEnvReadinessHealthyStatus, 100, *min_unhealthy - 1));
    config.healthy_status = StatusSet::range(100, *min_unhealthy - 1);
  }
  config.async_init = env.lwa_switch(kEnvAsyncInit, kEnvAsyncInitDeprecated).value_or(false);

  if (auto base = env.text(kEnvRemoveBasePath, kEnvRemoveBasePathDeprecated)) {
    // Taken as LWA takes it, but said: a prefix without the leading / matches no request path.
    if (base->front() != '/') {
      config.warnings.push_back(
          fmt::format("{}={} does not start with /: no request path starts with it, so "
                      "nothing is removed (did you mean /{}?)",
                      env.used(), *base, *base));
    }
    config.remove_base_path = std::move(*base);
  }
  if (auto path = env.text(kEnvPassThroughPath)) {
    // LWA sets it as the URL's path, which gains the leading / it lacks ("events" is /events).
    // (Built anew, not insert(0, "/"): GCC 12 at -O2 takes that for an overlapping copy, -Wrestrict.)
    if (path->front() != '/') path = "/" + *path;
    env.require_request_path(*path);
    config.pass_through_path = std::move(*path);
  }
  config.enable_compression = env.lwa_switch(kEnvEnableCompression).value_or(false);
  config.invoke_mode = env.lwa_choice(kEnvInvokeMode, nullptr, {"buffered", "response_stream"}) == 0
                           ? InvokeMode::buffered
                           : InvokeMode::response_stream;
  if (config.enable_compression && config.invoke_mode == InvokeMode::response_stream) {
    config.enable_compression = false;
    config.warnings.push_back(fmt::format("{} is ignored with {}=response_stream: a stream is never compressed",
                                          kEnvEnableCompression, kEnvInvokeMode));
  }
  if (auto source = env.text(kEnvAuthorizationSource)) {
    // Kept, as LWA keeps it, but said: a name HTTP cannot carry is in no request.
    if (!net::is_field_name(*source)) {
      config.warnings.push_back(
          fmt::format("{}={} is not a valid header name: no request has that header, so "
                      "the Authorization header is never replaced",
                      kEnvAuthorizationSource, *source));
    }
    config.authorization_source = std::move(*source);
  }
  config.error_status_codes = env.statuses(kEnvErrorStatusCodes);

  // The proxy itself always talks to Lambda: AWS_LWA_LAMBDA_RUNTIME_API_PROXY is how an LWA-style
  // client in the same function finds the proxy.
  auto proxy = env.text(kEnvRuntimeApiProxy);
  const char* runtime_api_name = kEnvRuntimeApi;
  if (proxy && config.mode == AdapterMode::web) {
    config.runtime_api = std::move(*proxy);
    runtime_api_name = kEnvRuntimeApiProxy;
  } else if (auto api = env.text(kEnvRuntimeApi)) {
    config.runtime_api = std::move(*api);
  }
  if (auto concurrency = env.number<unsigned>(kEnvMaxConcurrency, 1, 10'000)) config.max_concurrency = *concurrency;
  if (!config.runtime_api.empty()) {
    if (auto address = net::parse_host_port(config.runtime_api); !address) {
      bad_value(runtime_api_name, config.runtime_api, fmt::format("host:port ({})", address.error().message));
    }
  }

  if (auto path = env.url_path(kEnvSnapStartBeforeCheckpointPath))
    config.snapstart_before_checkpoint_path = std::move(*path);
  if (auto path = env.url_path(kEnvSnapStartAfterRestorePath)) config.snapstart_after_restore_path = std::move(*path);
  config.before_snapshot_timeout = env.milliseconds(kEnvBeforeSnapshotTimeoutMs);
  if (auto timeout = env.milliseconds(kEnvAfterRestoreTimeoutMs)) {
    config.after_restore_timeout = std::min(*timeout, kAfterRestoreTimeoutMax);
    if (*timeout > kAfterRestoreTimeoutMax) {
      config.warnings.push_back(fmt::format(
          "{}={} is read as {}: Lambda lets a restore last 10 s in all, hooks included, and a hook still running "
          "must be reported by name before Lambda ends the restore",
          kEnvAfterRestoreTimeoutMs, timeout->count(), kAfterRestoreTimeoutMax.count()));
    }
  }
  config.expect_subscribers = env.number<unsigned>(kEnvExpectSubscribers, 0, 4096);
  if (auto settle = env.milliseconds(kEnvSubscriberSettleMs)) config.subscriber_settle = *settle;
  config.run_bracket = env.boolean(kEnvBracket).value_or(true);
  if (auto port = env.number<std::uint16_t>(kEnvProxyPort, 1, port_max)) config.proxy_port = *port;
  return config;
}

std::optional<std::string> process_environment(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe): read at start-up
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

AdapterConfig adapter_config_from_environment() { return adapter_config_from_environment(process_environment); }

}  // namespace snapbus::adapter
