// The Runtime API (/2018-06-01/runtime/...) as Lambda documents it; the same listener also serves
// the Extensions API, as AWS_LAMBDA_RUNTIME_API does in Lambda.
//
//   auto bound = http_listen(io, "127.0.0.1", 0, [&env](HttpExchange& ex) { return serve_runtime_api(env, ex); });
#pragma once

#include "environment.h"
#include "http_exchange.h"

namespace snapbus::emulator {

inline constexpr std::uint64_t kBufferedResponseLimit = 6 * 1024 * 1024;
inline constexpr std::uint64_t kStreamedResponseLimit = 200ULL * 1024 * 1024;
inline constexpr std::uint64_t kErrorBodyLimit = 1024 * 1024;

asio::awaitable<void> serve_runtime_api(Environment& env, HttpExchange& exchange);

std::string validated_json_body(const std::string& body);
// Returns body unchanged when it is empty or valid JSON; throws HttpError 400 otherwise.

}  // namespace snapbus::emulator
