#include "snapbus/call_result.h"

#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <boost/throw_exception.hpp>

#include "snapbus/error_body.h"

namespace snapbus::lambda {
namespace {

// An API's error answers are short JSON objects; anything else is quoted only this far.
constexpr std::size_t kQuotedBodyLimit = 200;

CallErrc errc_of_status(unsigned status) {
  switch (status) {
    case 400: return CallErrc::invalid_request;
    case 403: return CallErrc::invalid_state;
    case 404: return CallErrc::not_found;
    case 413: return CallErrc::payload_too_large;
    default: return status >= 500 && status < 600 ? CallErrc::server_error : CallErrc::unexpected_answer;
  }
}

}  // namespace

std::string_view call_errc_name(CallErrc code) noexcept {
  switch (code) {
    case CallErrc::transport: return "transport";
    case CallErrc::invalid_request: return "invalid_request";
    case CallErrc::invalid_state: return "invalid_state";
    case CallErrc::not_found: return "not_found";
    case CallErrc::payload_too_large: return "payload_too_large";
    case CallErrc::server_error: return "server_error";
    case CallErrc::unexpected_answer: return "unexpected_answer";
    case CallErrc::invalid_argument: return "invalid_argument";
  }
  return "unknown";
}

void throw_exception_from_error(const CallError& error, const boost::source_location& location) {
  boost::throw_exception(std::runtime_error(error.message), location);
}

CallError call_error_from_answer(std::string_view call, unsigned http_status, std::string_view body) {
  CallError error{.code = errc_of_status(http_status), .http_status = http_status};
  const std::optional<std::string> type = json_error_field(body, "errorType");
  const std::optional<std::string> message = json_error_field(body, "errorMessage");
  error.error_type = type.value_or("");
  // A body that is no Lambda error body is quoted, cut short: an HTML error page from a proxy.
  const std::string detail = type || message ? message.value_or("") : std::string(body.substr(0, kQuotedBodyLimit));
  error.message = fmt::format("{}: {}", call, http_status);
  if (!error.error_type.empty()) error.message += " " + error.error_type;
  if (!detail.empty()) error.message += ": " + detail;
  return error;
}

CallError call_error_from_transport(std::string_view call, const net::NetError& failure) {
  return CallError{.code = CallErrc::transport,
                   .message = fmt::format("{}: {}", call, failure.message),
                   .transport_error = failure.code};
}

}  // namespace snapbus::lambda
