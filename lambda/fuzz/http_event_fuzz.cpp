// libFuzzer target: any payload the Runtime API hands the adapter goes through request_from_event
// and, for what it accepts, back through result_from_response. It may only throw EventError, and
// the result must be JSON Lambda can parse, whatever bytes the body and the headers hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "snapbus/http_event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  try {
    const auto request = snapbus::lambda::request_from_event(payload, {.remove_base_path = "/api"});
    snapbus::lambda::HttpAppResponse response{.status = 200, .headers = request.headers, .body = request.body};
    // The app's own bytes too: the decoded body again as a header value.
    response.headers.emplace_back("x-echo", request.body.substr(0, 64));
    const std::string result = snapbus::lambda::result_from_response(request.shape, response);
    boost::system::error_code error;
    (void)boost::json::parse(result, error);
    if (error) std::abort();  // Boost.JSON rejects invalid UTF-8, as Lambda does
  } catch (const snapbus::lambda::EventError&) {
    // Refusing malformed input with a sentence is the expected outcome.
  }
  return 0;
}
