// A request in the form it goes on the wire, for HttpClient::open: the request line and header as
// bytes, and the body. Written field by field when the caller has the fields at hand (the adapter
// forwarding an event), or taken from a Beast message:
//
//   snapbus::net::WireRequestWriter writer("POST", "/orders?id=7");
//   writer.add("content-type", "application/json");
//   writer.add("x-amzn-request-context", context);
//   auto request = std::move(writer).finish(std::move(body), "127.0.0.1:8080");  // Host unless one was added
//   auto answer = co_await app.open(std::move(request));
//
// Why the writer: the adapter sends a dozen fields or more per invocation. As a Beast message they are
// a list and a tree of allocated nodes, then copied once more into the bytes; here each is appended
// once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace snapbus::net {

struct WireRequest {
  std::string head;  // "GET / HTTP/1.1\r\nHost: a\r\n...\r\n\r\n"
  std::string body;
  // A HEAD: the answer has no body, whatever its Content-Length says.
  bool answer_has_no_body = false;
  // May go again on a fresh connection when a pooled one closes without a byte of an answer: the
  // server may have acted on it, so only a method RFC 9110 calls idempotent (GET, HEAD, OPTIONS,
  // TRACE) or a request with an Idempotency-Key (see HttpClient::open).
  bool replayable = false;
  // False when the request asks the server to close the connection after its answer.
  bool keeps_alive = true;
};

// Beast's message as HttpClient sends it: Host set to `default_host` when it has none, and the body
// framed by prepare_payload(), which throws std::invalid_argument for a TRACE with a body.
WireRequest wire_request(boost::beast::http::request<boost::beast::http::string_body> request,
                         std::string_view default_host);

// Writes an HTTP/1.1 request's header as the fields come, in that order: the bytes wire_request()
// gives for a Beast message built the same way (inserted in this order, then finished alike), but
// for one name given twice with another between, which Beast's insert() moves next to the first and
// the writer leaves where it was (RFC 9110 5.3: only the order within a name counts).
class WireRequestWriter {
 public:
  // `method` and `target` go on the request line as they are: the caller has checked them (a token,
  // and a target without spaces or control bytes). `field_bytes`, about what the fields will take
  // (each name and value and 4), lets the header be allocated once.
  WireRequestWriter(std::string_view method, std::string_view target, std::size_t field_bytes = 0);

  // One header line, after those before it. The caller has checked that the name is a token and that
  // the value has no CR, LF or other control byte but tab (field_name.h). The fields that frame the
  // message or the connection (connection_fields.h: Connection, Content-Length, Transfer-Encoding
  // and the rest) are the writer's to set: one of them throws std::invalid_argument.
  void add(std::string_view name, std::string_view value);

  [[nodiscard]] bool has_host() const { return has_host_; }

  // Adds Host: `default_host` unless a field gave one, frames `body` as Beast's prepare_payload()
  // does (Content-Length when the body is not empty or the method is POST, PUT or OPTIONS), and
  // ends the header. A TRACE with a body throws std::invalid_argument.
  WireRequest finish(std::string body, std::string_view default_host) &&;

 private:
  void append_line(std::string_view name, std::string_view value);

  std::string method_;
  std::string head_;
  bool has_host_ = false;
  bool has_idempotency_key_ = false;
};

}  // namespace snapbus::net
