#include "event_json.h"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "json_text.h"
#include "snapbus/file_contents.h"

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

// What parse_event_json must give: json::parse's value with the top-level requestContext (when an
// object) cut down to the members decoding reads.
json::value expected_event(std::string_view text, boost::system::error_code& error) {
  json::value value = json::parse(json::string_view(text.data(), text.size()), error);
  if (error || !value.is_object()) return value;
  json::value* context = value.get_object().if_contains("requestContext");
  if (context == nullptr || !context->is_object()) return value;
  json::object kept;
  for (const auto& [key, member] : context->get_object()) {
    for (const std::string_view name : kDecodedContextMembers) {
      if (key == name) kept[key] = member;
    }
  }
  *context = std::move(kept);
  return value;
}

void expect_as_json_parse_less_the_context(std::string_view text) {
  SCOPED_TRACE(std::string(text.substr(0, 200)));
  boost::system::error_code expected_error;
  const json::value expected = expected_event(text, expected_error);
  boost::system::error_code error;
  const ParsedEvent parsed = parse_event_json(text, {}, error);
  EXPECT_EQ(error, expected_error);
  if (!error) {
    EXPECT_EQ(parsed.value, expected) << json::serialize(parsed.value);
  }
  // Where requestContext begins, when the parser could tell: where the scan of the text finds it.
  if (parsed.request_context_at) {
    const std::optional<std::string_view> written = member_text(text, "requestContext");
    ASSERT_TRUE(written.has_value());
    EXPECT_EQ(*parsed.request_context_at, static_cast<std::size_t>(written->data() - text.data()));
  }
}

std::optional<std::size_t> request_context_at(std::string_view text) {
  boost::system::error_code error;
  const ParsedEvent parsed = parse_event_json(text, {}, error);
  EXPECT_FALSE(error) << text;
  return parsed.request_context_at;
}

TEST(EventJson, EveryRealEventIsTheParsedEventLessTheUnreadContext) {
  int events = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SNAPBUS_EVENT_VECTORS)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    expect_as_json_parse_less_the_context(read_file_contents(entry.path()));
    ++events;
  }
  EXPECT_GT(events, 20);
}

TEST(EventJson, OnlyTheTopLevelContextIsCutAndOnlyWhenItIsAnObject) {
  const std::string event =
      R"({"requestContext": {"accountId": "1", "http": {"method": "GET", "extra": [1, {"a": null}]},)"
      R"( "identity": {"sourceIp": "1.2.3.4", "nested": [[], {}]}, "domainName": "d", "elb": {"targetGroupArn": "t"},)"
      R"( "timeEpoch": 1583348638390, "n": -1, "f": 0.5, "t": true, "z": null, "s": "x\ny"},)"
      R"( "body": {"requestContext": {"accountId": "kept"}}, "list": [{"requestContext": {"a": 1}}]})";
  boost::system::error_code error;
  const json::value parsed = parse_event_json(event, {}, error).value;
  ASSERT_FALSE(error) << error.message();
  EXPECT_EQ(json::serialize(parsed.at("requestContext")),
            R"({"http":{"method":"GET","extra":[1,{"a":null}]},"domainName":"d","elb":{"targetGroupArn":"t"}})");
  EXPECT_EQ(parsed.at("body").at("requestContext").at("accountId"), "kept");
  EXPECT_EQ(parsed.at("list").at(0).at("requestContext").at("a"), 1);
  expect_as_json_parse_less_the_context(event);
  for (const std::string_view other :
       {R"({"requestContext": "text"})", R"({"requestContext": [1, {"a": 2}]})", R"({"requestContext": null, "x": 1})",
        R"({"requestContext": {}})", R"([{"requestContext": {"a": 1}}])", R"("requestContext")", "7"}) {
    expect_as_json_parse_less_the_context(other);
  }
}

TEST(EventJson, KeysCompareDecodedAndTwiceNamedMembersAreJsonParses) {
  // An escaped name is the same name; a name given twice resolves as json::parse resolves it.
  expect_as_json_parse_less_the_context(R"({"request\u0043ontext": {"domain\u004eame": "d", "st\u0061ge": "x"}})");
  expect_as_json_parse_less_the_context(
      R"({"requestContext": {"http": 1, "a": 2, "http": 3}, "requestContext": {"domainName": "e", "b": [4]}})");
  // A long escaped key reaches the handler in parts.
  const std::string long_key(5000, 'k');
  expect_as_json_parse_less_the_context(R"({"requestContext": {")" + long_key + R"(\n": "v", "elb": {}}})");
}

TEST(EventJson, EveryRealEventsContextIsFoundWhereItIsWritten) {
  for (const auto& entry : std::filesystem::directory_iterator(SNAPBUS_EVENT_VECTORS)) {
    if (entry.path().extension() != ".json") continue;
    const std::string text = read_file_contents(entry.path());
    const std::optional<std::string_view> written = member_text(text, "requestContext");
    SCOPED_TRACE(entry.path().filename().string());
    ASSERT_EQ(request_context_at(text).has_value(), written.has_value());
    if (written) {
      EXPECT_EQ(*request_context_at(text), static_cast<std::size_t>(written->data() - text.data()));
    }
  }
}

// The parser hands over a key without an escape as a view into the text, which places the value; an
// escaped one is decoded elsewhere, and then the last requestContext cannot be placed.
TEST(EventJson, TheContextIsPlacedOnlyWhenItsLastKeyIsWrittenPlain) {
  EXPECT_EQ(request_context_at(R"({"requestContext"  :  {"a": 1}})"), 22U);
  EXPECT_EQ(request_context_at("{\"requestContext\"\n:\t[1]}"), 20U);
  EXPECT_EQ(request_context_at(R"({"request\u0043ontext": {"a": 1}})"), std::nullopt);
  // Escaped at its first byte: the whole key comes decoded, from the parser's own buffer.
  EXPECT_EQ(request_context_at(R"({"\u0072equestContext": {"a": 1}})"), std::nullopt);
  EXPECT_EQ(request_context_at(R"({"requestContext": {"a": 1}, "request\u0043ontext": {"b": 2}})"), std::nullopt);
  EXPECT_EQ(request_context_at(R"({"request\u0043ontext": {"a": 1}, "requestContext": {"b": 2}})"), 52U);
  EXPECT_EQ(request_context_at(R"({"body": {"requestContext": {"a": 1}}})"), std::nullopt) << "not at the top";
  EXPECT_EQ(request_context_at(R"({"requestContext": {"requestContext": 1}})"), 19U);
  EXPECT_EQ(request_context_at(R"(["requestContext", {"requestContext": 1}])"), std::nullopt);
  expect_as_json_parse_less_the_context(R"({"request\u0043ontext": {"a": 1}, "requestContext": {"b": 2}})");
}

TEST(EventJson, TextThatIsNotOneJsonValueFailsAsJsonParseFails) {
  for (const std::string_view bad :
       {"", "{", R"({"requestContext": {"a": })", R"({"requestContext": {"a": 1}} x)", R"({"a": 1}{"b": 2})",
        "{\"requestContext\": {\"s\": \"\xff\"}}", R"({"requestContext": {"a": [1, 2}})", "nul", "[1,]"}) {
    expect_as_json_parse_less_the_context(bad);
    boost::system::error_code error;
    (void)parse_event_json(bad, {}, error);
    EXPECT_TRUE(error) << bad;
  }
}

}  // namespace
}  // namespace snapbus::lambda
