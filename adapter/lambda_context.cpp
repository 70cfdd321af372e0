#include "lambda_context.h"

#include <charconv>
#include <initializer_list>
#include <optional>
#include <string_view>

#include <boost/json.hpp>

#include "snapbus/json_string.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::adapter {
namespace {

namespace json = boost::json;

std::optional<json::object> parse_object(std::string_view text) {
  if (text.empty()) return std::nullopt;
  boost::system::error_code error;
  json::value value = json::parse(json::string_view(text.data(), text.size()), error);
  if (error || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

// The first of `names` that `object` holds as a string, "" when none: LWA's runtime accepts each
// field under several spellings (the Runtime API's and its own).
json::string first_string(const json::object& object, std::initializer_list<std::string_view> names) {
  for (const std::string_view name : names) {
    if (const json::value* value = object.if_contains(name); value != nullptr && value->is_string()) {
      return value->get_string();
    }
  }
  return {};
}

json::object string_map(const json::object& object, std::string_view name) {
  json::object out;
  const json::value* value = object.if_contains(name);
  if (value == nullptr || !value->is_object()) return out;
  for (const auto& [key, item] : value->get_object()) {
    if (item.is_string()) out[key] = item.get_string();
  }
  return out;
}

json::value client_context(std::string_view header) {
  const std::optional<json::object> sent = parse_object(header);
  if (!sent) return nullptr;
  json::object app;
  if (const json::value* client = sent->if_contains("client"); client != nullptr && client->is_object()) {
    app = client->get_object();
  }
  return json::object{
      {"client", json::object{{"installationId", first_string(app, {"installationId", "installation_id"})},
                              {"appTitle", first_string(app, {"appTitle", "app_title"})},
                              {"appVersionName", first_string(app, {"appVersionName", "app_version_name"})},
                              {"appVersionCode", first_string(app, {"appVersionCode", "app_version_code"})},
                              {"appPackageName", first_string(app, {"appPackageName", "app_package_name"})}}},
      {"custom", string_map(*sent, "custom")},
      {"environment", string_map(*sent, "environment")},
  };
}

json::value cognito_identity(std::string_view header) {
  const std::optional<json::object> sent = parse_object(header);
  if (!sent) return nullptr;
  return json::object{
      {"identityId", first_string(*sent, {"identityId", "cognitoIdentityId", "identity_id"})},
      {"identityPoolId", first_string(*sent, {"identityPoolId", "cognitoIdentityPoolId", "identity_pool_id"})},
  };
}

}  // namespace

FunctionSettings function_settings_from_environment(const EnvironmentLookup& lookup) {
  FunctionSettings settings;
  settings.function_name = lookup(lambda::kEnvFunctionName).value_or("");
  settings.version = lookup(lambda::kEnvFunctionVersion).value_or("");
  settings.log_stream = lookup(lambda::kEnvLogStream).value_or("");
  settings.log_group = lookup(lambda::kEnvLogGroup).value_or("");
  if (const std::optional<std::string> memory = lookup(lambda::kEnvMemorySize)) {
    std::int64_t megabytes = 0;
    const auto [end, error] = std::from_chars(memory->data(), memory->data() + memory->size(), megabytes);
    if (error == std::errc{} && end == memory->data() + memory->size()) settings.memory = megabytes;
  }
  return settings;
}

FunctionSettings function_settings_from_environment() {
  return function_settings_from_environment(process_environment);
}

LambdaContext::LambdaContext(const FunctionSettings& settings) {
  lambda::JsonWriter json(env_config_json_);
  json.open('{');
  json.member(lambda::JsonKey("function_name"), settings.function_name);
  json.key(lambda::JsonKey("memory"));
  json.raw(std::to_string(settings.memory));
  json.member(lambda::JsonKey("version"), settings.version);
  json.member(lambda::JsonKey("log_stream"), settings.log_stream);
  json.member(lambda::JsonKey("log_group"), settings.log_group);
  json.close('}');
}

std::string LambdaContext::json(const lambda::InvocationRequest& event) const {
  // Written out by hand, in the order LWA's lambda_runtime::Context serializes its fields: building a
  // json::object per request and serializing it was about 8% of the adapter's instructions per
  // invocation. The client context and the identity, rarely sent, still go through json::object.
  std::string out;
  out.reserve(192 + event.request_id.size() + event.function_arn.size() + event.trace_id.size() +
              event.tenant_id.size() + env_config_json_.size());
  lambda::JsonWriter json(out);
  const auto string_or_null = [&json](const auto& name, const std::string& text) {
    if (text.empty()) {
      json.key(name);
      json.raw("null");
    } else {
      json.member(name, text);
    }
  };
  const auto parsed_or_null = [&json](const auto& name, const std::string& text, auto parse) {
    json.key(name);
    if (text.empty()) {
      json.raw("null");
    } else {
      json.raw(json::serialize(parse(text)));
    }
  };
  json.open('{');
  json.member(lambda::JsonKey("request_id"), event.request_id);
  json.key(lambda::JsonKey("deadline"));
  json.raw(std::to_string(event.deadline_ms));
  json.member(lambda::JsonKey("invoked_function_arn"), event.function_arn);
  string_or_null(lambda::JsonKey("xray_trace_id"), event.trace_id);
  parsed_or_null(lambda::JsonKey("client_context"), event.client_context, client_context);
  parsed_or_null(lambda::JsonKey("identity"), event.cognito_identity, cognito_identity);
  // lambda_runtime 1.1's Context, which LWA 1.x serializes, has the tenant after the identity.
  string_or_null(lambda::JsonKey("tenant_id"), event.tenant_id);
  json.key(lambda::JsonKey("env_config"));
  json.raw(env_config_json_);
  json.close('}');
  // The client context and the identity come parsed and serialized again, and a DEL they held (as the
  // escape \u007f, which the Runtime API's header may carry) comes out as it is.
  lambda::escape_deletes(out);
  return out;
}

}  // namespace snapbus::adapter
