// libFuzzer target: any payload the Runtime API hands the adapter goes through request_from_event
// and, for what it accepts, back through result_from_response. It may only throw EventError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "snapbus/http_event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  try {
    const auto request = snapbus::lambda::request_from_event(payload, {.remove_base_path = "/api"});
    snapbus::lambda::HttpAppResponse response{.status = 200, .headers = request.headers, .body = request.body};
    (void)snapbus::lambda::result_from_response(request.shape, response);
  } catch (const snapbus::lambda::EventError&) {
    // Refusing malformed input with a sentence is the expected outcome.
  }
  return 0;
}
