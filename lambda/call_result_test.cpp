#include "snapbus/call_result.h"

#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

TEST(CallResult, StatusesMapToCodes) {
  EXPECT_EQ(call_error_from_answer("GET /x", 400, "").code, CallErrc::invalid_request);
  EXPECT_EQ(call_error_from_answer("GET /x", 403, "").code, CallErrc::invalid_state);
  EXPECT_EQ(call_error_from_answer("GET /x", 404, "").code, CallErrc::not_found);
  EXPECT_EQ(call_error_from_answer("GET /x", 413, "").code, CallErrc::payload_too_large);
  EXPECT_EQ(call_error_from_answer("GET /x", 500, "").code, CallErrc::server_error);
  EXPECT_EQ(call_error_from_answer("GET /x", 503, "").code, CallErrc::server_error);
  EXPECT_EQ(call_error_from_answer("GET /x", 200, "").code, CallErrc::unexpected_answer);
  EXPECT_EQ(call_error_from_answer("GET /x", 409, "").code, CallErrc::unexpected_answer);
}

TEST(CallResult, TheApiErrorBodyNamesTypeAndMessage) {
  auto error = call_error_from_answer("GET /2018-06-01/runtime/restore/next", 403,
                                      R"({"errorType":"InvalidStateTransition","errorMessage":"not now"})");
  EXPECT_EQ(error.http_status, 403U);
  EXPECT_EQ(error.error_type, "InvalidStateTransition");
  EXPECT_EQ(error.message, "GET /2018-06-01/runtime/restore/next: 403 InvalidStateTransition: not now");
}

TEST(CallResult, ABodyThatIsNotJsonIsQuotedShort) {
  auto error = call_error_from_answer("POST /x", 502, "Bad Gateway" + std::string(500, '!'));
  EXPECT_TRUE(error.error_type.empty());
  EXPECT_EQ(error.message, "POST /x: 502: Bad Gateway" + std::string(189, '!'));
  EXPECT_EQ(call_error_from_answer("POST /x", 500, "").message, "POST /x: 500");
}

TEST(CallResult, TransportFailuresKeepTheirErrorCode) {
  net::NetError refused{boost::asio::error::connection_refused, "connect to 127.0.0.1:9: Connection refused"};
  auto error = call_error_from_transport("GET /next", refused);
  EXPECT_EQ(error.code, CallErrc::transport);
  EXPECT_EQ(error.http_status, 0U);
  EXPECT_EQ(error.transport_error, boost::asio::error::connection_refused);
  EXPECT_EQ(error.message, "GET /next: connect to 127.0.0.1:9: Connection refused");
  CallResult<int> failed = error;
  EXPECT_THROW((void)failed.value(), std::runtime_error);
}

TEST(CallResult, EveryCodeHasAName) {
  for (auto code :
       {CallErrc::transport, CallErrc::invalid_request, CallErrc::invalid_state, CallErrc::not_found,
        CallErrc::payload_too_large, CallErrc::server_error, CallErrc::unexpected_answer, CallErrc::invalid_argument}) {
    EXPECT_NE(call_errc_name(code), "unknown");
  }
  EXPECT_EQ(call_errc_name(CallErrc::invalid_state), "invalid_state");
}

}  // namespace
}  // namespace snapbus::lambda
