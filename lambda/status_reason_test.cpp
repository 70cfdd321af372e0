#include "snapbus/status_reason.h"

#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

TEST(StatusReason, NamesTheRegisteredCodesAsLambdaWebAdapterDoes) {
  EXPECT_EQ(reason_phrase(100), "Continue");
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(203), "Non Authoritative Information");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(418), "I'm a teapot");
  EXPECT_EQ(reason_phrase(425), "Too Early");
  EXPECT_EQ(reason_phrase(511), "Network Authentication Required");
}

TEST(StatusReason, LeavesOtherCodesUnnamed) {
  for (const unsigned code : {0U, 99U, 199U, 306U, 444U, 499U, 599U, 600U, 1000U}) {
    EXPECT_EQ(reason_phrase(code), "") << code;
  }
}

}  // namespace
}  // namespace snapbus::lambda
