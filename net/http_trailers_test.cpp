#include "snapbus/http_trailers.h"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace snapbus::net {
namespace {

TEST(HttpTrailers, FindIgnoresLetterCaseAndTakesTheFirst) {
  const Trailers trailers{{"X-One", "1"}, {"x-two", "2"}, {"X-ONE", "again"}};
  ASSERT_NE(find_trailer(trailers, "x-one"), nullptr);
  EXPECT_EQ(*find_trailer(trailers, "x-one"), "1");
  EXPECT_EQ(*find_trailer(trailers, "X-Two"), "2");
  EXPECT_EQ(find_trailer(trailers, "x-three"), nullptr);
  EXPECT_EQ(find_trailer(Trailers{}, "x-one"), nullptr);
}

TEST(HttpTrailers, ThePartIsEachFieldThenTheEmptyLine) {
  EXPECT_EQ(trailer_part({}), "\r\n");
  EXPECT_EQ(trailer_part({{"A", "1"}, {"b-c", ""}}), "A: 1\r\nb-c: \r\n\r\n");
}

TEST(HttpTrailers, AValueHasNoSizeLimit) {
  const std::string value(std::size_t{1} << 20, 'Q');
  const std::string part = trailer_part({{"Big", value}});
  EXPECT_EQ(part.size(), value.size() + 9);
  EXPECT_EQ(part.substr(0, 6), "Big: Q");
}

TEST(HttpTrailers, WhatWouldBreakTheFramingIsRefused) {
  EXPECT_THROW(trailer_part({{"Bad Name", "v"}}), std::invalid_argument);
  EXPECT_THROW(trailer_part({{"", "v"}}), std::invalid_argument);
  EXPECT_THROW(trailer_part({{"X", "a\r\nInjected: yes"}}), std::invalid_argument);
  EXPECT_THROW(trailer_part({{"X", "a\nb"}}), std::invalid_argument);
  EXPECT_THROW(trailer_part({{"X", std::string("a\0b", 3)}}), std::invalid_argument);
}

// What a receiver would refuse is refused here, before the stream begins to depend on it.
TEST(HttpTrailers, AValueIsTabSpaceVisibleCharactersAndObsText) {
  EXPECT_THROW(trailer_part({{"X", "a\x01b"}}), std::invalid_argument);
  EXPECT_THROW(trailer_part({{"X", "a\x1f"}}), std::invalid_argument);
  EXPECT_THROW(trailer_part({{"X", "a\x7f"}}), std::invalid_argument);
  EXPECT_EQ(trailer_part({{"X", "a\tb c~"}}), "X: a\tb c~\r\n\r\n");
  EXPECT_EQ(trailer_part({{"X", "caf\xc3\xa9"}}), "X: caf\xc3\xa9\r\n\r\n");
}

}  // namespace
}  // namespace snapbus::net
