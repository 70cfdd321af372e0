#include "snapbus/wire_request.h"

#include <cstring>
#include <stdexcept>
#include <utility>

#include <boost/beast/core/string.hpp>

#include "request_head.h"
#include "snapbus/connection_fields.h"

namespace snapbus::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::string_view kIdempotencyKey = "Idempotency-Key";
constexpr std::string_view kXIdempotencyKey = "X-Idempotency-Key";

// The methods RFC 9110 calls idempotent that a client may send again, as written: in capitals, the
// only spelling Beast gives a method of its own.
bool idempotent_method(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
}

// Whether a request whose connection closed before a byte of its answer may be sent again. Such a
// close looks the same whether the server never read the request (an idle connection it closed
// just then) or read it, acted, and died: only a request that does no harm twice is resent, as Go's
// net/http decides (RFC 9110 9.2.2). A write that failed before a byte went out is the one
// exception: the server cannot have seen any of it (HttpClient::open).
bool replayable(const http::request<http::string_body>& request) {
  return idempotent_method(request.method_string()) || request.find(kIdempotencyKey) != request.end() ||
         request.find(kXIdempotencyKey) != request.end();
}

// The body framing of Beast's prepare_payload() for a body of known size.
bool frames_with_content_length(std::string_view method, std::size_t body_size) {
  return body_size > 0 || method == "POST" || method == "PUT" || method == "OPTIONS";
}

}  // namespace

WireRequest wire_request(http::request<http::string_body> request, std::string_view default_host) {
  if (request.find(http::field::host) == request.end()) request.set(http::field::host, default_host);
  request.prepare_payload();
  WireRequest wire;
  wire.head = request_head(request);
  wire.answer_has_no_body = request.method() == http::verb::head;
  wire.replayable = replayable(request);
  wire.keeps_alive = request.keep_alive();
  wire.body = std::move(request.body());
  return wire;
}

WireRequestWriter::WireRequestWriter(std::string_view method, std::string_view target, std::size_t field_bytes)
    : method_(method) {
  constexpr std::string_view kVersion = " HTTP/1.1\r\n";
  // The fields, then Host and Content-Length with room for their values, and the blank line.
  head_.reserve(method.size() + 1 + target.size() + kVersion.size() + field_bytes + 96);
  head_.append(method);
  head_.push_back(' ');
  head_.append(target);
  head_.append(kVersion);
}

void WireRequestWriter::add(std::string_view name, std::string_view value) {
  if (is_connection_field(name)) {
    throw std::invalid_argument("the request's \"" + std::string(name) +
                                "\" field is set by the client, which frames the message itself");
  }
  if (beast::iequals(name, "host")) has_host_ = true;
  if (beast::iequals(name, kIdempotencyKey) || beast::iequals(name, kXIdempotencyKey)) has_idempotency_key_ = true;
  append_line(name, value);
}

WireRequest WireRequestWriter::finish(std::string body, std::string_view default_host) && {
  if (method_ == "TRACE" && !body.empty()) throw std::invalid_argument("a TRACE request cannot carry a body");
  if (!has_host_) append_line("Host", default_host);
  if (frames_with_content_length(method_, body.size())) append_line("Content-Length", std::to_string(body.size()));
  head_.append("\r\n");
  return WireRequest{.head = std::move(head_),
                     .body = std::move(body),
                     .answer_has_no_body = method_ == "HEAD",
                     .replayable = idempotent_method(method_) || has_idempotency_key_,
                     .keeps_alive = true};
}

void WireRequestWriter::append_line(std::string_view name, std::string_view value) {
  // One resize and direct copies, not four appends that each check the room left out of line.
  const std::size_t at = head_.size();
  head_.resize(at + name.size() + value.size() + 4);
  char* line = head_.data() + at;
  if (!name.empty()) std::memcpy(line, name.data(), name.size());
  line += name.size();
  *line++ = ':';
  *line++ = ' ';
  if (!value.empty()) std::memcpy(line, value.data(), value.size());
  line += value.size();
  *line++ = '\r';
  *line = '\n';
}

}  // namespace snapbus::net
