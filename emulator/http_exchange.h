// One HTTP/1.1 request/response exchange on a Beast stream, and the listener that hands them out.
// Bodies are read only when the handler asks, whole or piece by piece (for streamed responses).
//
//   auto bound = http_listen(io, "127.0.0.1", 0, [](HttpExchange& ex) -> asio::awaitable<void> {
//     std::string body = co_await ex.read_body(1 << 20);
//     co_await ex.respond(http::status::ok, body);
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

namespace snapbus::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class HttpError : public std::runtime_error {
 public:
  HttpError(http::status status, std::string type, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)) {}
  [[nodiscard]] http::status status() const { return status_; }
  [[nodiscard]] const std::string& type() const { return type_; }

 private:
  http::status status_;
  std::string type_;
};
// Thrown by handlers (and body readers) to answer with a JSON error {"errorType","errorMessage"}.

class HttpExchange {
 public:
  HttpExchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, http::request_parser<http::empty_body>& parser)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        head_(parser.get().base()),
        has_body_(!parser.is_done()),
        content_length_(parser.is_header_done() ? parser.content_length() : boost::none),
        keep_alive_(parser.get().keep_alive()) {}

  [[nodiscard]] const http::request_header<>& request() const { return head_; }
  [[nodiscard]] std::string_view header(std::string_view name) const;
  [[nodiscard]] std::string remote_address() const;

  asio::awaitable<std::string> read_body(std::uint64_t limit);
  // Throws HttpError 413 past `limit`, 400 on a malformed body.

  asio::awaitable<http::fields> read_body_pieces(std::uint64_t limit,
                                                 const std::function<void(std::string_view)>& on_piece);
  // Calls on_piece as bytes arrive; returns the final fields, trailers included.

  asio::awaitable<void> respond(http::status status, std::string body,
                                std::string_view content_type = "application/json",
                                const http::fields* extra = nullptr);
  asio::awaitable<void> respond_error(http::status status, std::string_view type, std::string_view message);

  asio::awaitable<void> begin_chunked(http::status status, const http::fields& headers);
  asio::awaitable<void> write_chunk(std::string_view data);
  asio::awaitable<void> end_chunked(const http::fields* trailers = nullptr);

  [[nodiscard]] bool responded() const { return responded_; }
  [[nodiscard]] bool reusable() const;
  void close_after() { close_after_ = true; }

 private:
  asio::awaitable<void> send_continue();
  void check_length(std::uint64_t limit) const;

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::empty_body>& parser_;
  // The body readers move the parser into one of another body type: keep what we need beforehand.
  http::request_header<> head_;
  bool has_body_;
  boost::optional<std::uint64_t> content_length_;
  bool keep_alive_;
  bool body_consumed_ = false;
  bool responded_ = false;
  bool close_after_ = false;
};

inline constexpr std::uint64_t kMaxRequestBody = 256ULL * 1024 * 1024;
// The header parser's limit; each body reader then applies its own, smaller one.

using HttpHandler = std::function<asio::awaitable<void>(HttpExchange&)>;

tcp::endpoint http_listen(asio::io_context& io, const std::string& host, std::uint16_t port, HttpHandler handler);
// Binds (port 0 picks a free one), starts accepting in the background, returns the bound endpoint.
// Throws boost::system::system_error when the address cannot be bound.

std::string json_error(std::string_view type, std::string_view message);
// A Lambda error body ({"errorMessage", "errorType", ...}) built for the runtime or sent by it.

std::optional<std::string> json_error_field(std::string_view body, std::string_view field);
// One string field ("errorType", "errorMessage") of an error body a runtime or extension sent;
// nullopt when the body is not a JSON object with that string field.

}  // namespace snapbus::emulator
