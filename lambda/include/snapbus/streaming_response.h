// A streamed response (Lambda-Runtime-Function-Response-Mode: streaming) beyond its bytes: the
// http-integration prelude that opens it, and the trailers that end one that failed midway.
//
//   // body = prelude JSON, kPreludeSeparator, then the payload
//   if (auto end = data.find(kPreludeSeparator); end != std::string::npos) {
//     auto head = parse_prelude(std::string_view(data).substr(0, end));   // status, headers, cookies
//   }
//   http::fields trailers = streamed_error_trailers("Runtime.Unhandled", json_error_body);
//   if (auto failure = streamed_error(final_fields)) { failure->type; failure->body; }
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

#include "snapbus/function_url.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::lambda {

// The JSON prelude of a streamed http-integration response (status, headers, cookies; no body).
// nullopt when it is not a JSON object or one of its fields is malformed.
std::optional<HttpReply> parse_prelude(std::string_view prelude);

struct StreamedError {
  std::string type;
  std::string body;  // the JSON error as the runtime sent it; may be empty
};

// The trailers that end a stream which failed: kHeaderFunctionErrorType, and kHeaderFunctionErrorBody
// holding the base64 of `body`.
http::fields streamed_error_trailers(std::string_view type, std::string_view body);

// The failure the final fields of a stream (its trailers) report, nullopt when they report none.
// A body trailer that is not base64 is taken as it is, for runtimes that send the JSON directly.
std::optional<StreamedError> streamed_error(const http::fields& final_fields);

}  // namespace snapbus::lambda
