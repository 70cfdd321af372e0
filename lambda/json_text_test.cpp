#include "json_text.h"

#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

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
  // Not in the text (the caller parsed something else): the value given, serialized.
  EXPECT_EQ(member_json("{}", "a", parsed.at("a")), R"({"n":5E-1,"m":1})");
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
