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

http::fields streamed_error_trailers(std::string_view type, std::string_view body) {
  http::fields trailers;
  trailers.set(kHeaderFunctionErrorType, type);
  trailers.set(kHeaderFunctionErrorBody, encode_base64(body));
  return trailers;
}

std::optional<StreamedError> streamed_error(const http::fields& final_fields) {
  const auto type = final_fields.find(kHeaderFunctionErrorType);
  if (type == final_fields.end()) return std::nullopt;
  StreamedError error{.type = std::string(type->value()), .body = {}};
  if (auto encoded = final_fields.find(kHeaderFunctionErrorBody); encoded != final_fields.end()) {
    error.body = decode_base64(encoded->value()).value_or(std::string(encoded->value()));
  }
  return error;
}

}  // namespace snapbus::lambda
