// The Runtime API (/2018-06-01/runtime/...) as Lambda documents it; the same listener also serves
// the Extensions API, as AWS_LAMBDA_RUNTIME_API does in Lambda.
//
//   auto bound = net::http_listen(io, "127.0.0.1", 0, [&env](net::HttpExchange& ex) { return serve_runtime_api(env,
//   ex); },
//                                 {.error_format = {.content_type = "application/json", .body = lambda::json_error}});
#pragma once

#include <string>

#include "environment.h"
#include "snapbus/http_exchange.h"

namespace snapbus::emulator {

asio::awaitable<void> serve_runtime_api(Environment& env, net::HttpExchange& exchange);

// Sends `error` as a Lambda error body.
asio::awaitable<void> respond_api_error(net::HttpExchange& exchange, const ApiError& error);
// Accepts a post of either API: 202 with Lambda's {"status":"OK"}.
asio::awaitable<void> respond_accepted(net::HttpExchange& exchange);

}  // namespace snapbus::emulator
