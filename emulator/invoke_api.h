// The Lambda Invoke API as the front door serves it: which requests are Invoke calls, which function
// and version they name, how the caller wants it invoked, and errors in the shape AWS SDKs parse.
//
//   if (auto call = read_invoke_call(ex.request().target(), ex.header(kHeaderInvocationType),
//                                    ex.header(kHeaderLogType))) {
//     const std::string version = resolve_invoked_version(*call, config);  // HttpError 404 for another function
//     if (call->type == InvocationType::dry_run) ... answer 204 ...
//   }
//   // else: a Function URL request
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/status.hpp>

#include "snapbus/emulate_config.h"
#include "snapbus/http_exchange.h"

namespace snapbus::emulator {

// Invoke: POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=...]
inline constexpr std::string_view kInvokePathPrefix = "/2015-03-31/functions/";
inline constexpr std::string_view kInvokePathSuffix = "/invocations";
// InvokeWithResponseStream: POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations
inline constexpr std::string_view kStreamingInvokePathPrefix = "/2021-11-15/functions/";
inline constexpr std::string_view kStreamingInvokePathSuffix = "/response-streaming-invocations";
// The name in the AWS Runtime Interface Emulator's one invoke path, which always reaches the emulated
// function, whatever its --function-name, so scripts written for the RIE keep working.
inline constexpr std::string_view kRieFunctionName = "function";
inline constexpr std::string_view kRiePath = "/2015-03-31/functions/function/invocations";

// The Invoke API's request and answer headers.
inline constexpr std::string_view kHeaderInvocationType = "X-Amz-Invocation-Type";
inline constexpr std::string_view kHeaderExecutedVersion = "X-Amz-Executed-Version";
inline constexpr std::string_view kHeaderFunctionError = "X-Amz-Function-Error";
// LogType Tail asks for the invocation's log; its last 4 KB come back base64 in X-Amz-Log-Result
// (InvokeWithResponseStream: in InvokeComplete's LogResult).
inline constexpr std::string_view kHeaderLogType = "X-Amz-Log-Type";
inline constexpr std::string_view kHeaderLogResult = "X-Amz-Log-Result";
// Where AWS services put an error's type; SDKs read it before the body.
inline constexpr std::string_view kHeaderErrorType = "x-amzn-ErrorType";

// An asynchronous invocation's payload limit: 1 MiB since Lambda raised it from 256 KB (October 2025).
inline constexpr std::uint64_t kAsyncInvokePayloadLimit = std::uint64_t{1024} * 1024;

enum class InvocationType {
  request_response,  // the caller waits for the result (the default)
  event,             // queued: the caller gets 202 at once and never sees the result
  dry_run,           // nothing runs: 204 once the function is found
};

struct InvokeCall {
  std::string function_name;  // FunctionName as the caller wrote it, percent-decoded
  std::string qualifier;      // the ?Qualifier= parameter, percent-decoded; empty when none
  InvocationType type = InvocationType::request_response;
  // InvokeWithResponseStream: the answer is an event stream (event_stream.h) of the function's bytes.
  bool response_stream = false;
  // X-Amz-Log-Type: Tail on a call whose caller waits (Lambda gives no log to Event or DryRun).
  bool log_tail = false;
};

// nullopt when `target` is not an Invoke or InvokeWithResponseStream path: the request is for the
// Function URL. Throws net::HttpError 400 ValidationException for an X-Amz-Invocation-Type other
// than RequestResponse, Event or DryRun (InvokeWithResponseStream takes no Event), and for an
// X-Amz-Log-Type other than None or Tail.
std::optional<InvokeCall> read_invoke_call(std::string_view target, std::string_view invocation_type,
                                           std::string_view log_type = {});

// The version that runs the call: the emulator runs one function at one version (--function-name,
// --function-version). FunctionName may be the name, `name:qualifier`, a partial ARN
// (`account:function:name`) or a full ARN; the RIE's `function` always matches. A qualifier may be
// the version, `$LATEST` or any alias name (the emulator has no aliases to check it against); another
// version number, another name or another region is 404 ResourceNotFoundException, as from Lambda.
// The account in an ARN is not checked: the emulator stands in for whichever account the caller uses.
// Throws net::HttpError, whose type is the one SDKs raise (ResourceNotFoundException, ...).
std::string resolve_invoked_version(const InvokeCall& call, const Config& config);

// The body of an Invoke API error, as Lambda sends it with the type in x-amzn-ErrorType:
// {"Type":"User","message":"..."} ("Service" for a 5xx).
std::string invoke_error_body(boost::beast::http::status status, std::string_view message);

}  // namespace snapbus::emulator
