#include "request_head.h"

#include <string>

#include <gtest/gtest.h>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

namespace snapbus::net {
namespace {

namespace http = boost::beast::http;

// The header as Beast's serializer writes it.
std::string beast_head(http::request<http::string_body>& request) {
  http::request_serializer<http::string_body> serializer(request);
  serializer.split(true);
  std::string head;
  boost::beast::error_code error;
  serializer.next(
      error, [&](boost::beast::error_code&, const auto& buffers) { head = boost::beast::buffers_to_string(buffers); });
  EXPECT_FALSE(error);
  return head;
}

TEST(RequestHead, TheBytesBeastsSerializerWrites) {
  http::request<http::string_body> request{http::verb::post, "/2018-06-01/runtime/invocation/abc/response", 11};
  request.set(http::field::host, "127.0.0.1:9001");
  request.insert("x-amzn-lambda-context", R"({"request_id":"abc"})");
  request.insert("X-Custom", "one");
  request.insert("x-custom", "two");  // a name twice, in two spellings, keeps both lines in order
  request.insert("x-empty", "");
  request.body() = "{\"statusCode\":200}";
  request.prepare_payload();
  EXPECT_EQ(request_head(request), beast_head(request));
  EXPECT_EQ(request_head(request),
            "POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
            "x-amzn-lambda-context: {\"request_id\":\"abc\"}\r\nX-Custom: one\r\nx-custom: two\r\nx-empty: \r\n"
            "Content-Length: 18\r\n\r\n");
}

TEST(RequestHead, AnUnknownMethodHttp10AndNoFields) {
  http::request<http::string_body> request;
  request.method_string("PURGE");
  request.target("/*");
  request.version(10);
  EXPECT_EQ(request_head(request), beast_head(request));
  EXPECT_EQ(request_head(request), "PURGE /* HTTP/1.0\r\n\r\n");
}

}  // namespace
}  // namespace snapbus::net
