#include "snapbus/function_url.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "snapbus/base64.h"

namespace snapbus::lambda {
namespace {

http::request_header<> request(http::verb verb, const std::string& target) {
  http::request_header<> head;
  head.method(verb);
  head.target(target);
  head.version(11);
  head.set(http::field::host, "fn.lambda-url.localhost:9000");
  return head;
}

TEST(FunctionUrl, EventFollowsPayloadVersion2) {
  auto head = request(http::verb::post, "/p/q?x=1&y=%2F&x=2");
  head.insert("X-Multi", "a");
  head.insert("X-Multi", "b");
  head.set(http::field::cookie, "a=1; b=2");
  head.set(http::field::content_type, "application/json");
  auto event = boost::json::parse(function_url_event(head, R"({"v":1})",
                                                     {.request_id = "4f1c7b0e-5d8a-4e59-b6a1-0c2d3e4f5a6b",
                                                      .source_ip = "127.0.0.1",
                                                      .now = std::chrono::system_clock::time_point{}}))
                   .as_object();
  EXPECT_EQ(event.at("version"), "2.0");
  EXPECT_EQ(event.at("routeKey"), "$default");
  EXPECT_EQ(event.at("rawPath"), "/p/q");
  EXPECT_EQ(event.at("rawQueryString"), "x=1&y=%2F&x=2");
  EXPECT_EQ(event.at("queryStringParameters").at("x"), "1,2");
  EXPECT_EQ(event.at("queryStringParameters").at("y"), "/");
  EXPECT_EQ(event.at("headers").at("x-multi"), "a,b");
  // As Lambda's recorded events: the cookies list, and the cookie header kept too.
  EXPECT_EQ(event.at("headers").at("cookie"), "a=1; b=2");
  EXPECT_EQ(event.at("cookies").as_array().size(), 2U);
  // What the endpoint adds as a proxy.
  EXPECT_EQ(event.at("headers").at("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(event.at("headers").at("x-forwarded-proto"), "https");
  EXPECT_EQ(event.at("headers").at("x-forwarded-port"), "9000");
  EXPECT_EQ(event.at("body"), R"({"v":1})");
  EXPECT_EQ(event.at("isBase64Encoded"), false);
  const auto& ctx = event.at("requestContext").as_object();
  EXPECT_EQ(ctx.at("domainName"), "fn.lambda-url.localhost");
  EXPECT_EQ(ctx.at("domainPrefix"), "fn");
  EXPECT_EQ(ctx.at("http").at("method"), "POST");
  EXPECT_EQ(ctx.at("http").at("protocol"), "HTTP/1.1");
  EXPECT_EQ(ctx.at("requestId"), "4f1c7b0e-5d8a-4e59-b6a1-0c2d3e4f5a6b");
  EXPECT_EQ(ctx.at("time"), "01/Jan/1970:00:00:00 +0000");
}

TEST(FunctionUrl, BinaryBodiesAreBase64) {
  auto head = request(http::verb::put, "/");
  head.set(http::field::content_type, "application/octet-stream");
  const std::string body("\x00\xff\x10", 3);
  head.version(10);
  head.set("X-Forwarded-For", "198.51.100.1");
  head.set("X-Forwarded-Proto", "gopher");  // the endpoint's own value replaces a caller's
  head.set(http::field::host, "localhost:8080");
  auto event =
      boost::json::parse(function_url_event(head, body, {.source_ip = "127.0.0.1", .scheme = "http"})).as_object();
  EXPECT_EQ(event.at("isBase64Encoded"), true);
  EXPECT_EQ(decode_base64(event.at("body").as_string()), body);
  EXPECT_FALSE(event.contains("queryStringParameters"));
  EXPECT_EQ(event.at("requestContext").at("http").at("protocol"), "HTTP/1.0");
  EXPECT_EQ(event.at("headers").at("x-forwarded-for"), "198.51.100.1, 127.0.0.1");
  EXPECT_EQ(event.at("headers").at("x-forwarded-proto"), "http");
  EXPECT_EQ(event.at("headers").at("x-forwarded-port"), "8080");
  // Without a port in the Host header, the scheme's; an IPv6 literal's colons are no port.
  head.set(http::field::host, "[::1]");
  EXPECT_EQ(boost::json::parse(function_url_event(head, body, {.source_ip = "::1", .scheme = "http"}))
                .at("headers")
                .at("x-forwarded-port"),
            "80");
}

// Found by function_url_fuzz: a Host header with bytes that are not UTF-8 made an event no JSON
// parser accepts (the runtime could not read its invocation).
TEST(FunctionUrl, BytesThatAreNotUtf8StillMakeValidJson) {
  auto head = request(http::verb::post, "/caf\xE9?q=%FF&\xC3\xA9=1");
  head.set(http::field::host,
           "loc\xFA\xFA"
           "alhost");
  head.set(http::field::user_agent, "agent \xED\xA0\x80");  // an encoded surrogate
  head.set(http::field::content_type, "text/plain");
  const std::string latin1_body = "na\xEFve";
  boost::system::error_code ec;
  auto value = boost::json::parse(
      function_url_event(head, latin1_body, {.source_ip = "127.0.0.1", .now = std::chrono::system_clock::time_point{}}),
      ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto& event = value.as_object();
  EXPECT_EQ(event.at("rawPath"), "/caf\xEF\xBF\xBD");
  EXPECT_EQ(event.at("queryStringParameters").at("q"), "\xEF\xBF\xBD");
  EXPECT_EQ(event.at("queryStringParameters").at("\xC3\xA9"), "1");  // well-formed UTF-8 stays
  EXPECT_EQ(event.at("headers").at("host"),
            "loc\xEF\xBF\xBD\xEF\xBF\xBD"
            "alhost");
  EXPECT_EQ(event.at("headers").at("user-agent"), "agent \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  // A text body that is not UTF-8 keeps its bytes, base64-encoded.
  EXPECT_EQ(event.at("isBase64Encoded"), true);
  EXPECT_EQ(decode_base64(event.at("body").as_string()), latin1_body);
}

TEST(FunctionUrl, StructuredReply) {
  auto reply = function_url_reply(
      R"({"statusCode":404,"headers":{"x-a":"1","x-n":2},"cookies":["c=1","d=2"],"body":"aGk=","isBase64Encoded":true})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, http::status::not_found);
  EXPECT_EQ(reply->headers["x-a"], "1");
  EXPECT_EQ(reply->headers["x-n"], "2");
  EXPECT_EQ(std::distance(reply->headers.equal_range(http::field::set_cookie).first,
                          reply->headers.equal_range(http::field::set_cookie).second),
            2);
  EXPECT_EQ(reply->body, "hi");
}

// A body the function gave as JSON rather than a string reaches the client as it was written.
TEST(FunctionUrl, AStructuredBodyThatIsNotAStringIsSentAsWritten) {
  auto reply = function_url_reply(R"({"statusCode":200,"body": {"price": 0.1, "far": 1e999, "n": [1, 2]}})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, R"({"price":0.1,"far":1e999,"n":[1,2]})");
}

TEST(FunctionUrl, AnythingElseIsA200JsonBody) {
  for (const char* payload : {R"({"message":"hi"})", R"("text")", "[1,2]", "not json at all"}) {
    auto reply = function_url_reply(payload);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, http::status::ok);
    EXPECT_EQ(reply->headers[http::field::content_type], "application/json");
    EXPECT_EQ(reply->body, std::string(payload));
  }
}

TEST(FunctionUrl, MalformedRepliesAreRejected) {
  EXPECT_FALSE(function_url_reply(R"({"statusCode":"two hundred"})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":99})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"body":"***","isBase64Encoded":true})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"headers":"x-a: 1"})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"cookies":"c=1"})"));
  // Interim statuses end no request; 204 and 304 have no body.
  EXPECT_FALSE(function_url_reply(R"({"statusCode":101})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":204,"body":"x"})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":304,"body":"x"})"));
  EXPECT_TRUE(function_url_reply(R"({"statusCode":204})"));
  // What would split the response, or is no field at all.
  EXPECT_FALSE(function_url_reply(
      R"({"statusCode":200,"headers":{"X":"a\r\nContent-Length: 0\r\n\r\nHTTP/1.1 302 Found"},"body":"hi"})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"headers":{"X":"a\nb"}})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"headers":{"X":"a\u0000b"}})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"headers":{"X":"a\u007fb"}})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"cookies":["a=1\r\nX-Evil: 1"]})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"headers":{"":"v"}})"));
  EXPECT_FALSE(function_url_reply(R"({"statusCode":200,"headers":{"bad name":"v"}})"));
  EXPECT_TRUE(function_url_reply(R"({"statusCode":200,"headers":{"x-ok_1.~":"a\tb"}})"));
}

}  // namespace
}  // namespace snapbus::lambda
