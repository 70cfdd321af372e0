// The front door: plain HTTP requests become Lambda Function URL (payload 2.0) events and the
// function's answer goes back buffered or streamed chunk by chunk; the Invoke API's path
// (invoke_api.h: POST /2015-03-31/functions/<name>/invocations, which the AWS CLI and SDKs call, and
// the RIE's kRiePath among them) passes the payload in and the result out as they are.
//
//   Environment* current = &env;
//   auto bound = net::http_listen(io, "127.0.0.1", 9000,
//                                 [&current](net::HttpExchange& ex) { return serve_front_door(current, ex); });
//   // curl -d '{"x":1}' http://127.0.0.1:9000/2015-03-31/functions/function/invocations
#pragma once

#include <string_view>

#include "environment.h"
#include "invoke_api.h"
#include "snapbus/http_exchange.h"

namespace snapbus::emulator {

// `current` is read once the request has been read: an environment that failed meanwhile has handed
// its queue to a fresh one, which must get this invocation too.
asio::awaitable<void> serve_front_door(Environment* const& current, net::HttpExchange& exchange);

}  // namespace snapbus::emulator
