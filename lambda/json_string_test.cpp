#include "snapbus/json_string.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace snapbus::lambda {
namespace {

std::string boost_json(std::string_view text) { return boost::json::serialize(boost::json::string_view(text)); }

std::string appended(std::string_view text) {
  std::string out = "x";  // appended to, not replaced
  append_json_string(out, text);
  EXPECT_EQ(out.front(), 'x');
  return out.substr(1);
}

TEST(JsonString, EachByteAsBoostJsonWritesIt) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string text = "a" + std::string(1, static_cast<char>(byte)) + "b";
    EXPECT_EQ(appended(text), boost_json(text)) << "byte " << byte;
  }
}

TEST(JsonString, EscapesAtTheEdgesAndInRuns) {
  EXPECT_EQ(appended(""), R"("")");
  EXPECT_EQ(appended(R"(\"")"), R"("\\\"\"")");
  EXPECT_EQ(appended(std::string("\0\x1f\x7f\xc3\xa9\xff", 6)), "\"\\u0000\\u001f\x7f\xc3\xa9\xff\"");
  EXPECT_EQ(appended("\n"), R"("\n")");
}

TEST(JsonString, LongTextWithEveryByteAsBoostJsonWritesIt) {
  std::string mixed;
  for (int i = 0; i < 5000; ++i) mixed.push_back(static_cast<char>((i * 7919) % 256));
  EXPECT_EQ(appended(mixed), boost_json(mixed));
  const std::string plain(100000, 'h');
  EXPECT_EQ(appended(plain), boost_json(plain));
}

// The scan takes eight bytes at a time, and the last few in one more word (the final eight, or the
// rest padded): an escape at every place in and across those words, in text of every length up to
// 40, and the bytes next to the ones that need one (0x1f and 0x20, 0x21 and 0x23 around the quote).
TEST(JsonString, AnEscapeAtEveryOffsetOfTheWordsIsFound) {
  for (const char special : {'"', '\\', '\n', '\x1f', '\x20', '\x21', '\x23', '\x5b', '\x5d', '\x7f', '\x80'}) {
    for (std::size_t size = 1; size <= 40; ++size) {
      for (std::size_t at = 0; at < size; ++at) {
        std::string text(size, 'a');
        text[at] = special;
        EXPECT_EQ(appended(text), boost_json(text)) << "byte " << int(special) << " at " << at << " of " << size;
      }
    }
  }
}

TEST(JsonWriter, CommasBetweenMembersAndItemsAtEachLevel) {
  std::string out = "x";  // appended to
  JsonWriter json(out);
  json.open('{');
  json.member("a", "1");
  json.key("empty");
  json.open('[');
  json.close(']');
  json.key("list");
  json.open('[');
  json.string("p");
  json.open('{');
  json.close('}');
  json.raw("null");
  json.close(']');
  json.key("n");
  json.raw("2");
  json.close('}');
  EXPECT_EQ(out, R"(x{"a":"1","empty":[],"list":["p",{},null],"n":2})");
  EXPECT_NO_THROW((void)boost::json::parse(out.substr(1)));
}

static_assert(JsonKey("statusCode").written() == "\"statusCode\":");
static_assert(JsonKey("").written() == "\"\":");

TEST(JsonWriter, AKeyKnownWhenCompiledIsWrittenAsAnyKeyIs) {
  std::string by_name;
  std::string by_key;
  for (std::string* out : {&by_name, &by_key}) {
    JsonWriter json(*out);
    json.open('{');
    if (out == &by_name) {
      json.member("statusCode", "200");
      json.key("headers");
    } else {
      json.member(JsonKey("statusCode"), "200");
      json.key(JsonKey("headers"));
    }
    json.open('{');
    out == &by_name ? json.key("x") : json.key(JsonKey("x"));
    json.raw("1");
    json.close('}');
    json.close('}');
  }
  EXPECT_EQ(by_key, by_name);
  EXPECT_EQ(by_key, R"({"statusCode":"200","headers":{"x":1}})");
}

// Keys short and long, plain and escaped, first and after a member: the bytes Boost.JSON writes for
// the same object.
TEST(JsonWriter, KeysOfEveryKindAsBoostJsonWritesThem) {
  const std::string long_plain(200, 'k');
  const std::string long_escaped = std::string(150, 'k') + "\"";
  for (const std::string& name : {std::string(), std::string("a"), std::string("statusCode"),
                                  std::string("x-custom\\name"), std::string("tab\there"), long_plain, long_escaped}) {
    std::string out;
    JsonWriter json(out);
    json.open('{');
    json.member(name, "v");
    json.key(name + "2");
    json.raw("1");
    json.close('}');
    const boost::json::object expected{{name, "v"}, {name + "2", 1}};
    EXPECT_EQ(out, boost::json::serialize(expected)) << name;
  }
}

// DEL, which Boost.JSON writes as it is, becomes its escape wherever it stands, a run of them too, and
// the text still parses to the same value; text without one is left as it was.
TEST(JsonString, EscapedDeletesAreTheSameJson) {
  const boost::json::value value{{"a\x7f",
                                  "\x7f\x7f"
                                  "b"},
                                 {"c", "\x7f"},
                                 {"plain", "ok\\u007f"}};
  std::string text = boost::json::serialize(value);
  ASSERT_NE(text.find('\x7f'), std::string::npos);
  escape_deletes(text);
  EXPECT_EQ(text.find('\x7f'), std::string::npos) << text;
  EXPECT_EQ(boost::json::parse(text), value);
  EXPECT_NE(text.find(R"("\u007f\u007fb")"), std::string::npos) << text;
  std::string plain = R"({"a":"b"})";
  escape_deletes(plain);
  EXPECT_EQ(plain, R"({"a":"b"})");
}

}  // namespace
}  // namespace snapbus::lambda
