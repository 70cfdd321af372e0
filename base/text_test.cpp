#include "snapbus/text.h"

#include <cstdint>
#include <string_view>

#include <gtest/gtest.h>

namespace snapbus {
namespace {

TEST(Trim, RemovesBlanksAtBothEndsOnly) {
  EXPECT_EQ(trim("  KEY = value \r\n"), "KEY = value");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
  EXPECT_EQ(trim("  a; b ", " "), "a; b");
  EXPECT_EQ(trim("\tkeep\t", " "), "\tkeep\t");
}

TEST(ParseNumber, AcceptsWholeNumbersInRange) {
  EXPECT_EQ(parse_number<unsigned>("128", 1, 10240), 128U);
  EXPECT_EQ(parse_number<int>("-5", -10, 10), -5);
  EXPECT_EQ(parse_number<std::uint16_t>("65535", 0, 65535), 65535);
}

TEST(ParseNumber, RefusesEverythingElse) {
  EXPECT_EQ(parse_number<int>("", 0, 10), std::nullopt);
  EXPECT_EQ(parse_number<int>("12x", 0, 99), std::nullopt);
  EXPECT_EQ(parse_number<int>(" 1", 0, 99), std::nullopt);
  EXPECT_EQ(parse_number<unsigned>("-1", 0, 99), std::nullopt);
  EXPECT_EQ(parse_number<int>("100", 0, 99), std::nullopt);
  EXPECT_EQ(parse_number<std::uint16_t>("65536", 0, 65535), std::nullopt);
  EXPECT_EQ(parse_number<std::int64_t>("99999999999999999999", 0, INT64_MAX), std::nullopt);
}

TEST(UriUnreserved, IsExactlyRfc3986sSet) {
  constexpr std::string_view kUnreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  for (int byte = 0; byte < 256; ++byte) {
    const auto c = static_cast<char>(byte);
    EXPECT_EQ(is_uri_unreserved(c), kUnreserved.find(c) != std::string_view::npos) << byte;
  }
}

TEST(PercentDecoded, DecodesEscapesAndKeepsWhatIsNoEscape) {
  EXPECT_EQ(percent_decoded("arn%3Aaws%3alambda", false), "arn:aws:lambda");
  EXPECT_EQ(percent_decoded("a+b%20c", false), "a+b c");
  EXPECT_EQ(percent_decoded("a+b%20c", true), "a b c");
  EXPECT_EQ(percent_decoded("100%", false), "100%");
  EXPECT_EQ(percent_decoded("%4", false), "%4");
  EXPECT_EQ(percent_decoded("%zz%41", false), "%zzA");
  EXPECT_EQ(percent_decoded("%00%EA", false), std::string("\0\xea", 2));
}

}  // namespace
}  // namespace snapbus
