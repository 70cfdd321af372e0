// A request's line and header fields as the bytes that go on the wire, for a write that sends them
// and the body together (net/eager_write.h):
//
//   const std::string head = request_head(request);   // "POST /path HTTP/1.1\r\nHost: a\r\n...\r\n\r\n"
//   co_await write_eagerly(socket, std::array{asio::buffer(head), asio::buffer(request.body())});
//
// Why not Beast's serializer: for a message of a dozen fields, its buffer sequences (a view over the
// fields, cut and suffixed as the write proceeds) cost the adapter more instructions than copying the
// header once, on each of the three requests it makes per invocation.
#pragma once

#include <string>

#include <boost/beast/http/message.hpp>

namespace snapbus::net {

// The request line and the fields, in their order, then the blank line: the bytes Beast's
// serializer writes before a body that is not chunked.
std::string request_head(const boost::beast::http::request_header<>& header);

}  // namespace snapbus::net
