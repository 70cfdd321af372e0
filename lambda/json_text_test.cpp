#include "json_text.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "snapbus/file_contents.h"

namespace snapbus::lambda {
namespace {

TEST(JsonMemberText, TheValueAsWrittenWithItsSpacesAndNumbers) {
  const std::string document =
      R"( { "body" : "x", "requestContext" :  {"timeEpoch": 1e999, "n": 0.5, "big": 123456789012345678901234567890,
 "s": "}]\"{"} , "isBase64Encoded": false } )";
  EXPECT_EQ(member_text(document, "requestContext"),
            R"({"timeEpoch": 1e999, "n": 0.5, "big": 123456789012345678901234567890,
 "s": "}]\"{"})");
  EXPECT_EQ(member_text(document, "body"), R"("x")");
  EXPECT_EQ(member_text(document, "isBase64Encoded"), "false");
  EXPECT_EQ(member_text(document, "headers"), std::nullopt);
}

TEST(JsonMemberText, OnlyTheTopLevelCountsAndTheLastOfTwoWins) {
  EXPECT_EQ(member_text(R"({"a": {"requestContext": 1}, "b": [{"requestContext": 2}]})", "requestContext"),
            std::nullopt);
  EXPECT_EQ(member_text(R"({"requestContext": 1, "requestContext": [2, {"x": 3}]})", "requestContext"),
            R"([2, {"x": 3}])");
  EXPECT_EQ(member_text(R"({"c":-1.5e+3})", "c"), "-1.5e+3");
  EXPECT_EQ(member_text(R"({"c":null})", "c"), "null");
  EXPECT_EQ(member_text("{\r\n\t\"a\"\t:\r\n 7\t,\r\n\"b\" :true\r\n}", "a"), "7");
  EXPECT_EQ(member_text("{\r\n\t\"a\"\t:\r\n 7\t,\r\n\"b\" :true\r\n}", "b"), "true");
}

TEST(JsonMemberText, KeysCompareDecoded) {
  EXPECT_EQ(member_text(R"({"req\u0043ontext": {}})", "reqContext"), "{}");
  // The same key, once plain and once escaped: the last, as the parser keeps.
  EXPECT_EQ(member_text(R"({"a":1,"\u0061":2})", "a"), "2");
  EXPECT_EQ(member_text(R"({"a\"b": 1})", "a\"b"), "1");
  EXPECT_EQ(member_text(R"({"a\\": 1})", "a"), std::nullopt);
}

TEST(JsonMemberText, AQuoteEndsAStringOnlyAfterAnEvenRunOfBackslashes) {
  // Each backslash pair is one escaped backslash; one more escapes the quote after it.
  for (int pairs = 0; pairs < 4; ++pairs) {
    const std::string escaped_backslashes(static_cast<std::size_t>(2 * pairs), '\\');
    std::string value = "\"x";
    value.append(escaped_backslashes).append("\\\"}]{[").append(escaped_backslashes).append("\"");
    std::string document = R"({"a": )";
    document.append(value).append(R"(, "b": {"c": )").append(value).append(R"(}, "d": 1})");
    SCOPED_TRACE(document);
    EXPECT_EQ(member_text(document, "a"), value);
    EXPECT_EQ(member_text(document, "b"), R"({"c": )" + value + "}");
    EXPECT_EQ(member_text(document, "d"), "1");
  }
}

// Every top-level member of every real event, taken as written and put on one line, parses to what
// the parser made of that member.
TEST(JsonMemberText, EveryMemberOfEveryRealEventIsFoundAsWritten) {
  int members = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SNAPBUS_EVENT_VECTORS)) {
    if (entry.path().extension() != ".json") continue;
    const std::string document = read_file_contents(entry.path());
    const boost::json::value parsed = boost::json::parse(document);
    if (!parsed.is_object()) continue;
    for (const auto& [key, value] : parsed.get_object()) {
      SCOPED_TRACE(entry.path().filename().string() + ": " + std::string(key));
      const auto written = member_text(document, key);
      ASSERT_TRUE(written.has_value());
      EXPECT_EQ(boost::json::parse(*written), value);
      const std::string one_line = compact_text(*written);
      EXPECT_EQ(one_line.find('\n'), std::string::npos);
      EXPECT_EQ(boost::json::parse(one_line), value);
      // member_json skips the compaction when the value has no space between tokens: the same text.
      EXPECT_EQ(member_json(document, key, value), one_line);
      EXPECT_EQ(value_json_at(document, static_cast<std::size_t>(written->data() - document.data())), one_line);
      ++members;
    }
  }
  EXPECT_GT(members, 100);
}

TEST(JsonMemberText, TextThatIsNotAnObjectOrNotJsonHasNoMember) {
  EXPECT_EQ(member_text("", "a"), std::nullopt);
  EXPECT_EQ(member_text("[1]", "a"), std::nullopt);
  EXPECT_EQ(member_text("{}", "a"), std::nullopt);
  EXPECT_EQ(member_text(R"({"a")", "a"), std::nullopt);
  // Cut short: whatever comes back is a view into the text, never past its end.
  const std::string cut = R"({"a": {"b": "\)";
  const auto text = member_text(cut, "a");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(text->data(), cut.data() + 6);
  EXPECT_LE(text->size(), cut.size() - 6);
}

TEST(JsonMemberJson, TheMemberAsWrittenOnOneLineElseTheParsedValueSerialized) {
  const std::string document = "{\"a\": {\"n\": 0.5,\n \"m\": 1}}";
  const boost::json::value parsed = boost::json::parse(document);
  EXPECT_EQ(member_json(document, "a", parsed.at("a")), R"({"n":0.5,"m":1})");
  // Spaces inside strings are kept whether or not the value has spaces between its tokens; a space
  // right after the key's colon is outside the value.
  const std::string compact = R"({"a": {"t":"12/Mar/2020:19:03:58 +0000","l":[1,{"u":"x y"}]}})";
  EXPECT_EQ(member_json(compact, "a", boost::json::parse(compact).at("a")),
            R"({"t":"12/Mar/2020:19:03:58 +0000","l":[1,{"u":"x y"}]})");
  const std::string spaced = R"({"a":{"t":"x y","l":[1, {"u":"x y"}]}})";
  EXPECT_EQ(member_json(spaced, "a", boost::json::parse(spaced).at("a")), R"({"t":"x y","l":[1,{"u":"x y"}]})");
  // Not in the text (the caller parsed something else): the value given, serialized.
  EXPECT_EQ(member_json("{}", "a", parsed.at("a")), R"({"n":5E-1,"m":1})");
}

TEST(JsonValueAt, TheValueFromWhereItBeginsAsWrittenOnOneLine) {
  const std::string document =
      "{\"a\": {\"n\": 0.5,\n \"m\": [1, \"x y\"]}, \"s\": \"p q\", \"f\": 1e999, \"z\": null}";
  EXPECT_EQ(value_json_at(document, document.find('{', 1)), R"({"n":0.5,"m":[1,"x y"]})");
  EXPECT_EQ(value_json_at(document, document.find("\"p q\"")), R"("p q")");
  EXPECT_EQ(value_json_at(document, document.find("1e999")), "1e999");
  EXPECT_EQ(value_json_at(document, document.find("null")), "null");
}

TEST(JsonCompactText, DropsTheSpacesBetweenTokensAndKeepsTheOnesInStrings) {
  EXPECT_EQ(compact_text("{ \"a b\" :\n\t[ 1 , \"x\\\" \\n y\" ]\r\n}"), R"({"a b":[1,"x\" \n y"]})");
  EXPECT_EQ(compact_text(" 1e999 "), "1e999");
  EXPECT_EQ(compact_text(""), "");
  // A string cut after its backslash: nothing is read past the end.
  EXPECT_EQ(compact_text("\"a\\"), "\"a\\");
}

}  // namespace
}  // namespace snapbus::lambda
