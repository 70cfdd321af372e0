#include "snapbus/streaming_response.h"

#include <boost/json.hpp>

#include "snapbus/base64.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::lambda {

std::optional<HttpReply> parse_prelude(std::string_view prelude) {
  boost::system::error_code ec;
  auto value = boost::json::parse(prelude, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return function_url_reply_head(value.as_object());
}

net::Trailers streamed_error_trailers(std::string_view type, std::string_view body) {
  return {{std::string(kHeaderFunctionErrorType), std::string(type)},
          {std::string(kHeaderFunctionErrorBody), encode_base64(body)}};
}

std::optional<StreamedError> streamed_error(const net::Trailers& trailers) {
  const std::string* type = net::find_trailer(trailers, kHeaderFunctionErrorType);
  if (type == nullptr) return std::nullopt;
  StreamedError error{.type = *type, .body = {}};
  if (const std::string* encoded = net::find_trailer(trailers, kHeaderFunctionErrorBody)) {
    error.body = decode_base64(*encoded).value_or(*encoded);
  }
  return error;
}

}  // namespace snapbus::lambda
