#include "event_json.h"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "json_text.h"
#include "snapbus/file_contents.h"
#include "testing/parsed_event_oracle.h"

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

void expect_as_json_parse_cut(std::string_view text) {
  SCOPED_TRACE(std::string(text.substr(0, 200)));
  boost::system::error_code error;
  const ParsedEvent parsed = parse_event_json(text, {}, error);
  const std::optional<std::string> mismatch = testing::parsed_event_mismatch(text, parsed, error);
  EXPECT_FALSE(mismatch.has_value()) << *mismatch;
}

// The top-level `headers` as the parser took them: name, then value ("null" or "other" for those kinds).
std::optional<std::vector<std::pair<std::string, std::string>>> taken_headers(std::string_view text) {
  boost::system::error_code error;
  const ParsedEvent parsed = parse_event_json(text, {}, error);
  EXPECT_FALSE(error) << text;
  if (!parsed.headers) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> headers;
  for (const EventHeader& header : *parsed.headers) {
    switch (header.kind) {
      case EventHeader::Kind::string: headers.emplace_back(header.name, header.value); break;
      case EventHeader::Kind::null: headers.emplace_back(header.name, "null"); break;
      case EventHeader::Kind::other: headers.emplace_back(header.name, "other"); break;
    }
  }
  return headers;
}

std::optional<std::size_t> request_context_at(std::string_view text) {
  boost::system::error_code error;
  const ParsedEvent parsed = parse_event_json(text, {}, error);
  EXPECT_FALSE(error) << text;
  return parsed.request_context_at;
}

TEST(EventJson, EveryRealEventIsJsonParsesValueCut) {
  int events = 0;
  int with_headers = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SNAPBUS_EVENT_VECTORS)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    const std::string text = read_file_contents(entry.path());
    expect_as_json_parse_cut(text);
    // What the parser leaves out is what decoding never reads.
    for (const std::string_view base : {"", "/api", "/my"}) {
      const std::optional<std::string> mismatch = testing::decoded_event_mismatch(text, {.remove_base_path = base});
      EXPECT_FALSE(mismatch.has_value()) << *mismatch;
    }
    ++events;
    // Every real event's headers, where it has them, are taken as a list.
    boost::system::error_code error;
    const ParsedEvent parsed = parse_event_json(text, {}, error);
    const bool has_headers = parsed.value.is_object() && parsed.value.get_object().contains("headers");
    EXPECT_FALSE(has_headers) << "headers left in the value";
    if (parsed.headers) ++with_headers;
  }
  EXPECT_GT(events, 20);
  EXPECT_GT(with_headers, 10);
}

// Hand-written events in odd shapes decode the same from json::parse's whole value as from the parser's
// cut one (the real events are checked above).
TEST(EventJson, OddEventsDecodeTheSameFromTheWholeValue) {
  for (const std::string_view odd :
       {R"({"rawPath": "/", "requestContext": {"http": null}})",
        R"({"rawPath": "/", "requestContext": {"http": {"method": 1}}})",
        R"({"rawPath": "/", "requestContext": {"http": {"method": "GET", "path": 1}, "domainName": 2}})",
        R"({"httpMethod": "GET", "path": "/", "requestContext": {"elb": "x"}, "multiValueHeaders": {"a": 1}})",
        R"({"httpMethod": "GET", "requestContext": {"elb": {"targetGroupArn": 1}}, "headers": {"a": ["b"]}})",
        R"({"httpMethod": "PUT", "path": "/p", "body": "eA==", "isBase64Encoded": true, "stageVariables": {}})",
        R"({"httpMethod": "GET", "path": "/q", "queryStringParameters": {"a": "1"}, "multiValueHeaders": {}})",
        R"({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})", R"([{"httpMethod": "GET"}])", "7"}) {
    const std::optional<std::string> mismatch = testing::decoded_event_mismatch(odd);
    EXPECT_FALSE(mismatch.has_value()) << odd << ": " << *mismatch;
  }
}

TEST(EventJson, TopLevelHeadersAreTakenInJsonObjectsOrder) {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(taken_headers(R"({"headers": {"a": "1", "B": "2"}, "x": 1})"), (Headers{{"a", "1"}, {"B", "2"}}));
  EXPECT_EQ(taken_headers(R"({"headers": {}})"), Headers{});
  // A name given twice keeps its first place and its last value, null or not.
  EXPECT_EQ(taken_headers(R"({"headers": {"a": "1", "b": "2", "a": "3"}})"), (Headers{{"a", "3"}, {"b", "2"}}));
  EXPECT_EQ(taken_headers(R"({"headers": {"a": "1", "a": null, "b": 7}})"), (Headers{{"a", "null"}, {"b", "other"}}));
  // Names compare as JSON does: exactly, after escapes.
  EXPECT_EQ(taken_headers(R"({"headers": {"A": "1", "A": "2", "a": "3"}})"), (Headers{{"A", "2"}, {"a", "3"}}));
  // Values of every kind, escaped text in parts, and lists and objects, however nested, as one "other".
  EXPECT_EQ(
      taken_headers(R"({"headers": {"s": "x\ny\u00e9", "n": -1.5, "t": true, "l": [1, {"a": []}], "o": {"k": {}},)"
                    R"( "after": "v"}})"),
      (Headers{{"s", "x\ny\xc3\xa9"}, {"n", "other"}, {"t", "other"}, {"l", "other"}, {"o", "other"}, {"after", "v"}}));
  // Escaped names and values, the value long enough to come in parts.
  const std::string long_value(5000, 'v');
  EXPECT_EQ(taken_headers(R"({"head\u0065rs": {"x-\u0061": "1", "x-a": ")" + long_value + R"(\n"}})"),
            (Headers{{"x-a", long_value + "\n"}}));
  // An escaped key is the same key; the last object given is the one taken.
  EXPECT_EQ(taken_headers(R"({"headers": {"a": "1"}, "headers": {"b": "2"}})"), (Headers{{"b", "2"}}));
  // Not at the top, or not an object: left in the value, as json::parse has it.
  EXPECT_EQ(taken_headers(R"({"body": {"headers": {"a": "1"}}})"), std::nullopt);
  EXPECT_EQ(taken_headers(R"([{"headers": {"a": "1"}}])"), std::nullopt);
  EXPECT_EQ(taken_headers(R"({"headers": null})"), std::nullopt);
  EXPECT_EQ(taken_headers(R"({"headers": {"a": "1"}, "headers": "text"})"), std::nullopt)
      << "the last one is not an object";
  EXPECT_EQ(taken_headers(R"({"headers": ["a"], "headers": {"a": "1"}})"), std::nullopt)
      << "an object after one that went into the value goes there too";
  for (const std::string_view text :
       {R"({"headers": {"a": "1", "b": "2", "a": "3"}, "requestContext": {"http": {}, "x": 1}})",
        R"({"headers": {"a": "1"}, "headers": "text"})", R"({"headers": "text", "headers": {"a": "1"}})",
        R"({"headers": {"a": "1"}, "headers": {"b": [2]}, "n": 1})", R"({"headers": [{"a": 1}], "h": {"headers": {}}})",
        R"({"headers": 1, "headers": null, "headers": true})", R"({"requestContext": {"headers": {"a": "1"}}})"}) {
    expect_as_json_parse_cut(text);
  }
}

// Past a few dozen names, duplicates are found by hashing: the same rule, for any number of headers.
TEST(EventJson, ManyHeadersKeepJsonObjectsRule) {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  std::string event = R"({"headers": {)";
  Headers expected;
  for (int i = 0; i < 300; ++i) {
    const std::string name = "x-" + std::to_string(i % 100);
    if (i > 0) event += ", ";
    // Every name three times; the last time null for every seventh, a number for every eleventh.
    const bool last = i >= 200;
    const std::string value = last && i % 7 == 0 ? "null" : last && i % 11 == 0 ? "1" : "\"" + std::to_string(i) + "\"";
    event.append("\"").append(name).append("\": ").append(value);
    if (i < 100) expected.emplace_back(name, "");
    if (last)
      expected[static_cast<std::size_t>(i % 100)].second = value == "null" ? "null"
                                                           : value == "1"  ? "other"
                                                                           : std::to_string(i);
  }
  event += "}}";
  EXPECT_EQ(taken_headers(event), expected);
  expect_as_json_parse_cut(event);
}

TEST(EventJson, OnlyWhatDecodingReadsIsBuilt) {
  const std::string event =
      R"({"requestContext": {"accountId": "1", "http": {"method": "GET", "extra": [1, {"a": null}]},)"
      R"( "identity": {"sourceIp": "1.2.3.4", "nested": [[], {}]}, "domainName": "d", "elb": {"targetGroupArn": "t"},)"
      R"( "timeEpoch": 1583348638390, "n": -1, "f": 0.5, "t": true, "z": null, "s": "x\ny"},)"
      R"( "body": {"requestContext": {"accountId": "kept", "http": {"path": "/"}}}, "list": [{"requestContext": {}}],)"
      R"( "Records": [{"body": "{}"}], "version": "2.0", "queryStringParameters": {"a": {"b": [1]}}})";
  boost::system::error_code error;
  const json::value parsed = parse_event_json(event, {}, error).value;
  ASSERT_FALSE(error) << error.message();
  EXPECT_EQ(json::serialize(parsed.at("requestContext")), R"({"http":{"method":"GET"},"domainName":"d","elb":{}})");
  // Within a member that is kept, every object is whole, whatever its name.
  EXPECT_EQ(json::serialize(parsed.at("body")), R"({"requestContext":{"accountId":"kept","http":{"path":"/"}}})");
  EXPECT_EQ(json::serialize(parsed.at("queryStringParameters")), R"({"a":{"b":[1]}})");
  EXPECT_EQ(parsed.get_object().size(), 3U) << json::serialize(parsed);
  expect_as_json_parse_cut(event);
  for (const std::string_view other :
       {R"({"requestContext": "text"})", R"({"requestContext": [1, {"a": 2}]})", R"({"requestContext": null, "x": 1})",
        R"({"requestContext": {}})", R"([{"requestContext": {"a": 1}}])", R"("requestContext")", "7",
        R"({"requestContext": {"http": "GET", "elb": [1]}})", R"({"requestContext": {"http": null, "elb": null}})",
        R"({"requestContext": {"http": {"method": {"a": 1}, "x": {}}, "elb": {"a": {"b": 2}}}})",
        R"({"Records": [{"eventSource": "aws:sqs", "body": "{}"}, {"a": [1, 2, {"b": null}]}]})",
        R"([[1, 0E08551]])"}) {
    expect_as_json_parse_cut(other);
  }
}

TEST(EventJson, KeysCompareDecodedAndTwiceNamedMembersAreJsonParses) {
  // An escaped name is the same name; a name given twice resolves as json::parse resolves it.
  expect_as_json_parse_cut(R"({"request\u0043ontext": {"domain\u004eame": "d", "st\u0061ge": "x"}})");
  expect_as_json_parse_cut(
      R"({"requestContext": {"http": 1, "a": 2, "http": 3}, "requestContext": {"domainName": "e", "b": [4]}})");
  // A long escaped key reaches the handler in parts.
  const std::string long_key(5000, 'k');
  expect_as_json_parse_cut(R"({"requestContext": {")" + long_key + R"(\n": "v", "elb": {}}})");
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
  expect_as_json_parse_cut(R"({"request\u0043ontext": {"a": 1}, "requestContext": {"b": 2}})");
}

TEST(EventJson, TextThatIsNotOneJsonValueFailsAsJsonParseFails) {
  for (const std::string_view bad :
       {"", "{", R"({"requestContext": {"a": })", R"({"requestContext": {"a": 1}} x)", R"({"a": 1}{"b": 2})",
        "{\"requestContext\": {\"s\": \"\xff\"}}", R"({"requestContext": {"a": [1, 2}})", "nul", "[1,]",
        R"({"headers": {"a": "1", "b": }})", R"({"headers": {"a" "1"}})", "{\"headers\": {\"a\": \"\xff\"}}"}) {
    expect_as_json_parse_cut(bad);
    boost::system::error_code error;
    (void)parse_event_json(bad, {}, error);
    EXPECT_TRUE(error) << bad;
  }
}

}  // namespace
}  // namespace snapbus::lambda
