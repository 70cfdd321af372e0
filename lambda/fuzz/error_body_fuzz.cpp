// libFuzzer target for the error bodies a runtime or extension posts (error_body.h).
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target error_body_fuzz
//   build/fuzz/lambda/error_body_fuzz -max_total_time=60 lambda/fuzz/corpus/error_body
//
// Beyond "no crash": what error_without_cause gives the caller is an object of at most the three
// documented fields, never the errorCause, and reading it again gives it back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/json.hpp>

#include "snapbus/error_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)snapbus::lambda::json_error_field(body, "errorType");
  (void)snapbus::lambda::error_message_of(body);
  if (const auto shown = snapbus::lambda::error_without_cause(body)) {
    const auto value = boost::json::parse(*shown);
    if (!value.is_object() || value.as_object().size() > 3 || value.as_object().contains("errorCause")) std::abort();
    if (snapbus::lambda::error_without_cause(*shown) != shown) std::abort();
  }
  return 0;
}
