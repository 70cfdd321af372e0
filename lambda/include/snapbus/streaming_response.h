// A streamed response (Lambda-Runtime-Function-Response-Mode: streaming) beyond its bytes: the
// http-integration prelude that opens it, and the trailers that end one that failed midway.
//
//   std::string body = prelude_json(app_answer_header);  // then kPreludeSeparator, then the payload
//   if (auto end = data.find(kPreludeSeparator); end != std::string::npos) {
//     auto head = parse_prelude(std::string_view(data).substr(0, end));   // status, headers, cookies
//   }
//   net::Trailers trailers = streamed_error_trailers("Runtime.Unhandled", json_error_body);
//   if (auto failure = streamed_error(trailers)) { failure->type; failure->body; }
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "snapbus/function_url.h"
#include "snapbus/http_trailers.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::lambda {

// The JSON prelude of a streamed http-integration response (status, headers, cookies; no body).
// nullopt when it is not a JSON object or one of its fields is malformed.
std::optional<HttpReply> parse_prelude(std::string_view prelude);

// The prelude for an app's answer, as Lambda Web Adapter's runtime writes it: the status; one value
// per header name as the app wrote it (the values of a name given on several lines joined with
// ", "); Set-Cookie as `cookies`; Transfer-Encoding, which described the hop from the app, left out;
// application/octet-stream when the app named no type. Values that are not UTF-8 are read as
// ISO-8859-1, so the prelude stays JSON.
std::string prelude_json(const boost::beast::http::response_header<>& head);

struct StreamedError {
  std::string type;
  std::string body;  // the JSON error as the runtime sent it; may be empty
};

// The trailers that end a stream which failed: kHeaderFunctionErrorType, and kHeaderFunctionErrorBody
// holding the base64 of `body`. Neither has a size limit: a long error stays whole.
net::Trailers streamed_error_trailers(std::string_view type, std::string_view body);

// The failure a stream's trailers report, nullopt when they report none. A body trailer that is not
// base64 is taken as it is, for runtimes that send the JSON directly.
std::optional<StreamedError> streamed_error(const net::Trailers& trailers);

}  // namespace snapbus::lambda
