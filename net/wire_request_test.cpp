#include "snapbus/wire_request.h"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace snapbus::net {
namespace {

namespace http = boost::beast::http;

struct Field {
  std::string name;
  std::string value;
};

// The request as a Beast message: the fields inserted in order, then wire_request(), what
// HttpClient::open does with a message.
WireRequest through_beast(std::string_view method, const std::vector<Field>& fields, const std::string& body) {
  http::request<http::string_body> request;
  request.method_string(method);
  request.target("/orders?id=7");
  request.version(11);
  for (const Field& field : fields) request.insert(field.name, field.value);
  request.body() = body;
  return wire_request(std::move(request), "127.0.0.1:8080");
}

WireRequest through_writer(std::string_view method, const std::vector<Field>& fields, const std::string& body) {
  WireRequestWriter writer(method, "/orders?id=7");
  for (const Field& field : fields) writer.add(field.name, field.value);
  return std::move(writer).finish(body, "127.0.0.1:8080");
}

TEST(WireRequestWriter, WritesTheBytesBeastWouldForEveryMethodBodyAndField) {
  const std::vector<std::vector<Field>> field_sets = {
      {},
      {{"content-type", "application/json"}, {"X-Custom", "one"}, {"x-custom", "two"}, {"x-empty", ""}},
      {{"Host", "api.example.com"}, {"accept", "*/*"}},
      {{"host", "api.example.com"}, {"HOST", "second.example.com"}},
      {{"Idempotency-Key", "8e03978e"}},
      {{"x-idempotency-key", "8e03978e"}},
      {{"idempotency-keys", "not the header"}, {"trailer", "x-checksum"}},
  };
  // Beast knows a method in capitals only: "post" is a method of its own, framed as one.
  for (const std::string_view method :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PURGE", "post", "get"}) {
    for (const std::string body : {"", "{\"a\":1}"}) {
      if (method == "TRACE" && !body.empty()) continue;
      for (const auto& fields : field_sets) {
        const WireRequest expected = through_beast(method, fields, body);
        const WireRequest written = through_writer(method, fields, body);
        SCOPED_TRACE(expected.head);
        EXPECT_EQ(written.head, expected.head);
        EXPECT_EQ(written.body, body);
        EXPECT_EQ(written.answer_has_no_body, expected.answer_has_no_body);
        EXPECT_EQ(written.replayable, expected.replayable);
        EXPECT_EQ(written.keeps_alive, expected.keeps_alive);
      }
    }
  }
}

TEST(WireRequestWriter, TheHeaderItWrites) {
  WireRequestWriter writer("POST", "/orders?id=7");
  writer.add("content-type", "application/json");
  EXPECT_FALSE(writer.has_host());
  const WireRequest request = std::move(writer).finish("{\"a\":1}", "127.0.0.1:8080");
  EXPECT_EQ(request.head,
            "POST /orders?id=7 HTTP/1.1\r\ncontent-type: application/json\r\nHost: 127.0.0.1:8080\r\n"
            "Content-Length: 7\r\n\r\n");
  EXPECT_FALSE(request.answer_has_no_body);
  EXPECT_FALSE(request.replayable);
  EXPECT_TRUE(request.keeps_alive);
}

// One name twice with another between: Beast's insert() moves the second next to the first, the
// writer keeps the order it was given. Only the order within a name counts (RFC 9110 5.3).
TEST(WireRequestWriter, ANameGivenTwiceStaysWhereItWasGiven) {
  WireRequestWriter writer("GET", "/");
  writer.add("X-A", "1");
  writer.add("b", "2");
  writer.add("x-a", "3");
  EXPECT_EQ(std::move(writer).finish("", "h").head, "GET / HTTP/1.1\r\nX-A: 1\r\nb: 2\r\nx-a: 3\r\nHost: h\r\n\r\n");
  EXPECT_EQ(through_beast("GET", {{"X-A", "1"}, {"b", "2"}, {"x-a", "3"}}, "").head,
            "GET /orders?id=7 HTTP/1.1\r\nX-A: 1\r\nx-a: 3\r\nb: 2\r\nHost: 127.0.0.1:8080\r\n\r\n");
}

TEST(WireRequestWriter, AGivenHostIsKept) {
  WireRequestWriter writer("GET", "/");
  writer.add("Host", "api.example.com");
  EXPECT_TRUE(writer.has_host());
  EXPECT_EQ(std::move(writer).finish("", "127.0.0.1:8080").head, "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n");
}

TEST(WireRequestWriter, ATraceWithABodyIsRefusedAsBeastRefusesIt) {
  EXPECT_THROW(through_beast("TRACE", {}, "x"), std::invalid_argument);
  EXPECT_THROW(through_writer("TRACE", {}, "x"), std::invalid_argument);
}

TEST(WireRequestWriter, FieldsThatFrameTheMessageOrTheConnectionAreTheWritersOwn) {
  for (const char* name : {"Content-Length", "transfer-encoding", "Connection", "keep-alive", "TE", "Expect"}) {
    WireRequestWriter writer("POST", "/");
    EXPECT_THROW(writer.add(name, "x"), std::invalid_argument) << name;
  }
}

TEST(WireRequest, AMessageThatAsksToCloseDoesNotKeepTheConnection) {
  http::request<http::string_body> request{http::verb::get, "/", 11};
  request.set(http::field::connection, "close");
  const WireRequest wire = wire_request(std::move(request), "127.0.0.1:8080");
  EXPECT_FALSE(wire.keeps_alive);
  EXPECT_EQ(wire.head, "GET / HTTP/1.1\r\nConnection: close\r\nHost: 127.0.0.1:8080\r\n\r\n");
}

}  // namespace
}  // namespace snapbus::net
