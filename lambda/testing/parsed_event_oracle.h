// The differential check of parse_event_json against json::parse, written once for
// event_json_test.cpp and the http_event fuzzer:
//
//   boost::system::error_code error;
//   const ParsedEvent parsed = parse_event_json(payload, {}, error);
//   if (auto why = snapbus::lambda::testing::parsed_event_mismatch(payload, parsed, error)) fail(*why);
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "event_json.h"
#include "json_text.h"
#include "snapbus/http_event.h"

namespace snapbus::lambda::testing {

// json::value's == ignores the order of an object's members, and decoding reads some objects in order
// (a query string's parameters, the list of a multi-value header). Every object is compared in order
// but the top-level one, where a `headers` member left in the value may stand elsewhere than
// json::parse puts it (first place, last value), and decoding looks members up by name.
inline bool same_in_order(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_object() && b.is_object()) {
    const boost::json::object& left = a.get_object();
    const boost::json::object& right = b.get_object();
    if (left.size() != right.size()) return false;
    for (auto l = left.begin(), r = right.begin(); l != left.end(); ++l, ++r) {
      if (l->key() != r->key() || !same_in_order(l->value(), r->value())) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    const boost::json::array& left = a.get_array();
    const boost::json::array& right = b.get_array();
    if (left.size() != right.size()) return false;
    for (std::size_t at = 0; at < left.size(); ++at) {
      if (!same_in_order(left[at], right[at])) return false;
    }
    return true;
  }
  // Boost.JSON reads 0e9999 as 0 times infinity, NaN, which is not equal to itself.
  if (a.is_double() && b.is_double() && std::isnan(a.get_double())) return std::isnan(b.get_double());
  return a == b;
}

inline bool same_members_in_order(const boost::json::value& parsed, const boost::json::value& expected) {
  if (!parsed.is_object() || !expected.is_object()) return same_in_order(parsed, expected);
  const boost::json::object& members = parsed.get_object();
  if (members.size() != expected.get_object().size()) return false;
  for (const auto& [key, value] : expected.get_object()) {
    const boost::json::value* member = members.if_contains(key);
    if (member == nullptr || !same_in_order(*member, value)) return false;
  }
  return true;
}

// How `parsed` and `error` (parse_event_json's verdict on `payload`) differ from json::parse's, or
// nullopt when they agree: the same error; else json::parse's value cut down to the members decoding
// reads (of the event, its requestContext, and http and elb in that), and its `headers` given as the list when
// the list is there, member for member in json::object's order; and requestContext placed where the
// scan of the text finds it. Where the text leaves no doubt (no escapes, one `"headers"`), the list
// and the place must also be there.
inline std::optional<std::string> parsed_event_mismatch(std::string_view payload, const ParsedEvent& parsed,
                                                        boost::system::error_code error) {
  namespace json = boost::json;
  boost::system::error_code expected_error;
  json::value expected = json::parse(json::string_view(payload.data(), payload.size()), expected_error);
  if (error != expected_error)
    return "error \"" + error.message() + "\", json::parse's \"" + expected_error.message() + "\"";
  if (error) return std::nullopt;

  if (expected.is_object()) {
    // The members of `object` named in `names`, in their order.
    const auto cut = [](json::value& object, const auto& names) {
      json::object kept;
      for (const auto& [key, member] : object.get_object()) {
        for (const std::string_view name : names) {
          if (key == name) kept[key] = member;
        }
      }
      object = std::move(kept);
    };
    cut(expected, kDecodedEventMembers);
    if (json::value* context = expected.get_object().if_contains("requestContext");
        context != nullptr && context->is_object()) {
      cut(*context, kDecodedContextMembers);
      if (json::value* http = context->get_object().if_contains("http"); http != nullptr && http->is_object()) {
        cut(*http, std::array<std::string_view, 1>{"method"});
      }
      if (json::value* elb = context->get_object().if_contains("elb"); elb != nullptr && elb->is_object()) {
        elb->get_object().clear();
      }
    }
  }
  const bool escaped = payload.find('\\') != std::string_view::npos;
  if (!parsed.headers && !escaped && expected.is_object()) {
    const json::value* headers = expected.get_object().if_contains("headers");
    const std::size_t first = payload.find("\"headers\"");
    if (headers != nullptr && headers->is_object() &&
        payload.find("\"headers\"", first + 1) == std::string_view::npos) {
      return std::string("no headers list for the one top-level headers object");
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
  if (!same_members_in_order(parsed.value, expected))
    return "the value is " + json::serialize(parsed.value) + ", expected " + json::serialize(expected);

  if (!parsed.request_context_at && !escaped && member_text(payload, "requestContext")) {
    return std::string("requestContext not placed, though the scan finds it");
  }
  if (parsed.request_context_at) {
    const std::optional<std::string_view> written = member_text(payload, "requestContext");
    if (!written || *parsed.request_context_at != static_cast<std::size_t>(written->data() - payload.data())) {
      return "requestContext placed at " + std::to_string(*parsed.request_context_at) + ", not where the scan finds it";
    }
  }
  if (parsed.request_context_text) {
    if (!parsed.request_context_at) return std::string("requestContext's text without its place");
    if (*parsed.request_context_text != value_json_at(payload, *parsed.request_context_at))
      return std::string("requestContext's text is not its value as written on one line");
  }
  return std::nullopt;
}

// How request_from_event's answer for `payload` differs from decoding json::parse's whole value (no
// headers list, no place for requestContext), or nullopt when they agree: the same request, or the
// same EventError. parse_event_json's answer, which request_from_event takes only for what the scan
// (event_scan.h) declines, is decoded too. A member decoding reads that either does not build shows here.
inline std::optional<std::string> decoded_event_mismatch(std::string_view payload,
                                                         const EventDecodeOptions& options = {}) {
  const auto decode = [&](auto&& how) -> std::pair<std::optional<HttpEventRequest>, std::string> {
    try {
      return {how(), {}};
    } catch (const EventError& refused) {
      return {std::nullopt, refused.what()};
    }
  };
  const auto pruned = decode([&] { return request_from_event(payload, options); });
  const auto whole = decode([&] {
    boost::system::error_code error;
    ParsedEvent parsed{.value = boost::json::parse(boost::json::string_view(payload.data(), payload.size()), error)};
    if (error) throw EventError("the event is not valid JSON: " + error.message());
    return request_from_parsed_event(payload, parsed, options);
  });
  const auto general = decode([&] {
    boost::system::error_code error;
    ParsedEvent parsed = parse_event_json(payload, {}, error);
    if (error) throw EventError("the event is not valid JSON: " + error.message());
    return request_from_parsed_event(payload, parsed, options);
  });
  if (general.first != whole.first || general.second != whole.second) {
    return "parse_event_json's value decodes otherwise than the whole value";
  }
  if (pruned.first == whole.first && pruned.second == whole.second) return std::nullopt;
  const auto describe = [](const auto& outcome) {
    return outcome.first ? "a request for " + outcome.first->method + " " + outcome.first->target
                         : "the refusal \"" + outcome.second + "\"";
  };
  return "request_from_event gives " + describe(pruned) + ", the whole value " + describe(whole) +
         " (or they differ elsewhere)";
}

}  // namespace snapbus::lambda::testing
