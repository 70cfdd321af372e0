#include "snapbus/request_id.h"

#include <set>

#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

TEST(RequestId, IsAVersion4UuidInTextForm) {
  const std::string id = new_request_id();
  ASSERT_EQ(id.size(), 36U) << id;
  for (std::size_t dash : {8U, 13U, 18U, 23U}) EXPECT_EQ(id[dash], '-') << id;
  EXPECT_EQ(id[14], '4') << id;                                          // version
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef-"), std::string::npos) << id;
}

TEST(RequestId, DoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(new_request_id()).second);
}

}  // namespace
}  // namespace snapbus::lambda
