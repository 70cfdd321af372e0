// Lambda's error bodies: {"errorMessage": "...", "errorType": "..."}, the JSON a runtime posts to
// init/error, restore/error and invocation/<id>/error, and what the platform answers with.
//
//   std::string body = snapbus::lambda::json_error("Runtime.ExitError", "Runtime exited");
//   auto type = snapbus::lambda::json_error_field(body, "errorType");     // "Runtime.ExitError"
//   std::string text = snapbus::lambda::error_message_of(body);           // "Runtime exited"
//   auto shown = snapbus::lambda::error_without_cause(posted);            // the caller's copy, no errorCause
//
// What a runtime or extension reports, with the stack trace Lambda's clients send:
//
//   snapbus::lambda::FunctionError error{.type = "Runtime.AfterRestoreError", .message = "hook 'db' failed"};
//   std::string sent = function_error_json(error);
//   // {"errorMessage":"hook 'db' failed","errorType":"Runtime.AfterRestoreError","stackTrace":[]}
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace snapbus::lambda {

// An error body with these two fields: what the platform (the emulator) answers with.
std::string json_error(std::string_view type, std::string_view message);

// An error a function reports to Lambda: an invocation error, an Init or restore failure, an
// extension's error, or the trailer that ends a failed streamed response.
struct FunctionError {
  std::string type;  // errorType, also sent in the Lambda-Runtime-Function-Error-Type header
  std::string message;
  std::vector<std::string> stack_trace;
};

// The JSON body Lambda documents for it: {"errorMessage", "errorType", "stackTrace"}.
std::string function_error_json(const FunctionError& error);

// One string field ("errorType", "errorMessage") of an error body a runtime or extension sent;
// nullopt when the body is not a JSON object with that string field.
std::optional<std::string> json_error_field(std::string_view body, std::string_view field);

// The errorMessage of `body`, or the whole body when it has none: what a log line should show.
std::string error_message_of(std::string_view body);

// What the caller gets for an invocation error posted as kContentTypeErrorCause: errorMessage,
// errorType and, when not empty, stackTrace, without the X-Ray errorCause, which is for the trace
// alone (the RIE drops it too). nullopt when the body is no JSON object whose first three fields,
// where present, are a string, a string and a list of strings.
std::optional<std::string> error_without_cause(std::string_view body);

}  // namespace snapbus::lambda
