#include "snapbus/streaming_response.h"

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
