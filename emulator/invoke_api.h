// The Lambda Invoke API as the front door serves it: which requests are Invoke calls, which function
// and version they name, how the caller wants it invoked, and errors in the shape AWS SDKs parse.
//
//   if (auto call = read_invoke_call(ex.request().target(), ex.header(kHeaderInvocationType),
//                                    ex.header(kHeaderLogType))) {
//     const InvokedFunction invoked = resolve_invoked_function(*call, config);  // HttpError 404 for another function
//     if (call->type == InvocationType::dry_run) ... answer 204 ...
//   } else if (is_signed_by_sdk(ex.header("Authorization")) && is_lambda_api_path(ex.request().target())) {
//     ... another operation of the Lambda API: refused, not run ...
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
// The type of the refusal of a Lambda API operation the emulator does not serve.
inline constexpr std::string_view kUnknownOperationType = "UnknownOperationException";

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
  // Signed by an AWS SDK or the AWS CLI (is_signed_by_sdk): the caller gets what Lambda's Invoke API
  // answers, a payload that is not JSON refused and a streamed answer gathered whole. Unsigned (curl,
  // a script written for the RIE), it gets what the RIE answers: the payload as it came, a streamed
  // answer relayed chunk by chunk with a failure in its trailers.
  bool signed_by_sdk = false;
};

// Whether an Authorization header is AWS Signature Version 4's, which every AWS SDK and the CLI send
// (with any credentials: the emulator checks none) and a caller of the RIE's path has no reason to.
bool is_signed_by_sdk(std::string_view authorization);

// Whether `target` is on a path of the Lambda API (/YYYY-MM-DD/...), where an SDK's other operations
// (GetFunctionConfiguration, the deprecated InvokeAsync, ...) go. A signed request there is no Function
// URL call, even to a function whose URL takes IAM-signed requests: no real URL has such a path.
bool is_lambda_api_path(std::string_view target);

// nullopt when `target` is not an Invoke or InvokeWithResponseStream path: the request is for the
// Function URL. Throws net::HttpError 400 ValidationException for an X-Amz-Invocation-Type other
// than RequestResponse, Event or DryRun (InvokeWithResponseStream takes no Event), and for an
// X-Amz-Log-Type other than None or Tail.
std::optional<InvokeCall> read_invoke_call(std::string_view target, std::string_view invocation_type,
                                           std::string_view log_type = {});

// The version that runs the call, and the qualifier its caller named.
struct InvokedFunction {
  std::string executed_version;  // always the --function-version: the one that runs
  // As the caller named it, in FunctionName or Qualifier: empty for an unqualified call, else
  // $LATEST, a version or an alias. It ends the invoked function's ARN the runtime receives, as
  // Lambda's does (an unqualified call gets an unqualified ARN, an alias's the alias's).
  std::string qualifier;
};

// Resolves a call against the emulated function: the emulator runs one function at one version
// (--function-name, --function-version). FunctionName may be the name, `name:qualifier`, a partial ARN
// (`account:function:name`) or a full ARN; the RIE's `function` always matches. A qualifier may be
// the version, `$LATEST` or any alias name (the emulator has no aliases to check it against); another
// version number, another name or another region is 404 ResourceNotFoundException, as from Lambda.
// The account in an ARN is not checked: the emulator stands in for whichever account the caller uses.
// Throws net::HttpError, whose type is the one SDKs raise (ResourceNotFoundException, ...).
InvokedFunction resolve_invoked_function(const InvokeCall& call, const Config& config);

// The body of an Invoke API error of `type`, as Lambda sends it with the type in x-amzn-ErrorType:
// {"Type":"User","message":"..."} ("Service" for a 5xx). The message's key is the one Lambda's API
// model gives that error: "Message" for ResourceNotFoundException, ServiceException and the SnapStart
// errors, "message" for the others (SDKs that bind members by name read no other). A
// TooManyRequestsException also has its Reason.
std::string invoke_error_body(boost::beast::http::status status, std::string_view type, std::string_view message);

}  // namespace snapbus::emulator
