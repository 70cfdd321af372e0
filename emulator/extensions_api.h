// The Extensions API (/2020-01-01/extension/...): register, event/next, init/error, exit/error.
//
//   // inside the Runtime API listener, for targets under kExtensionPrefix:
//   co_await serve_extensions_api(env, exchange, "event/next");
#pragma once

#include <string_view>

#include "environment.h"
#include "http_exchange.h"

namespace snapbus::emulator {

inline constexpr std::string_view kExtensionPrefix = "/2020-01-01/extension/";

asio::awaitable<void> serve_extensions_api(Environment& env, HttpExchange& exchange, std::string_view path);
// `path` is the target after kExtensionPrefix, without the query string.

}  // namespace snapbus::emulator
