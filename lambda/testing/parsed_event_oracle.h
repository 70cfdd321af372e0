// The differential check of parse_event_json against json::parse, written once for
// event_json_test.cpp and the http_event fuzzer:
//
//   boost::system::error_code error;
//   const ParsedEvent parsed = parse_event_json(payload, {}, error);
//   if (auto why = snapbus::lambda::testing::parsed_event_mismatch(payload, parsed, error)) fail(*why);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "event_json.h"
#include "json_text.h"

namespace snapbus::lambda::testing {

// How `parsed` and `error` (parse_event_json's verdict on `payload`) differ from json::parse's, or
// nullopt when they agree: the same error; else json::parse's value with the top-level requestContext
// (when an object) cut down to the members decoding reads, and its `headers` given as the list when
// the list is there, member for member in json::object's order; and requestContext placed where the
// scan of the text finds it.
inline std::optional<std::string> parsed_event_mismatch(std::string_view payload, const ParsedEvent& parsed,
                                                        boost::system::error_code error) {
  namespace json = boost::json;
  boost::system::error_code expected_error;
  json::value expected = json::parse(json::string_view(payload.data(), payload.size()), expected_error);
  if (error != expected_error)
    return "error \"" + error.message() + "\", json::parse's \"" + expected_error.message() + "\"";
  if (error) return std::nullopt;

  if (expected.is_object()) {
    json::object& event = expected.get_object();
    if (json::value* context = event.if_contains("requestContext"); context != nullptr && context->is_object()) {
      json::object kept;
      for (const auto& [key, member] : context->get_object()) {
        for (const std::string_view name : kDecodedContextMembers) {
          if (key == name) kept[key] = member;
        }
      }
      *context = std::move(kept);
    }
  }
  if (parsed.headers) {
    const json::value* headers = expected.is_object() ? expected.get_object().if_contains("headers") : nullptr;
    if (headers == nullptr || !headers->is_object())
      return std::string("a headers list, but json::parse has no headers object");
    if (headers->get_object().size() != parsed.headers->size()) return std::string("the headers list's size differs");
    std::size_t at = 0;
    for (const auto& [name, value] : headers->get_object()) {
      const EventHeader& header = (*parsed.headers)[at++];
      const EventHeader::Kind kind = value.is_string() ? EventHeader::Kind::string
                                     : value.is_null() ? EventHeader::Kind::null
                                                       : EventHeader::Kind::other;
      const std::string_view text = value.is_string() ? std::string_view(value.get_string()) : std::string_view();
      if (header.name != std::string_view(name) || header.kind != kind || header.value != text) {
        return "header " + std::to_string(at - 1) + " is \"" + header.name + "\", json::parse's \"" +
               std::string(name) + "\" (or its value differs)";
      }
    }
    expected.get_object().erase("headers");
  }
  if (parsed.value != expected)
    return "the value is " + json::serialize(parsed.value) + ", expected " + json::serialize(expected);

  if (parsed.request_context_at) {
    const std::optional<std::string_view> written = member_text(payload, "requestContext");
    if (!written || *parsed.request_context_at != static_cast<std::size_t>(written->data() - payload.data())) {
      return "requestContext placed at " + std::to_string(*parsed.request_context_at) + ", not where the scan finds it";
    }
  }
  return std::nullopt;
}

}  // namespace snapbus::lambda::testing
