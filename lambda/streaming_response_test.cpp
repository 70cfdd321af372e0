#include "snapbus/streaming_response.h"

#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "snapbus/error_body.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::lambda {
namespace {

TEST(StreamingResponse, PreludeCarriesStatusHeadersAndCookies) {
  auto prelude = parse_prelude(R"({"statusCode":201,"headers":{"a":"b"},"cookies":["c=1"]})");
  ASSERT_TRUE(prelude);
  EXPECT_EQ(prelude->status, http::status::created);
  EXPECT_EQ(prelude->headers["a"], "b");
  EXPECT_EQ(prelude->headers[http::field::set_cookie], "c=1");
  EXPECT_TRUE(prelude->body.empty());
}

TEST(StreamingResponse, AnAppsAnswerBecomesThePreludeLwasRuntimeWrites) {
  http::response_header<> bare;
  bare.result(200);
  EXPECT_EQ(prelude_json(bare),
            R"({"statusCode":200,"headers":{"content-type":"application/octet-stream"},"cookies":[]})");

  // Lines of one name (as written) joined in order; names that differ in case kept apart; cookies
  // as a list; Transfer-Encoding left out; ISO-8859-1 read as such; escapes as json::serialize's.
  http::response_header<> answer;
  answer.result(404);
  answer.insert("Content-Type", "text/event-stream");
  answer.insert("X-Multi", "a");
  answer.insert("Set-Cookie", "a=1; Path=/");
  answer.insert("x-multi", "lower");
  answer.insert("X-Multi", "b");
  answer.insert("Transfer-Encoding", "chunked");
  answer.insert("set-cookie", "b=2");
  answer.insert("X-Latin", "caf\xe9");
  answer.insert("X-Quote", "say \"hi\"\\ \x01");
  const std::string prelude = prelude_json(answer);
  EXPECT_EQ(prelude,
            R"({"statusCode":404,"headers":{"Content-Type":"text/event-stream","X-Multi":"a, b","x-multi":"lower",)"
            "\"X-Latin\":\"caf\xc3\xa9\","
            R"("X-Quote":"say \"hi\"\\ \u0001"},"cookies":["a=1; Path=/","b=2"]})");
  // What the Runtime API reads back (it refuses a control character in a value, as HTTP does).
  answer.erase("X-Quote");
  const auto parsed = parse_prelude(prelude_json(answer));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->status, http::status::not_found);
  EXPECT_EQ(parsed->headers["x-latin"], "caf\xc3\xa9");
  const auto cookies = parsed->headers.equal_range(http::field::set_cookie);
  EXPECT_EQ(std::distance(cookies.first, cookies.second), 2);

  // A type named in any case is the app's; an empty value stays.
  http::response_header<> typed;
  typed.result(299);
  typed.insert("content-TYPE", "text/plain");
  typed.insert("X-Empty", "");
  EXPECT_EQ(prelude_json(typed),
            R"({"statusCode":299,"headers":{"content-TYPE":"text/plain","X-Empty":""},"cookies":[]})");
}

TEST(StreamingResponse, MalformedPreludesAreRejected) {
  EXPECT_FALSE(parse_prelude("{"));
  EXPECT_FALSE(parse_prelude("[]"));
  EXPECT_FALSE(parse_prelude(R"({"statusCode":600})"));
  EXPECT_FALSE(parse_prelude(R"({"headers":[]})"));
}

TEST(StreamingResponse, SeparatorIsEightNulBytes) {
  EXPECT_EQ(kPreludeSeparator.size(), 8U);
  EXPECT_EQ(kPreludeSeparator.find_first_not_of('\0'), std::string_view::npos);
  const std::string data = std::string(R"({"statusCode":200})") + std::string(kPreludeSeparator) + "body";
  EXPECT_EQ(data.find(kPreludeSeparator), 18U);
}

TEST(StreamingResponse, ErrorTrailersRoundTrip) {
  const std::string body = json_error("Runtime.Unhandled", "boom");
  const net::Trailers trailers = streamed_error_trailers("Runtime.Unhandled", body);
  ASSERT_EQ(trailers.size(), 2U);
  EXPECT_EQ(trailers[0].name, kHeaderFunctionErrorType);
  EXPECT_EQ(trailers[0].value, "Runtime.Unhandled");
  EXPECT_EQ(trailers[1].name, kHeaderFunctionErrorBody);
  EXPECT_NE(trailers[1].value, body);  // base64, not the JSON itself
  auto error = streamed_error(trailers);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->type, "Runtime.Unhandled");
  EXPECT_EQ(error->body, body);
}

// Beast's fields hold at most 65,533 bytes per value; a runtime's whole error can be longer.
TEST(StreamingResponse, ALongErrorStaysWhole) {
  const std::string body = json_error("Runtime.Unhandled", std::string(std::size_t{200} * 1024, 'e'));
  const auto error = streamed_error(streamed_error_trailers("Runtime.Unhandled", body));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->body, body);
}

TEST(StreamingResponse, ErrorBodyThatIsNotBase64IsTakenAsSentAndMayBeAbsent) {
  const net::Trailers raw{{"lambda-runtime-function-error-type", "T"},
                          {std::string(kHeaderFunctionErrorBody), R"({"errorMessage":"m"})"}};
  EXPECT_EQ(streamed_error(raw)->type, "T");
  EXPECT_EQ(streamed_error(raw)->body, R"({"errorMessage":"m"})");
  const net::Trailers type_only{{std::string(kHeaderFunctionErrorType), "T"}};
  EXPECT_EQ(streamed_error(type_only)->body, "");
  EXPECT_FALSE(streamed_error(net::Trailers{}));
  EXPECT_FALSE(streamed_error(net::Trailers{{"X-Other", "1"}}));
}

}  // namespace
}  // namespace snapbus::lambda
