// An event's JSON parsed for decoding: the whole text is checked as JSON, but only what decoding reads
// is built. Of the event (when an object) that is the members in kDecodedEventMembers, so an SQS
// batch's records or an S3 notification, which go to the app as they are written, are parsed and
// dropped. Of its requestContext it is domainName, http with only its method, and elb with no members
// (kDecodedContextMembers); the rest (identity, authorizer, times, ids: half of an API Gateway event)
// is dropped, since the app receives requestContext as written (json_text.h), never from the parsed
// value. The top-level `headers` object goes straight into a list of strings, which decoding moves
// into the request as they are, instead of into the value, to be copied out member by member.
//
//   json::monotonic_resource arena;
//   boost::system::error_code error;
//   ParsedEvent event = parse_event_json(payload, &arena, error);
//   // event.value.at("requestContext") holds domainName, http (method only) and elb ({}), when the event has them
//   if (event.request_context_at) use(value_json_at(payload, *event.request_context_at));  // as written
//   if (event.headers) for (EventHeader& header : *event.headers) use(std::move(header.name), ...);
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

namespace snapbus::lambda {

// What source_of and decode_http_event read from the event.
inline constexpr std::array<std::string_view, 12> kDecodedEventMembers = {"requestContext",
                                                                          "httpMethod",
                                                                          "path",
                                                                          "rawPath",
                                                                          "rawQueryString",
                                                                          "queryStringParameters",
                                                                          "multiValueQueryStringParameters",
                                                                          "headers",
                                                                          "multiValueHeaders",
                                                                          "cookies",
                                                                          "body",
                                                                          "isBase64Encoded"};

// What they read from requestContext: domainName, and of http its method; of elb, only that it is there.
inline constexpr std::array<std::string_view, 3> kDecodedContextMembers = {"domainName", "elb", "http"};

// Room for the headers of most events (an API Gateway event behind CloudFront has about 20), so the
// list is not moved as it grows.
inline constexpr std::size_t kEventHeadersReserved = 32;

// A member of the top-level `headers` object, as json::object holds it.
struct EventHeader {
  enum class Kind : unsigned char { string, null, other };
  std::string name;
  std::string value;  // a string's text; empty for the other kinds
  Kind kind = Kind::string;
};

struct ParsedEvent {
  boost::json::value value;
  // Where the value of the top-level requestContext begins in the payload (of the last one, which
  // `value` keeps), when the parser met that key as written, without an escape: the text as written
  // is then found from there (json_text.h's value_json_at) rather than by a scan of the whole event.
  std::optional<std::size_t> request_context_at;
  // That value as written, when it is already on one line (no space between its tokens, as Lambda
  // writes events): the header's text with no scan (event_scan.h fills it; this parser leaves it out).
  std::optional<std::string_view> request_context_text;
  // The top-level `headers`, when it is an object and no `headers` before it was something else:
  // its members in json::object's order (a name given twice keeps its first place and its last
  // value), and `value` has no `headers` member. Otherwise nullopt, and `value` has json::parse's.
  std::optional<std::vector<EventHeader>> headers;
};

// json::parse's verdict and errors for any text; on success the value as json::parse would build it,
// less the members decoding does not read (of the event, its requestContext, and http and elb in that:
// any other object, such as a requestContext inside the body, is whole) and less the `headers` given
// in `headers`.
ParsedEvent parse_event_json(std::string_view payload, boost::json::storage_ptr storage,
                             boost::system::error_code& error);

}  // namespace snapbus::lambda
