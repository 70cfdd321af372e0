// libFuzzer target for the prelude of a streamed http-integration response (parse_prelude): what the
// runtime writes before the separator reaches the front door's client as status, headers and cookies.
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target streaming_prelude_fuzz
//   build/fuzz/lambda/streaming_prelude_fuzz -max_total_time=60 lambda/fuzz/corpus/streaming_prelude
//
// Beyond "no crash": a prelude is refused with nullopt, and an accepted one has a real HTTP status.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "snapbus/streaming_response.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view prelude(reinterpret_cast<const char*>(data), size);
  const auto head = snapbus::lambda::parse_prelude(prelude);
  if (!head) return 0;
  const auto status = static_cast<unsigned>(head->status);
  if (status < 100 || status > 599) std::abort();
  return 0;
}
