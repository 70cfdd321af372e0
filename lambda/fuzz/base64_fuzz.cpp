// libFuzzer target for base64 (event bodies, results, the streaming error trailer).
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target base64_fuzz
//   build/fuzz/lambda/base64_fuzz -max_total_time=60 lambda/fuzz/corpus/base64
//
// Beyond "no crash": decode_base64 accepts only canonical text, so whatever it accepts encodes back
// to exactly the same text; and any bytes survive encode then decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "snapbus/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (const auto decoded = snapbus::lambda::decode_base64(bytes)) {
    if (snapbus::lambda::encode_base64(*decoded) != bytes) std::abort();
  }
  const auto back = snapbus::lambda::decode_base64(snapbus::lambda::encode_base64(bytes));
  if (!back || *back != bytes) std::abort();
  return 0;
}
