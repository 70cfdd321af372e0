// The usual event parsed for decoding in one pass of its own: what parse_event_json (event_json.h)
// builds, without Boost.JSON's parser. The event's largest parts (most of requestContext, every member
// decoding does not read) are checked and stepped over, sixteen bytes of a string at a time, and only
// what decoding reads is built. requestContext's text is kept when it is written on one line, as
// Lambda writes events, so its header needs no second scan (json_text.h's value_json_at). When it came
// in (28dcfcd), an event on one line took 0.85x the time of the same request made through the parser
// (event_decode_bench), and the adapter 3.8 thousand fewer instructions per invocation: the stepping
// itself is no faster than the parser's, which uses SSE2 as well; the saving is the work around it.
//
// The scan declines (nullopt) whatever it does not take exactly as json::parse does: text that is not
// JSON (whose error parse_event_json words), a number where decoding reads one, a member decoding
// reads named twice or named with an escape, an escaped surrogate, nesting near json::parse's limit.
// The caller then asks parse_event_json, so the answer never depends on which of the two parsed.
//
//   json::monotonic_resource arena;
//   std::optional<ParsedEvent> event = scan_event_json(payload, &arena);
//   if (!event) event = parse_event_json(payload, &arena, error);  // the general parser
//   if (event->request_context_text) use(*event->request_context_text);  // as written, on one line
#pragma once

#include <optional>
#include <string_view>

#include <boost/json/storage_ptr.hpp>

#include "event_json.h"

namespace snapbus::lambda {

// parse_event_json's answer for `payload` (its value built in `storage`, its views into `payload`),
// with request_context_text set when requestContext is written on one line; nullopt when declined.
std::optional<ParsedEvent> scan_event_json(std::string_view payload, boost::json::storage_ptr storage);

}  // namespace snapbus::lambda
