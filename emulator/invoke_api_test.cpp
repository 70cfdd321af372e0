#include "invoke_api.h"

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

namespace http = boost::beast::http;

Config function_config(std::string name = "orders", std::string version = "$LATEST") {
  Config config;
  config.function_name = std::move(name);
  config.function_version = std::move(version);
  config.region = "eu-west-1";
  return config;
}

InvokeCall call_for(std::string_view target, std::string_view type = {}) {
  auto call = read_invoke_call(target, type);
  EXPECT_TRUE(call.has_value()) << target;
  return call.value_or(InvokeCall{});
}

// The status and type of the net::HttpError that `run` throws.
template <typename Run>
std::pair<http::status, std::string> refusal(Run run) {
  try {
    run();
  } catch (const net::HttpError& e) {
    return {e.status(), e.type()};
  }
  ADD_FAILURE() << "no net::HttpError";
  return {};
}

TEST(InvokeApi, OnlyTheInvokePathIsAnInvokeCall) {
  EXPECT_FALSE(read_invoke_call("/", {}));
  EXPECT_FALSE(read_invoke_call("/2015-03-31/functions//invocations", {}));
  EXPECT_FALSE(read_invoke_call("/2015-03-31/functions/a/b/invocations", {}));
  EXPECT_FALSE(read_invoke_call("/2015-03-31/functions/orders/invocations/x", {}));
  EXPECT_FALSE(read_invoke_call("/api/2015-03-31/functions/orders/invocations", {}));
  const InvokeCall call = call_for("/2015-03-31/functions/orders/invocations");
  EXPECT_EQ(call.function_name, "orders");
  EXPECT_EQ(call.qualifier, "");
  EXPECT_EQ(call.type, InvocationType::request_response);
}

TEST(InvokeApi, InvokeWithResponseStreamHasItsOwnPathAndNoEvents) {
  const InvokeCall call = call_for("/2021-11-15/functions/orders/response-streaming-invocations?Qualifier=live");
  EXPECT_EQ(call.function_name, "orders");
  EXPECT_EQ(call.qualifier, "live");
  EXPECT_TRUE(call.response_stream);
  EXPECT_FALSE(call_for("/2015-03-31/functions/orders/invocations").response_stream);
  EXPECT_FALSE(read_invoke_call("/2021-11-15/functions/orders/invocations", {}));
  EXPECT_FALSE(read_invoke_call("/2015-03-31/functions/orders/response-streaming-invocations", {}));
  const std::string_view path = "/2021-11-15/functions/orders/response-streaming-invocations";
  EXPECT_EQ(call_for(path, "DryRun").type, InvocationType::dry_run);
  EXPECT_EQ(refusal([&] { read_invoke_call(path, "Event"); }),
            std::pair(http::status::bad_request, std::string("ValidationException")));
}

TEST(InvokeApi, TheNameAndQualifierArePercentDecodedAsSdksEncodeThem) {
  // botocore escapes ':' and '$' in the path and the query.
  const InvokeCall call = call_for(
      "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aorders/"
      "invocations?x=1&Qualifier=%24LATEST");
  EXPECT_EQ(call.function_name, "arn:aws:lambda:eu-west-1:123456789012:function:orders");
  EXPECT_EQ(call.qualifier, "$LATEST");
  EXPECT_EQ(call_for("/2015-03-31/functions/a%2/invocations").function_name, "a%2");
}

TEST(InvokeApi, TheInvocationTypeIsOneOfLambdasThree) {
  const std::string_view path = "/2015-03-31/functions/orders/invocations";
  EXPECT_EQ(call_for(path, "RequestResponse").type, InvocationType::request_response);
  EXPECT_EQ(call_for(path, "Event").type, InvocationType::event);
  EXPECT_EQ(call_for(path, "DryRun").type, InvocationType::dry_run);
  EXPECT_EQ(refusal([&] { read_invoke_call(path, "event"); }),
            std::pair(http::status::bad_request, std::string("ValidationException")));
  // Only the invoke path reads the header.
  EXPECT_FALSE(read_invoke_call("/orders", "Bogus"));
}

TEST(InvokeApi, TheLogTypeAsksForTheLogOfACallerThatWaits) {
  const std::string_view path = "/2015-03-31/functions/orders/invocations";
  EXPECT_FALSE(read_invoke_call(path, {})->log_tail);
  EXPECT_FALSE(read_invoke_call(path, {}, "None")->log_tail);
  EXPECT_TRUE(read_invoke_call(path, {}, "Tail")->log_tail);
  EXPECT_TRUE(read_invoke_call("/2021-11-15/functions/orders/response-streaming-invocations", {}, "Tail")->log_tail);
  // Lambda gives no log to a caller that does not wait for the result.
  EXPECT_FALSE(read_invoke_call(path, "Event", "Tail")->log_tail);
  EXPECT_FALSE(read_invoke_call(path, "DryRun", "Tail")->log_tail);
  EXPECT_EQ(refusal([&] { read_invoke_call(path, {}, "tail"); }),
            std::pair(http::status::bad_request, std::string("ValidationException")));
}

TEST(InvokeApi, EveryFormOfTheFunctionsNameReachesIt) {
  const Config config = function_config();
  // "function:$LATEST" is the RIE's name at $LATEST: $LATEST is no name, so Lambda's pattern reads it so.
  for (const char* name : {"orders", "function", "function:$LATEST", "orders:live", "orders:$LATEST", "function:orders",
                           "function:orders:$LATEST", "123456789012:function:orders",
                           "000000000000:function:orders:live", "arn:aws:lambda:eu-west-1:123456789012:function:orders",
                           "arn:aws:lambda:eu-west-1:123456789012:function:orders:$LATEST"}) {
    EXPECT_EQ(resolve_invoked_function({.function_name = name}, config).executed_version, "$LATEST") << name;
  }
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders", .qualifier = "live"}, config).executed_version,
            "$LATEST");
}

TEST(InvokeApi, AnotherFunctionVersionOrRegionIsNotFound) {
  const Config config = function_config("orders", "7");
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders:7"}, config).executed_version, "7");
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders", .qualifier = "7"}, config).executed_version, "7");
  const auto not_found = std::pair(http::status::not_found, std::string("ResourceNotFoundException"));
  // "function:payments" is the function payments (Lambda's optional "function:" prefix), not an alias.
  for (const char* name : {"payments", "orders:8", "function:payments", "function:orders:8",
                           "arn:aws:lambda:us-east-1:123456789012:function:orders", "ORDERS"}) {
    EXPECT_EQ(refusal([&] { resolve_invoked_function({.function_name = name}, config); }), not_found) << name;
  }
  try {
    resolve_invoked_function({.function_name = "payments", .qualifier = "3"}, config);
    ADD_FAILURE() << "payments was found";
  } catch (const net::HttpError& e) {
    EXPECT_STREQ(e.what(), "Function not found: arn:aws:lambda:eu-west-1:000000000000:function:payments:3");
  }
  try {
    resolve_invoked_function({.function_name = "123456789012:function:payments"}, config);
    ADD_FAILURE() << "payments was found";
  } catch (const net::HttpError& e) {
    // The caller's account, as Lambda names it back.
    EXPECT_STREQ(e.what(), "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:payments");
  }
}

TEST(InvokeApi, AMalformedNameOrClashingQualifiersAreRefused) {
  const Config config = function_config();
  const auto invalid = std::pair(http::status::bad_request, std::string("ValidationException"));
  for (const char* name :
       {"a:b:c", "orders:", ":live", "orders:li/ve", "x:function:orders", "arn:aws:s3:::bucket", "function:orders:7:8",
        "123456789012:lambda:orders", "function:", "arn:aws:lambda:eu-west-1:123:function", "orders!"}) {
    EXPECT_EQ(refusal([&] { resolve_invoked_function({.function_name = name}, config); }), invalid) << name;
  }
  EXPECT_EQ(refusal([&] { resolve_invoked_function({.function_name = "orders", .qualifier = "a b"}, config); }),
            invalid);
  EXPECT_EQ(refusal([&] { resolve_invoked_function({.function_name = "orders:live", .qualifier = "beta"}, config); }),
            std::pair(http::status::bad_request, std::string("InvalidParameterValueException")));
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders:live", .qualifier = "live"}, config).executed_version,
            "$LATEST");
}

TEST(InvokeApi, TheQualifierIsTheOneTheCallerNamed) {
  const Config config = function_config("orders", "7");
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders"}, config).qualifier, "");
  EXPECT_EQ(resolve_invoked_function({.function_name = "function"}, config).qualifier, "");
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders", .qualifier = "live"}, config).qualifier, "live");
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders:7"}, config).qualifier, "7");
  EXPECT_EQ(resolve_invoked_function({.function_name = "arn:aws:lambda:eu-west-1:1:function:orders:$LATEST"}, config)
                .qualifier,
            "$LATEST");
  EXPECT_EQ(resolve_invoked_function({.function_name = "orders:live"}, config).executed_version, "7");
}

TEST(InvokeApi, ASigV4AuthorizationIsAnSdksCall) {
  EXPECT_TRUE(
      is_signed_by_sdk("AWS4-HMAC-SHA256 Credential=local/20261205/eu-west-1/lambda/aws4_request, "
                       "SignedHeaders=host;x-amz-date, Signature=00"));
  EXPECT_FALSE(is_signed_by_sdk(""));
  EXPECT_FALSE(is_signed_by_sdk("Bearer token"));
  EXPECT_FALSE(is_signed_by_sdk("AWS4-HMAC-SHA256"));
}

TEST(InvokeApi, TheLambdaApisPathsBeginWithTheirVersionsDate) {
  EXPECT_TRUE(is_lambda_api_path("/2015-03-31/functions/orders/configuration"));
  EXPECT_TRUE(is_lambda_api_path("/2014-11-13/functions/orders/invoke-async/"));
  EXPECT_FALSE(is_lambda_api_path("/"));
  EXPECT_FALSE(is_lambda_api_path("/2015-03-31"));
  EXPECT_FALSE(is_lambda_api_path("/orders/2015-03-31/"));
  EXPECT_FALSE(is_lambda_api_path("/2015-3-31/x"));
}

TEST(InvokeApi, ErrorBodiesAreTheServicesShape) {
  EXPECT_EQ(invoke_error_body(http::status::bad_request, "InvalidRequestContentException", "not JSON"),
            R"({"Type":"User","message":"not JSON"})");
  EXPECT_EQ(invoke_error_body(http::status::bad_gateway, "EC2UnexpectedException", "\"quoted\""),
            R"({"Type":"Service","message":"\"quoted\""})");
  // Lambda's API model names the message member "Message" for these.
  EXPECT_EQ(invoke_error_body(http::status::not_found, "ResourceNotFoundException", "Function not found: x"),
            R"({"Type":"User","Message":"Function not found: x"})");
  EXPECT_EQ(invoke_error_body(http::status::request_timeout, "SnapStartTimeoutException", "late"),
            R"({"Type":"User","Message":"late"})");
  EXPECT_EQ(invoke_error_body(http::status::too_many_requests, "TooManyRequestsException", "Rate Exceeded."),
            R"({"Type":"User","message":"Rate Exceeded.","Reason":"ConcurrentInvocationLimitExceeded"})");
  // A name decoded from %EA is not UTF-8 (found by invoke_api_fuzz): the body stays JSON.
  EXPECT_EQ(invoke_error_body(http::status::not_found, "ResourceNotFoundException", "Function not found: a\xea"),
            "{\"Type\":\"User\",\"Message\":\"Function not found: a\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace snapbus::emulator
