// libFuzzer target for the Function URL codec, both ways: the bytes as an HTTP request the front
// door accepted become a version 2.0 event (function_url_event), and the same bytes as a function's
// result become an HTTP reply (function_url_reply).
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target function_url_fuzz
//   build/fuzz/lambda/function_url_fuzz -max_total_time=60 lambda/fuzz/corpus/function_url
//
// Beyond "no crash": every event is a JSON object, and a refused result is nullopt, never a throw.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include "snapbus/function_url.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)snapbus::lambda::function_url_reply(bytes);

  // Only what Beast parses reaches the codec in the emulator; refusing the rest is Beast's job.
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& request = parser.get();
  const std::string event =
      snapbus::lambda::function_url_event(request.base(), request.body(), {.source_ip = "203.0.113.7"});
  if (!boost::json::parse(event, ec).is_object() || ec) std::abort();
  return 0;
}
