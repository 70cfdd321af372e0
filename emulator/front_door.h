// The front door: plain HTTP requests become Lambda Function URL (payload 2.0) events and the
// function's answer goes back buffered or streamed chunk by chunk; POST kRiePath is the AWS Runtime
// Interface Emulator's raw invoke path (payload in, result out).
//
//   auto bound = http_listen(io, "127.0.0.1", 9000, [&env](HttpExchange& ex) { return serve_front_door(env, ex); });
//   // curl -d '{"x":1}' http://127.0.0.1:9000/2015-03-31/functions/function/invocations
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "environment.h"
#include "http_exchange.h"

namespace snapbus::emulator {

inline constexpr std::string_view kRiePath = "/2015-03-31/functions/function/invocations";
inline constexpr std::string_view kHttpIntegrationContentType = "application/vnd.awslambda.http-integration-response";

struct HttpReply {
  http::status status = http::status::ok;
  http::fields headers;
  std::string body;
};

std::string function_url_event(const http::request_header<>& head, const std::string& body,
                               const std::string& source_ip, std::chrono::system_clock::time_point now);
// The version 2.0 event a Function URL sends for this request.

std::optional<HttpReply> function_url_reply(std::string_view payload);
// A buffered result as a Function URL turns it into HTTP: {statusCode, headers, cookies, body,
// isBase64Encoded}, or any other JSON as a 200 application/json body. nullopt when it is malformed.

std::optional<HttpReply> parse_prelude(std::string_view prelude);
// The JSON prelude of a streamed http-integration response (status, headers, cookies; no body).

asio::awaitable<void> serve_front_door(Environment& env, HttpExchange& exchange);

}  // namespace snapbus::emulator
