#include "snapbus/utf8_text.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace snapbus {
namespace {

TEST(Utf8Text, AcceptsWellFormedTextOfEveryLength) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ASCII"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9"));                   // é, two bytes
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac"));                  // €, three bytes
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));              // U+1F600, four bytes
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));              // U+10FFFF, the last code point
  EXPECT_TRUE(is_valid_utf8(std::string("nul\0inside", 10)));  // NUL is a character too
}

TEST(Utf8Text, RejectsWhatRfc3629RulesOut) {
  EXPECT_FALSE(is_valid_utf8("caf\xe9"));           // ISO-8859-1 é
  EXPECT_FALSE(is_valid_utf8("\x80"));              // a continuation byte first
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // cut short at the end
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // cut short at the end
  EXPECT_FALSE(is_valid_utf8("\xc3("));             // a lead without its continuation
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));  // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // U+D800, a surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000, past the last code point
  EXPECT_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));  // a lead byte that never occurs
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

// ASCII is skipped eight bytes at a time: each sequence, good or bad, at every place in and across
// those words, and as the text's end.
TEST(Utf8Text, TheVerdictIsTheSameAnywhereInLongerAsciiText) {
  const std::pair<std::string, bool> cases[] = {{"\xc3\xa9", true},
                                                {"\xe2\x82\xac", true},
                                                {"\xf0\x9f\x98\x80", true},
                                                {"\x7f", true},
                                                {"\xe9", false},
                                                {"\x80", false},
                                                {"\xc3", false},
                                                {"\xe2\x82", false},
                                                {"\xc0\xaf", false},
                                                {"\xed\xa0\x80", false},
                                                {"\xf4\x90\x80\x80", false},
                                                {"\xff", false}};
  for (const auto& [sequence, valid] : cases) {
    for (std::size_t at = 0; at <= 24; ++at) {
      const std::string text = std::string(at, 'a') + sequence;
      EXPECT_EQ(is_valid_utf8(text), valid) << "at " << at << ", at the end";
      EXPECT_EQ(is_valid_utf8(text + std::string(20, 'b')), valid) << "at " << at;
    }
  }
}

TEST(Utf8Text, LeavesUtf8AloneAndReadsAnythingElseAsIso88591) {
  EXPECT_EQ(utf8_text("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(utf8_text("caf\xe9"), "caf\xc3\xa9");
  EXPECT_EQ(utf8_text("\x80\xff"), "\xc2\x80\xc3\xbf");
  EXPECT_EQ(utf8_text(""), "");
}

TEST(Utf8Text, ReplacingPutsUFffdForEachByteOutsideASequence) {
  EXPECT_EQ(utf8_replacing_invalid("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(utf8_replacing_invalid("caf\xe9"), "caf\xef\xbf\xbd");
  EXPECT_EQ(utf8_replacing_invalid("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");  // cut short: two bytes, two marks
  // Octal here: a \x escape would run on into the "b".
  EXPECT_EQ(utf8_replacing_invalid("a\377b"), "a\357\277\275b");
}

TEST(Utf8Text, Windows1252HasQuotesAndTheEuroWhereIso88591HasControls) {
  EXPECT_EQ(windows_1252_text("\x93"
                              "caf\xe9\x94 \x80"
                              "5"),
            "\u201c"
            "caf\u00e9\u201d \u20ac"
            "5");
  EXPECT_EQ(windows_1252_text("\x81\xff"), "\u0081\u00ff");  // undefined in 1252: the C1 control
  EXPECT_EQ(windows_1252_text("plain"), "plain");
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_TRUE(is_valid_utf8(windows_1252_text(std::string(1, static_cast<char>(byte))))) << byte;
  }
}

TEST(Utf8Text, WhatItGivesAlwaysMakesValidJson) {
  std::string every_byte;
  for (int code = 0; code < 256; ++code) every_byte += static_cast<char>(code);
  for (const std::string& text : {utf8_text(every_byte), utf8_replacing_invalid(every_byte)}) {
    ASSERT_TRUE(is_valid_utf8(text));
    const std::string serialized = boost::json::serialize(boost::json::string(text));
    boost::system::error_code error;
    const boost::json::value parsed = boost::json::parse(serialized, error);
    ASSERT_FALSE(error) << error.message();
    EXPECT_EQ(parsed.as_string(), text);
  }
}

}  // namespace
}  // namespace snapbus
