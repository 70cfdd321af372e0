#include "x87_log2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace snapbus::adapter {
namespace {

// Distance in units in the last place between two finite doubles of the same sign.
std::int64_t ulps_apart(double a, double b) {
  std::int64_t ia = 0;
  std::int64_t ib = 0;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  return ia > ib ? ia - ib : ib - ia;
}

TEST(X87Log2, PowersOfTwoAreExact) {
  for (int e = -1022; e <= 1023; ++e) EXPECT_EQ(x87_log2(std::ldexp(1.0, e)), static_cast<double>(e)) << e;
}

// Brotli's arguments: counts and sizes. Every integer up to a million, and a geometric sweep over
// the whole positive range, within one unit in the last place of glibc's log2.
TEST(X87Log2, WithinOneUlpOfLibm) {
  for (std::uint32_t v = 1; v <= 1'000'000; ++v) {
    const double x = v;
    const double expected = std::log2(x);
    if (expected == 0) {
      EXPECT_EQ(x87_log2(x), 0.0);
    } else {
      ASSERT_LE(ulps_apart(x87_log2(x), expected), 1) << x;
    }
  }
  for (double x = 1e-300; x < 1e300; x *= 1.001) {
    const double expected = std::log2(x);
    if (std::abs(expected) > 1e-3) {
      ASSERT_LE(ulps_apart(x87_log2(x), expected), 1) << x;
    }
  }
}

TEST(X87Log2, EdgesAsLibm) {
  EXPECT_EQ(x87_log2(0.0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(x87_log2(std::numeric_limits<double>::infinity()), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(x87_log2(-1.0)));
  EXPECT_TRUE(std::isnan(x87_log2(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_EQ(snapbus_x87_log2(8.0), 3.0);
}

}  // namespace
}  // namespace snapbus::adapter
