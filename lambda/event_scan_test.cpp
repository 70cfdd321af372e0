#include "event_scan.h"

#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "event_json.h"
#include "json_text.h"
#include "snapbus/file_contents.h"
#include "testing/parsed_event_oracle.h"

namespace snapbus::lambda {
namespace {

// How the scan's answer differs from parse_event_json's (which the oracle holds to json::parse), or
// "" when they agree: the value member for member in order, the place of requestContext, the headers.
std::string scanned_mismatch(std::string_view text, const ParsedEvent& scanned) {
  if (const auto mismatch = testing::parsed_event_mismatch(text, scanned, {})) return *mismatch;
  boost::system::error_code error;
  const ParsedEvent parsed = parse_event_json(text, {}, error);
  if (error) return "parse_event_json refuses it: " + error.message();
  if (!testing::same_in_order(scanned.value, parsed.value)) {
    return "the value is " + boost::json::serialize(scanned.value) + ", the parser's " +
           boost::json::serialize(parsed.value);
  }
  if (scanned.request_context_at != parsed.request_context_at) return "requestContext placed elsewhere";
  if (scanned.headers.has_value() != parsed.headers.has_value()) return "a headers list on one side only";
  if (scanned.headers) {
    if (scanned.headers->size() != parsed.headers->size()) return "the headers lists' sizes differ";
    for (std::size_t at = 0; at < scanned.headers->size(); ++at) {
      const EventHeader& mine = (*scanned.headers)[at];
      const EventHeader& theirs = (*parsed.headers)[at];
      if (mine.name != theirs.name || mine.value != theirs.value || mine.kind != theirs.kind) {
        return "header " + std::to_string(at) + " is " + mine.name + ": " + mine.value + ", the parser's " +
               theirs.name + ": " + theirs.value;
      }
    }
  }
  if (scanned.request_context_text) {
    if (!scanned.request_context_at) return "requestContext's text without its place";
    if (*scanned.request_context_text != value_json_at(text, *scanned.request_context_at))
      return "requestContext's text is not the value as written on one line";
  }
  return "";
}

void expect_scanned_as_parsed(std::string_view text) {
  SCOPED_TRACE(std::string(text.substr(0, 300)));
  const std::optional<ParsedEvent> scanned = scan_event_json(text, {});
  ASSERT_TRUE(scanned.has_value()) << "declined";
  EXPECT_EQ(scanned_mismatch(text, *scanned), "");
}

TEST(EventScan, EveryRealEventIsScannedAsTheParserBuildsIt) {
  int events = 0;
  int with_text = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SNAPBUS_EVENT_VECTORS)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    const std::string text = read_file_contents(entry.path());
    expect_scanned_as_parsed(text);
    // As the Runtime API hands them over: on one line, where requestContext's text is taken as it is.
    const std::string one_line = compact_text(text);
    expect_scanned_as_parsed(one_line);
    const std::optional<ParsedEvent> scanned = scan_event_json(one_line, {});
    ASSERT_TRUE(scanned.has_value());
    EXPECT_EQ(scanned->request_context_text.has_value(), scanned->request_context_at.has_value());
    if (scanned->request_context_text) ++with_text;
    ++events;
  }
  EXPECT_GT(events, 20);
  EXPECT_GT(with_text, 10);
}

TEST(EventScan, TakesUsualTextAsTheParserDoes) {
  for (
      const std::string_view text : {
          R"({})",
          R"( { "body" : "" } )",
          R"({"headers": {}, "x": [1, -2.5e3, 0, true, false, null, {"y": {}}]})",
          R"({"headers": {"a": "1", "b": null, "c": 2, "d": [1], "e": {"f": "g"}, "h": true}})",
          R"({"headers": {"sec-ch-ua": "\"Chromium\";v=\"118\"", "x\u002dy": "\u00e9\u4e2d\n\t\/\\"}})",
          R"({"body": "{\"a\": \"caf\u00e9\", \"b\": [1, 2]}\r\n", "isBase64Encoded": false})",
          "{\"body\": \"caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80\", \"path\": \"/\xC3\xA9\"}",
          R"({"queryStringParameters": {"a": "1", "a": "2", "b\u0021": ""}, "multiValueHeaders": {"x": ["1", "2"]}})",
          R"({"cookies": ["a=1", "b=2"], "rawPath": "/p", "rawQueryString": "a=1&b"})",
          R"({"requestContext": "text", "httpMethod": "GET"})",
          R"({"requestContext": {"http": null, "elb": ["x"], "domainName": {"a": "b"}}})",
          R"({"requestContext": {"elb": {"targetGroupArn": "arn", "n": 1}, "http": {"path": "/", "method": "GET"}}})",
          R"({"requestContext": {"authorizer": {"claims": {"a\"b": "c", "n": 1e308, "l": [[[]]]}}, "time": 17}})",
          R"({"Records": [{"eventSource": "aws:sqs", "body": "{\"k\": 1}", "attributes": {"ApproximateReceiveCount": "1"}}]})",
      }) {
    expect_scanned_as_parsed(text);
  }
}

TEST(EventScan, DeclinesWhatJsonParseMayTakeOtherwise) {
  const std::string deep = R"({"x": )" + std::string(40, '[') + std::string(40, ']') + "}";
  for (const std::string_view text :
       std::initializer_list<std::string_view>{"",
                                               " ",
                                               "{",
                                               "[]",
                                               "7",
                                               R"("event")",
                                               "{} x",
                                               "{}{}",
                                               R"({"a": 1,})",
                                               R"({"a" 1})",
                                               R"({"a": })",
                                               R"({,})",
                                               R"({"a": tru})",
                                               R"({"a": nul})",
                                               R"({"a": 01})",
                                               R"({"a": -})",
                                               R"({"a": 1.})",
                                               R"({"a": 1e})",
                                               R"({"a": .5})",
                                               R"({"a": +1})",
                                               R"({"a": NaN})",
                                               R"({"a": "x)",
                                               "{\"a\": \"x\ty\"}",
                                               R"({"a": "\x"})",
                                               R"({"a": "\u12"})",
                                               R"({"a": "\ud83d\ude00"})",
                                               R"({"a": "\udc00"})",
                                               "{\"a\": \"\xC3\"}",
                                               "{\"a\": \"\xED\xA0\x80\"}",
                                               "{\"a\": \"\xC0\xAF\"}",
                                               "{\"a\": \"\xF4\x90\x80\x80\"}",
                                               R"({"a": 1e2147483648})",
                                               R"({"a": 1e1234567890})",
                                               R"({"a": 1234567890123456789012345678901234567890123})",
                                               R"({"body": "a", "body": "b"})",
                                               R"({"requestContext": {}, "requestContext": {}})",
                                               R"({"headers": {}, "headers": {}})",
                                               R"({"headers": "a"})",
                                               R"({"headers": {"a": "1", "a": "2"}})",
                                               R"({"b\u006fdy": "x"})",
                                               R"({"requestContext": {"http": {"method": "GET", "method": "PUT"}}})",
                                               R"({"requestContext": {"domainN\u0061me": "x"}})",
                                               R"({"requestContext": 1})",
                                               R"({"path": 1})",
                                               R"({"multiValueHeaders": {"a": [1]}})",
                                               std::string_view(deep)}) {
    EXPECT_FALSE(scan_event_json(text, {}).has_value()) << text;
  }
  // Nesting below json::parse's limit is scanned.
  expect_scanned_as_parsed(R"({"x": )" + std::string(20, '[') + std::string(20, ']') + "}");
}

// Strings are stepped over eight bytes at a time: whatever stops the step (a quote, an escape, a
// control character, a multi-byte sequence) is met at every place within a word.
TEST(EventScan, EveryByteThatEndsAnEightByteStepIsMetAtEveryOffset) {
  for (const std::string_view special : {"\\\"", "\\\\", "\\u00e9", "\xC3\xA9", "\xF0\x9F\x98\x80", "\x7F", "~"}) {
    for (std::size_t before = 0; before < 17; ++before) {
      const std::string text = std::string(R"({"headers": {"h": ")") + std::string(before, 'a') + std::string(special) +
                               std::string(20 - before, 'b') + R"("}, "body": ")" + std::string(before, 'c') +
                               std::string(special) + R"("})";
      expect_scanned_as_parsed(text);
    }
    for (std::size_t before = 0; before < 17; ++before) {
      // A control character or a lone continuation byte at that place is refused, as json::parse refuses it.
      for (const std::string_view invalid : {"\x01", "\x1F", "\x80", "\xFF"}) {
        const std::string text = R"({"body": ")" + std::string(before, 'a') + std::string(invalid) + R"(b"})";
        EXPECT_FALSE(scan_event_json(text, {}).has_value()) << before;
      }
    }
  }
}

TEST(EventScan, RequestContextsTextIsKeptOnlyWhenWrittenOnOneLine) {
  const auto text_of = [](std::string_view event) {
    const std::optional<ParsedEvent> scanned = scan_event_json(event, {});
    EXPECT_TRUE(scanned.has_value()) << event;
    return scanned ? scanned->request_context_text : std::nullopt;
  };
  EXPECT_EQ(text_of(R"({"requestContext":{"a":1,"b":[1,"x y"],"http":{"method":"GET"}}})"),
            R"({"a":1,"b":[1,"x y"],"http":{"method":"GET"}})");
  EXPECT_EQ(text_of(R"({"requestContext" :  {"a":{}} , "body": "x"})"), R"({"a":{}})");
  EXPECT_EQ(text_of(R"({"requestContext":{"a": 1}})"), std::nullopt);
  EXPECT_EQ(text_of("{\"requestContext\":{\"a\":[1,\n2]}}"), std::nullopt);
  EXPECT_EQ(text_of(R"({"requestContext":"ctx"})"), R"("ctx")");
  EXPECT_EQ(text_of(R"({"body":"x"})"), std::nullopt);
}

// What reaches the app is the same whichever parser took the event: the request, or the refusal.
TEST(EventScan, RequestFromEventIsTheSameEitherWay) {
  for (const auto& entry : std::filesystem::directory_iterator(SNAPBUS_EVENT_VECTORS)) {
    if (entry.path().extension() != ".json") continue;
    const std::string text = compact_text(read_file_contents(entry.path()));
    const auto mismatch = testing::decoded_event_mismatch(text, {.remove_base_path = "/api"});
    EXPECT_FALSE(mismatch.has_value()) << entry.path().filename() << ": " << *mismatch;
  }
}

}  // namespace
}  // namespace snapbus::lambda
