#include "snapbus/error_body.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace snapbus::lambda {
namespace {

TEST(ErrorBody, JsonErrorHasBothFieldsAndEscapes) {
  const std::string body = json_error("Runtime.ExitError", "said \"no\"\n");
  const auto value = boost::json::parse(body).as_object();
  EXPECT_EQ(value.at("errorType"), "Runtime.ExitError");
  EXPECT_EQ(value.at("errorMessage"), "said \"no\"\n");
  EXPECT_EQ(value.size(), 2U);
}

TEST(ErrorBody, FieldsAreReadOnlyFromJsonObjectsWithStringFields) {
  EXPECT_EQ(json_error_field(R"({"errorType":"A","errorMessage":"m"})", "errorType"), "A");
  EXPECT_FALSE(json_error_field(R"({"errorType":7})", "errorType"));
  EXPECT_FALSE(json_error_field(R"(["errorType"])", "errorType"));
  EXPECT_FALSE(json_error_field("not json", "errorType"));
  EXPECT_FALSE(json_error_field("{}", "errorMessage"));
}

TEST(ErrorBody, MessageFallsBackToTheWholeBody) {
  EXPECT_EQ(error_message_of(json_error("T", "broken")), "broken");
  EXPECT_EQ(error_message_of("plain text"), "plain text");
  EXPECT_EQ(error_message_of(""), "");
}

TEST(ErrorBody, TheCallerGetsAnErrorWithoutItsXRayCause) {
  EXPECT_EQ(error_without_cause(
                R"({"errorMessage":"m","errorType":"T","stackTrace":["a.py:1"],"errorCause":{"paths":["/var/task"]}})"),
            R"({"errorMessage":"m","errorType":"T","stackTrace":["a.py:1"]})");
  // An empty or missing trace is left out, missing or null texts read as empty.
  EXPECT_EQ(error_without_cause(R"({"errorMessage":"m","errorType":"T","stackTrace":[],"errorCause":{}})"),
            R"({"errorMessage":"m","errorType":"T"})");
  EXPECT_EQ(error_without_cause(R"({"errorType":null,"errorCause":{"exceptions":[]}})"),
            R"({"errorMessage":"","errorType":""})");
  EXPECT_FALSE(error_without_cause("not json"));
  EXPECT_FALSE(error_without_cause(R"(["m"])"));
  EXPECT_FALSE(error_without_cause(R"({"errorMessage":7})"));
  EXPECT_FALSE(error_without_cause(R"({"stackTrace":"a.py:1"})"));
  EXPECT_FALSE(error_without_cause(R"({"stackTrace":[1]})"));
}

TEST(FunctionError, JsonBodyHasTheThreeDocumentedFields) {
  const auto body = boost::json::parse(function_error_json(
      {.type = "Runtime.AfterRestoreError", .message = "hook \"db\"\nfailed", .stack_trace = {"a.py:1", "b.py:2"}}));
  EXPECT_EQ(body.at("errorType"), "Runtime.AfterRestoreError");
  EXPECT_EQ(body.at("errorMessage"), "hook \"db\"\nfailed");
  EXPECT_EQ(body.at("stackTrace"), (boost::json::array{"a.py:1", "b.py:2"}));
}

TEST(FunctionError, EmptyStackTraceIsAnEmptyList) {
  EXPECT_EQ(function_error_json({.type = "T", .message = "m"}),
            R"({"errorMessage":"m","errorType":"T","stackTrace":[]})");
}

}  // namespace
}  // namespace snapbus::lambda
