// The HTTP/1.1 server loop: accepts connections, reads each request header, hands an HttpExchange
// to the handler, keeps connections alive while they are reusable, and answers malformed requests
// and HttpErrors itself.
//
//   auto bound = snapbus::net::http_listen(io, "127.0.0.1", 0, [](HttpExchange& ex) -> asio::awaitable<void> {
//     std::string body = co_await ex.read_body(1 << 20);
//     co_await ex.respond(http::status::ok, body);
//   }, {.error_format = {.content_type = "application/json", .body = json_error_body}});
//   io.run();
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "snapbus/http_exchange.h"

namespace snapbus::net {

using HttpHandler = std::function<asio::awaitable<void>(HttpExchange&)>;

// As header_timeout or idle_timeout: no limit, as Lambda's Runtime API sets none (Go's http.Server
// without timeouts, in the RIE).
inline constexpr std::chrono::milliseconds kNoTimeout = std::chrono::milliseconds::max();

// What a server accepts, how long it waits for clients and how it answers errors.
struct HttpServerOptions {
  std::uint32_t header_limit = 64 * 1024;
  // A request header must arrive whole within header_timeout of its first byte (of the connection,
  // for the first request), and a kept-alive connection may wait idle_timeout for its next request:
  // slow or idle clients cannot hold connections (and file descriptors) forever. Neither applies
  // once the handler runs, so long polls and long bodies are the handler's business.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // The header parser's limit on a declared body; each body reader then applies its own, smaller one.
  std::uint64_t body_limit = 256ULL * 1024 * 1024;
  HttpErrorFormat error_format;
  // Boost.Beast's fields hold at most 65,533 bytes per value. A request header field that is longer
  // (within header_limit) is left out of the request, and this is told its name and size, rather
  // than the whole request refused: what a client sends that long is a diagnostic (awslambdaric's
  // X-Ray error cause), and the call it rides on matters more. Without it such a request gets 400.
  std::function<void(std::string_view name, std::size_t size)> on_dropped_field;
};

// Binds (port 0 picks a free one), starts accepting in the background on `io`, returns the bound
// endpoint. Throws boost::system::system_error when the address cannot be bound.
tcp::endpoint http_listen(asio::io_context& io, const std::string& host, std::uint16_t port, HttpHandler handler,
                          HttpServerOptions options = {});

}  // namespace snapbus::net
