#include "api_call.h"

#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

TEST(ApiCall, HeaderValuesCannotForgeFields) {
  EXPECT_EQ(header_value("Runtime.AfterRestoreError"), "Runtime.AfterRestoreError");
  EXPECT_EQ(header_value("Bad\r\nX-Forged: yes"), "Bad  X-Forged: yes");
  EXPECT_EQ(header_value(std::string("a\0b\x7f"
                                     "c\td",
                                     7)),
            "a b c\td");
}

TEST(ApiCall, CallNameIsMethodAndTarget) {
  http::request_header<> header;
  header.method(http::verb::post);
  header.target("/2018-06-01/runtime/init/error");
  EXPECT_EQ(call_name(header), "POST /2018-06-01/runtime/init/error");
}

TEST(ApiCall, CheckedAnswerMapsStatusAndTransport) {
  net::Response accepted{http::status::accepted, 11};
  EXPECT_TRUE(checked_answer("POST /x", accepted, 202));
  // Any 2xx where 202 is expected, as aws-lambda-cpp takes it; not where 200 (an event) is.
  net::Response ok{http::status::ok, 11};
  EXPECT_TRUE(checked_answer("POST /x", ok, 202));
  net::Response no_content{http::status::no_content, 11};
  EXPECT_TRUE(checked_answer("POST /x", no_content, 202));
  EXPECT_FALSE(checked_answer("GET /next", no_content, 200));
  net::Response refused{http::status::forbidden, 11};
  refused.body() = R"({"errorType":"InvalidStateTransition","errorMessage":"no"})";
  auto error = checked_answer("POST /x", refused, 202);
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code, CallErrc::invalid_state);
  const net::NetError eof{boost::asio::error::eof, "read response from h:1: End of file"};
  auto lost = checked_answer("POST /x", eof, 202);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, CallErrc::transport);
  EXPECT_EQ(lost.error().message, "POST /x: read response from h:1: End of file");
}

}  // namespace
}  // namespace snapbus::lambda
