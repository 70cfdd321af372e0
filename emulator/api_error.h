// The answer an Environment gives a Runtime or Extensions API call it refuses: the HTTP status, the
// Lambda error type and a sentence. The API front ends send it as a Lambda error body.
//
//   if (auto error = dispatch.apply(RuntimeCall::next)) co_await respond_api_error(ex, *error);
#pragma once

#include <string>

#include <boost/beast/http/status.hpp>

namespace snapbus::emulator {

struct ApiError {
  boost::beast::http::status status;
  std::string type;
  std::string message;
};

}  // namespace snapbus::emulator
