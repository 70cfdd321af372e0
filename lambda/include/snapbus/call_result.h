// What a call to the Lambda Runtime or Extensions API gives back: the value, or why there is none.
//
//   auto event = co_await runtime.next();
//   if (!event) {
//     if (event.error().code == snapbus::lambda::CallErrc::invalid_state) { /* 403 InvalidStateTransition */ }
//     std::cerr << event.error().message << '\n';
//     // "GET /2018-06-01/runtime/invocation/next: 403 InvalidStateTransition: ..."
//   }
//
// Failures are values: an API that refuses a call is part of the protocol, not an exceptional event.
#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "snapbus/http_client.h"

namespace snapbus::lambda {

enum class CallErrc {
  transport,          // no answer: refused, reset or timed out; transport_error says which
  invalid_request,    // 400: the API could not take the request (bad JSON, a missing header)
  invalid_state,      // 403: not allowed now (InvalidStateTransition), or an unknown extension identifier
  not_found,          // 404: no such endpoint
  payload_too_large,  // 413: a body over the API's limit
  server_error,       // 5xx: the API cannot go on; Lambda expects the runtime to exit
  unexpected_answer,  // any other status, or a success without what the protocol promises
  invalid_argument,   // the caller's input cannot be sent (a request id that is not one path segment)
};

// "transport", "invalid_state", ...: for logs.
std::string_view call_errc_name(CallErrc code) noexcept;

struct CallError {
  CallErrc code = CallErrc::unexpected_answer;
  unsigned http_status = 0;  // 0 when no answer came
  std::string error_type;    // errorType of the API's JSON error body, when it sent one
  std::string message;       // "<METHOD> <path>: <what happened>"
  boost::system::error_code transport_error;
};

// Lets CallResult::value() throw std::runtime_error(message) for callers that prefer exceptions.
[[noreturn]] void throw_exception_from_error(const CallError& error, const boost::source_location& location);

template <typename T>
using CallResult = boost::system::result<T, CallError>;

// `call` names the call ("POST /2018-06-01/runtime/init/error"); `body` is the API's answer, usually a
// JSON error {"errorType","errorMessage"}.
CallError call_error_from_answer(std::string_view call, unsigned http_status, std::string_view body);
CallError call_error_from_transport(std::string_view call, const net::NetError& error);

}  // namespace snapbus::lambda
