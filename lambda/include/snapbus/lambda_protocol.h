// The names and numbers of Lambda's Runtime API, Extensions API and execution environment, written
// once for both sides: the emulator serves them, runtime and extension clients call them.
//
//   using namespace snapbus::lambda;
//   std::string target = std::string(kRuntimeApiPrefix) + std::string(kRuntimeNextPath);
//   headers.set(kHeaderFunctionErrorType, "Runtime.Unknown");
//   if (body.size() > kBufferedResponseLimit) { ... }
//   const char* api = std::getenv(kEnvRuntimeApi);      // "127.0.0.1:9001"
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace snapbus::lambda {

// ---- Runtime API (/2018-06-01/runtime/...) -------------------------------------------------------

inline constexpr std::string_view kRuntimeApiPrefix = "/2018-06-01/runtime/";
// Not used by runtimes any more, but kept by the RIE (and Lambda): GET answers 200 "pong".
inline constexpr std::string_view kRuntimePingPath = "/2018-06-01/ping";
// The paths below follow kRuntimeApiPrefix.
inline constexpr std::string_view kRuntimeNextPath = "invocation/next";
inline constexpr std::string_view kRuntimeRestoreNextPath = "restore/next";
inline constexpr std::string_view kRuntimeInitErrorPath = "init/error";
inline constexpr std::string_view kRuntimeRestoreErrorPath = "restore/error";
// invocation/<request id>/response and invocation/<request id>/error.
inline constexpr std::string_view kRuntimeInvocationPath = "invocation/";
inline constexpr std::string_view kRuntimeResponseAction = "response";
inline constexpr std::string_view kRuntimeErrorAction = "error";

// Headers of an event returned by invocation/next.
inline constexpr std::string_view kHeaderRequestId = "Lambda-Runtime-Aws-Request-Id";
inline constexpr std::string_view kHeaderDeadlineMs = "Lambda-Runtime-Deadline-Ms";
inline constexpr std::string_view kHeaderInvokedFunctionArn = "Lambda-Runtime-Invoked-Function-Arn";
inline constexpr std::string_view kHeaderTraceId = "Lambda-Runtime-Trace-Id";
inline constexpr std::string_view kHeaderClientContext = "Lambda-Runtime-Client-Context";
inline constexpr std::string_view kHeaderCognitoIdentity = "Lambda-Runtime-Cognito-Identity";
// A function in tenant isolation mode: the tenant its caller named (the Invoke API's X-Amz-Tenant-Id).
inline constexpr std::string_view kHeaderTenantId = "Lambda-Runtime-Aws-Tenant-Id";

// Headers a runtime sends: the error type of init/restore/invocation errors, and on a streamed
// response the mode. A stream that fails midway ends with the two error trailers, the body one
// holding the base64 of the JSON error.
inline constexpr std::string_view kHeaderFunctionErrorType = "Lambda-Runtime-Function-Error-Type";
inline constexpr std::string_view kHeaderFunctionErrorBody = "Lambda-Runtime-Function-Error-Body";
inline constexpr std::string_view kHeaderResponseMode = "Lambda-Runtime-Function-Response-Mode";
inline constexpr std::string_view kResponseModeStreaming = "streaming";
// The Trailer header a streamed response announces: the two that end a failed stream.
inline constexpr std::string_view kStreamedErrorTrailers =
    "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body";

// ---- Extensions API (/2020-01-01/extension/...) --------------------------------------------------

inline constexpr std::string_view kExtensionApiPrefix = "/2020-01-01/extension/";
// Where extensions subscribe to telemetry and logs (PUT, during Init).
inline constexpr std::string_view kTelemetryApiPath = "/2022-07-01/telemetry";
inline constexpr std::string_view kLogsApiPath = "/2020-08-15/logs";
// The paths below follow kExtensionApiPrefix.
inline constexpr std::string_view kExtensionRegisterPath = "register";
inline constexpr std::string_view kExtensionNextPath = "event/next";
inline constexpr std::string_view kExtensionInitErrorPath = "init/error";
inline constexpr std::string_view kExtensionExitErrorPath = "exit/error";

inline constexpr std::string_view kHeaderExtensionName = "Lambda-Extension-Name";
inline constexpr std::string_view kHeaderExtensionIdentifier = "Lambda-Extension-Identifier";
inline constexpr std::string_view kHeaderExtensionEventIdentifier = "Lambda-Extension-Event-Identifier";
inline constexpr std::string_view kHeaderExtensionErrorType = "Lambda-Extension-Function-Error-Type";
// Optional features an extension asks for on register, comma-separated: with kFeatureAccountId the
// answer also names the function's account.
inline constexpr std::string_view kHeaderExtensionAcceptFeature = "Lambda-Extension-Accept-Feature";
inline constexpr std::string_view kFeatureAccountId = "accountId";

// The event types an extension registers for ({"events":["INVOKE","SHUTDOWN"]}) and receives.
inline constexpr std::string_view kEventInvoke = "INVOKE";
inline constexpr std::string_view kEventShutdown = "SHUTDOWN";

// ---- Answers -------------------------------------------------------------------------------------

// The statuses the Runtime and Extensions APIs answer a successful call with, and the body of
// their 202 (what the RIE sends).
inline constexpr unsigned kStatusOk = 200;
inline constexpr unsigned kStatusAccepted = 202;
inline constexpr std::string_view kAcceptedBody = R"({"status":"OK"})";

// ---- Bodies ----------------------------------------------------------------------------------------

inline constexpr std::string_view kContentTypeJson = "application/json";
// An invocation error whose body also carries an X-Ray "errorCause" (see error_body.h).
inline constexpr std::string_view kContentTypeErrorCause = "application/vnd.aws.lambda.error.cause+json";
// What a streamed response without a Content-Type is taken to be.
inline constexpr std::string_view kContentTypeOctetStream = "application/octet-stream";
// A streamed response in this content type starts with a JSON prelude (status, headers, cookies)
// ended by kPreludeSeparator, eight NUL bytes; see streaming_response.h.
inline constexpr std::string_view kContentTypeHttpIntegration = "application/vnd.awslambda.http-integration-response";
inline constexpr std::string_view kPreludeSeparator("\0\0\0\0\0\0\0\0", 8);

// Lambda's quotas: a synchronous invocation's payload (6 MiB: "Request must be smaller than 6291456
// bytes"), its buffered response or error (6 MiB and 100 bytes: "exceeded maximum allowed payload
// size (6291556 bytes)", the RIE's MaxPayloadSize too), a streamed response, and the init, restore
// and extension error bodies the emulator accepts (Lambda does not document one; 1 MiB).
inline constexpr std::uint64_t kInvokePayloadLimit = std::uint64_t{6} * 1024 * 1024;
inline constexpr std::uint64_t kBufferedResponseLimit = std::uint64_t{6} * 1024 * 1024 + 100;
inline constexpr std::uint64_t kStreamedResponseLimit = 200ULL * 1024 * 1024;
inline constexpr std::uint64_t kErrorBodyLimit = std::uint64_t{1024} * 1024;
// A Runtime API request's header, in all. Lambda's (the RIE's Go server, net/http's default) takes
// 1 MiB and the 4 KiB Go's reader allows past it (initialReadLimitSize), and awslambdaric sends the
// X-Ray cause of an error, every stack frame, in one header of up to 1 MiB
// (lambda_runtime_client.py's max_header_size).
inline constexpr std::uint32_t kRuntimeApiHeaderLimit = 1024 * 1024 + 4096;
// The Invoke API's ClientContext (X-Amz-Client-Context): "up to 3,583 bytes of base64-encoded data".
inline constexpr std::size_t kClientContextLimit = 3583;

// ---- The execution environment ------------------------------------------------------------------

// Names of the environment variables Lambda documents for the processes of a function.
inline constexpr const char* kEnvRuntimeApi = "AWS_LAMBDA_RUNTIME_API";
inline constexpr const char* kEnvInitializationType = "AWS_LAMBDA_INITIALIZATION_TYPE";
inline constexpr const char* kEnvTaskRoot = "LAMBDA_TASK_ROOT";
inline constexpr const char* kEnvRuntimeDir = "LAMBDA_RUNTIME_DIR";
inline constexpr const char* kEnvHandler = "_HANDLER";
inline constexpr const char* kEnvFunctionName = "AWS_LAMBDA_FUNCTION_NAME";
inline constexpr const char* kEnvFunctionVersion = "AWS_LAMBDA_FUNCTION_VERSION";
inline constexpr const char* kEnvMemorySize = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
inline constexpr const char* kEnvRegion = "AWS_REGION";
inline constexpr const char* kEnvDefaultRegion = "AWS_DEFAULT_REGION";
inline constexpr const char* kEnvLogGroup = "AWS_LAMBDA_LOG_GROUP_NAME";
inline constexpr const char* kEnvLogStream = "AWS_LAMBDA_LOG_STREAM_NAME";
inline constexpr const char* kEnvExecWrapper = "AWS_LAMBDA_EXEC_WRAPPER";
inline constexpr const char* kEnvTz = "TZ";
inline constexpr const char* kEnvLang = "LANG";
inline constexpr const char* kEnvPath = "PATH";

// Values of kEnvInitializationType.
inline constexpr const char* kInitTypeOnDemand = "on-demand";
inline constexpr const char* kInitTypeSnapStart = "snap-start";

}  // namespace snapbus::lambda
