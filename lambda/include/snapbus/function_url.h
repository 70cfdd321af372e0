// The Function URL codec: an HTTP request becomes the payload version 2.0 event a Function URL
// sends, and the function's result becomes the HTTP response a Function URL returns.
//
//   std::string event = function_url_event(request_head, body,
//                                          {.request_id = id, .source_ip = "203.0.113.7", .scheme = "http"});
//   ... the function runs on `event` and returns `result` ...
//   if (auto reply = function_url_reply(result)) send(reply->status, reply->headers, reply->body);
//   else answer 502 Runtime.InvalidResponse
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>

namespace snapbus::lambda {

namespace http = boost::beast::http;

struct HttpReply {
  http::status status = http::status::ok;
  http::fields headers;  // Set-Cookie once per cookie
  std::string body;
};

// What the request's event says of where it came from, besides the request itself.
struct FunctionUrlOrigin {
  std::string request_id;        // requestContext.requestId: the invocation's, as in its log lines
  std::string source_ip;         // requestContext.http.sourceIp, and the last of x-forwarded-for
  std::string scheme = "https";  // x-forwarded-proto (Lambda's endpoint is https on 443); the port
                                 // is the Host header's, else the scheme's
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// The version 2.0 event a Function URL sends for this request, as recorded from Lambda: the
// headers lowercased and comma-joined (`cookie` too, besides the cookies list), with the
// x-forwarded-* ones a Function URL adds. Text bodies (by Content-Type) that are UTF-8 go in as they
// are, others base64-encoded. The event is always valid JSON: bytes of the path, query or headers
// that are not UTF-8 become U+FFFD.
std::string function_url_event(const http::request_header<>& head, const std::string& body,
                               const FunctionUrlOrigin& origin);

// A buffered result as a Function URL turns it into HTTP: {statusCode, headers, cookies, body,
// isBase64Encoded}, or any other JSON as a 200 application/json body. nullopt when it is malformed:
// among others a status that is no final one (1xx), a body with 204 or 304, a header name that is
// no token, or a header or cookie value with a control byte (CR, LF: it would split the response).
std::optional<HttpReply> function_url_reply(std::string_view payload);

// The status, headers and cookies of a result object, without its body: the part a buffered
// result and a streamed prelude (streaming_response.h) share. nullopt when one of them is malformed.
std::optional<HttpReply> function_url_reply_head(const boost::json::object& result);

}  // namespace snapbus::lambda
