#include "lambda_context.h"

#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "snapbus/lambda_protocol.h"

namespace snapbus::adapter {
namespace {

namespace json = boost::json;

EnvironmentLookup lookup_in(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto it = variables.find(std::string(name));
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

lambda::InvocationRequest invocation() {
  lambda::InvocationRequest event;
  event.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
  event.deadline_ms = 1542409706888;
  event.function_arn = "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime";
  event.trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
  return event;
}

TEST(FunctionSettings, ReadFromLambdasVariables) {
  const FunctionSettings settings =
      function_settings_from_environment(lookup_in({{lambda::kEnvFunctionName, "orders"},
                                                    {lambda::kEnvMemorySize, "512"},
                                                    {lambda::kEnvFunctionVersion, "$LATEST"},
                                                    {lambda::kEnvLogStream, "2024/01/01/[$LATEST]abc"},
                                                    {lambda::kEnvLogGroup, "/aws/lambda/orders"}}));
  EXPECT_EQ(settings.function_name, "orders");
  EXPECT_EQ(settings.memory, 512);
  EXPECT_EQ(settings.version, "$LATEST");
  EXPECT_EQ(settings.log_stream, "2024/01/01/[$LATEST]abc");
  EXPECT_EQ(settings.log_group, "/aws/lambda/orders");
}

TEST(FunctionSettings, MissingOrMalformedMemoryIsZero) {
  EXPECT_EQ(function_settings_from_environment(lookup_in({})).memory, 0);
  EXPECT_EQ(function_settings_from_environment(lookup_in({{lambda::kEnvMemorySize, "12x"}})).memory, 0);
  EXPECT_EQ(function_settings_from_environment(lookup_in({})).function_name, "");
}

TEST(LambdaContextJson, HasLwasFieldNamesAndValues) {
  const FunctionSettings settings{.function_name = "orders",
                                  .memory = 1024,
                                  .version = "7",
                                  .log_stream = "stream",
                                  .log_group = "/aws/lambda/orders"};
  const json::object context = json::parse(LambdaContext(settings).json(invocation())).as_object();
  EXPECT_EQ(context.at("request_id").as_string(), "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
  EXPECT_EQ(context.at("deadline").to_number<std::int64_t>(), 1542409706888);
  EXPECT_EQ(context.at("invoked_function_arn").as_string(),
            "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime");
  EXPECT_EQ(context.at("xray_trace_id").as_string(),
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1");
  EXPECT_TRUE(context.at("client_context").is_null());
  EXPECT_TRUE(context.at("identity").is_null());
  EXPECT_TRUE(context.at("tenant_id").is_null());
  const json::object& env = context.at("env_config").as_object();
  EXPECT_EQ(env.at("function_name").as_string(), "orders");
  EXPECT_EQ(env.at("memory").to_number<int>(), 1024);
  EXPECT_EQ(env.at("version").as_string(), "7");
  EXPECT_EQ(env.at("log_stream").as_string(), "stream");
  EXPECT_EQ(env.at("log_group").as_string(), "/aws/lambda/orders");
  EXPECT_EQ(context.size(), 8U);
}

// The bytes, not only the values: lambda_runtime's field order, and escapes as Boost.JSON writes them.
TEST(LambdaContextJson, TheTextInLambdaRuntimesFieldOrder) {
  lambda::InvocationRequest event = invocation();
  event.trace_id.clear();
  event.tenant_id = "a\"b\\c\n";
  event.cognito_identity = R"({"identityId":"i"})";
  const FunctionSettings settings{
      .function_name = "f", .memory = 128, .version = "$LATEST", .log_stream = "s", .log_group = "g"};
  EXPECT_EQ(LambdaContext(settings).json(event),
            R"({"request_id":"8476a536-e9f4-11e8-9739-2dfe598c3fcd","deadline":1542409706888,)"
            R"("invoked_function_arn":"arn:aws:lambda:us-east-2:123456789012:function:custom-runtime",)"
            R"("xray_trace_id":null,"client_context":null,"identity":{"identityId":"i","identityPoolId":""},)"
            R"("tenant_id":"a\"b\\c\n","env_config":{"function_name":"f","memory":128,"version":"$LATEST",)"
            R"("log_stream":"s","log_group":"g"}})");
}

// A DEL the client context held, escaped in the Runtime API's header, stays escaped: the header is
// passed on to the app, and an HTTP field cannot carry DEL as it is.
TEST(LambdaContextJson, ADeleteStaysEscaped) {
  lambda::InvocationRequest event = invocation();
  event.client_context = R"({"custom":{"note":"a\u007fb"}})";
  const std::string text = LambdaContext({}).json(event);
  EXPECT_EQ(text.find('\x7f'), std::string::npos) << text;
  EXPECT_EQ(json::parse(text).at("client_context").at("custom").at("note").as_string(),
            "a\x7f"
            "b");
}

TEST(LambdaContextJson, AFunctionInTenantIsolationModeNamesTheTenant) {
  lambda::InvocationRequest event = invocation();
  event.tenant_id = "blue";
  const json::object context = json::parse(LambdaContext({}).json(event)).as_object();
  EXPECT_EQ(context.at("tenant_id").as_string(), "blue");
}

TEST(LambdaContextJson, AbsentTraceIdIsNull) {
  lambda::InvocationRequest event = invocation();
  event.trace_id.clear();
  const json::object context = json::parse(LambdaContext({}).json(event)).as_object();
  EXPECT_TRUE(context.at("xray_trace_id").is_null());
}

TEST(LambdaContextJson, CognitoIdentityIsRekeyedAsLwaDoes) {
  lambda::InvocationRequest event = invocation();
  event.cognito_identity = R"({"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"})";
  const json::object context = json::parse(LambdaContext({}).json(event)).as_object();
  const json::object& identity = context.at("identity").as_object();
  EXPECT_EQ(identity.at("identityId").as_string(), "us-east-1:abc");
  EXPECT_EQ(identity.at("identityPoolId").as_string(), "us-east-1:pool");
}

TEST(LambdaContextJson, ClientContextKeepsItsFieldsInLwasShape) {
  lambda::InvocationRequest event = invocation();
  event.client_context =
      R"({"client":{"installation_id":"i-1","app_title":"Shop","appVersionName":"2.1"},"custom":{"k":"v","n":3},)"
      R"("environment":{"platform":"Android"}})";
  const json::object context = json::parse(LambdaContext({}).json(event)).as_object();
  const json::object& client_context = context.at("client_context").as_object();
  const json::object& client = client_context.at("client").as_object();
  EXPECT_EQ(client.at("installationId").as_string(), "i-1");
  EXPECT_EQ(client.at("appTitle").as_string(), "Shop");
  EXPECT_EQ(client.at("appVersionName").as_string(), "2.1");
  EXPECT_EQ(client.at("appPackageName").as_string(), "");
  EXPECT_EQ(client_context.at("custom").as_object(), (json::object{{"k", "v"}}));  // string values only, as LWA
  EXPECT_EQ(client_context.at("environment").as_object(), (json::object{{"platform", "Android"}}));
}

TEST(LambdaContextJson, UnparsableClientContextIsNull) {
  lambda::InvocationRequest event = invocation();
  event.client_context = "not json";
  event.cognito_identity = "[1]";
  const json::object context = json::parse(LambdaContext({}).json(event)).as_object();
  EXPECT_TRUE(context.at("client_context").is_null());
  EXPECT_TRUE(context.at("identity").is_null());
}

}  // namespace
}  // namespace snapbus::adapter
