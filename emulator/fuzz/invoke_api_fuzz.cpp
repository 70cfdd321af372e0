// libFuzzer target for the front door's Invoke API reading (invoke_api.h): a request target and an
// X-Amz-Invocation-Type header, then the function name they resolve against.
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target invoke_api_fuzz
//   build/fuzz/emulator/invoke_api_fuzz -max_total_time=60 emulator/fuzz/corpus/invoke_api
//
// Input: the target, then a NUL and the header. Beyond "no crash": a refusal is only an
// net::HttpError with a 4xx status and a body that is JSON; a call that resolves names the configured
// function (or the RIE's `function`), and in an ARN the configured region.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "invoke_api.h"

namespace {

void check_refusal(const snapbus::net::HttpError& e) {
  const auto status = static_cast<unsigned>(e.status());
  if (status < 400 || status > 499 || e.type().empty()) std::abort();
  boost::system::error_code ec;
  const auto body = boost::json::parse(snapbus::emulator::invoke_error_body(e.status(), e.type(), e.what()), ec);
  if (ec || !body.is_object()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view target = input.substr(0, nul);
  const std::string_view invocation_type = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  snapbus::emulator::Config config;
  config.function_name = "orders";
  config.function_version = "7";
  try {
    const auto call = snapbus::emulator::read_invoke_call(target, invocation_type);
    if (!call) return 0;
    (void)snapbus::emulator::resolve_invoked_function(*call, config);
    const std::string_view name = call->function_name;
    if (name.find("orders") == std::string_view::npos && name.find("function") == std::string_view::npos) std::abort();
    if (name.starts_with("arn:") && name.find(":us-east-1:") == std::string_view::npos) std::abort();
  } catch (const snapbus::net::HttpError& e) {
    check_refusal(e);
  }
  return 0;
}
