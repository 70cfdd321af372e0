// libFuzzer target: any payload the Runtime API hands the adapter goes through request_from_event
// and, for what it accepts, back through result_from_response. It may only throw EventError, the
// request's target must be one a request line carries (absolute, printable ASCII, its dot segments
// resolved for good), x-amzn-request-context must be JSON on one line, and the result must be JSON
// Lambda can parse, whatever bytes the body and the headers hold. json_text's scanners also get the
// raw bytes, JSON or not: whatever member_text answers lies inside them. parse_event_json must agree
// with json::parse on every input (testing/parsed_event_oracle.h): the same error, or the same value
// less the members decoding does not read and the headers it took as a list; where it places
// requestContext, member_text must find it; and decoding json::parse's whole value must give the same
// request or the same refusal. So must scan_event_json, for what it does not decline (it is what
// request_from_event tries first), and requestContext's text it keeps must be the value as written.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "event_json.h"
#include "event_scan.h"
#include "json_text.h"
#include "snapbus/http_event.h"
#include "testing/parsed_event_oracle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  if (const auto member = snapbus::lambda::member_text(payload, "requestContext")) {
    if (member->data() < payload.data() || member->data() + member->size() > payload.data() + payload.size()) {
      std::abort();
    }
  }
  if (snapbus::lambda::compact_text(payload).size() > payload.size()) std::abort();
  {
    boost::system::error_code event_error;
    const snapbus::lambda::ParsedEvent parsed = snapbus::lambda::parse_event_json(payload, {}, event_error);
    if (snapbus::lambda::testing::parsed_event_mismatch(payload, parsed, event_error)) std::abort();
    if (const auto scanned = snapbus::lambda::scan_event_json(payload, {})) {
      if (snapbus::lambda::testing::parsed_event_mismatch(payload, *scanned, {})) std::abort();
    }
    if (!event_error && snapbus::lambda::testing::decoded_event_mismatch(payload, {.remove_base_path = "/api"})) {
      std::abort();
    }
  }
  try {
    const auto request = snapbus::lambda::request_from_event(payload, {.remove_base_path = "/api"});
    const std::string_view target = request.target;
    if (target.empty() || target.front() != '/') std::abort();
    for (const char c : target) {
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) std::abort();
    }
    const std::string_view path = target.substr(0, target.find('?'));
    if (snapbus::lambda::path_with_dot_segments_resolved(path) != path) std::abort();
    boost::system::error_code error;
    if (!request.request_context.empty()) {
      if (request.request_context.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) std::abort();
      (void)boost::json::parse(request.request_context, error);
      if (error) std::abort();
    }
    snapbus::lambda::HttpAppResponse response{.status = 200, .headers = request.headers, .body = request.body};
    // The app's own bytes too: the decoded body again as a header value.
    response.headers.emplace_back("x-echo", request.body.substr(0, 64));
    const std::string result = snapbus::lambda::result_from_response(request.shape, response);
    (void)boost::json::parse(result, error);
    if (error) std::abort();  // Boost.JSON rejects invalid UTF-8, as Lambda does
  } catch (const snapbus::lambda::EventError&) {
    // Refusing malformed input with a sentence is the expected outcome.
  }
  return 0;
}
