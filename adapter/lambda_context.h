// The x-amzn-lambda-context header Lambda Web Adapter sends the app with each request: the
// invocation's context (request id, deadline, ARN, trace id, client context, Cognito identity) and
// the function's settings from the environment, as JSON in the field names of LWA's Rust runtime
// (lambda_runtime::Context), so an app written against LWA reads it unchanged.
//
//   const LambdaContext context(function_settings_from_environment());   // once, at start
//   request.set("x-amzn-lambda-context", context.json(event));
//   // {"request_id":"...","deadline":1700000000000,"invoked_function_arn":"arn:...","xray_trace_id":"Root=...",
//   //  "client_context":null,"identity":null,"env_config":{"function_name":"f","memory":512,"version":"$LATEST",
//   //  "log_stream":"...","log_group":"/aws/lambda/f"}}
#pragma once

#include <cstdint>
#include <string>

#include "adapter_config.h"
#include "snapbus/runtime_client.h"

namespace snapbus::adapter {

// Lambda's documented variables of the function (lambda_protocol.h names them): the env_config part.
struct FunctionSettings {
  std::string function_name;
  std::int64_t memory = 0;  // MB; 0 when unset or not a number
  std::string version;
  std::string log_stream;
  std::string log_group;
};

FunctionSettings function_settings_from_environment(const EnvironmentLookup& lookup);
FunctionSettings function_settings_from_environment();

// The JSON LWA sends. Absent trace id, client context or identity are null, as in LWA. The client
// context and the Cognito identity are re-keyed the way LWA's runtime re-serializes them (identityId,
// identityPoolId; client.installationId, ...); one that is not a JSON object becomes null, where LWA
// would fail the invocation, since the app can do without it. The function's part (env_config), the
// same for every invocation, is written once, when the settings are given: it was a third of the work.
class LambdaContext {
 public:
  explicit LambdaContext(const FunctionSettings& settings);

  [[nodiscard]] std::string json(const lambda::InvocationRequest& event) const;

 private:
  std::string env_config_json_;
};

}  // namespace snapbus::adapter
