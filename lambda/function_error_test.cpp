#include "snapbus/function_error.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

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
