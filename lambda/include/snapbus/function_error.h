// An error a function reports to Lambda: an invocation error, an Init or restore failure, an extension's
// error, or the trailer that ends a failed streamed response.
//
//   snapbus::lambda::FunctionError error{.type = "Runtime.AfterRestoreError", .message = "hook 'db' failed"};
//   std::string body = function_error_json(error);
//   // {"errorMessage":"hook 'db' failed","errorType":"Runtime.AfterRestoreError","stackTrace":[]}
#pragma once

#include <string>
#include <vector>

namespace snapbus::lambda {

struct FunctionError {
  std::string type;  // errorType, also sent in the Lambda-Runtime-Function-Error-Type header
  std::string message;
  std::vector<std::string> stack_trace;
};

// The JSON body Lambda documents: {"errorMessage", "errorType", "stackTrace"}.
std::string function_error_json(const FunctionError& error);

}  // namespace snapbus::lambda
