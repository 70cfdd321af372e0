#include "snapbus/streaming_response.h"

#include <algorithm>
#include <iterator>
#include <string>

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>

#include "snapbus/base64.h"
#include "snapbus/json_string.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/utf8_text.h"

namespace snapbus::lambda {

// Written by hand, in the order and with the escapes json::serialize gave a json::object, which
// cost every streamed answer's first byte a few thousand instructions.
std::string prelude_json(const http::response_header<>& head) {
  using boost::beast::iequals;
  const auto is_cookie = [](std::string_view name) { return iequals(name, "set-cookie"); };
  std::string out;
  out.reserve(256);
  JsonWriter json(out);
  json.open('{');
  json.key(JsonKey("statusCode"));
  json.raw(std::to_string(head.result_int()));
  json.key(JsonKey("headers"));
  json.open('{');
  for (auto field = head.begin(); field != head.end(); ++field) {
    const std::string_view name = field->name_string();
    if (is_cookie(name) || iequals(name, "transfer-encoding")) continue;
    const auto same_name = [name](const auto& other) { return other.name_string() == name; };
    // The first line of a name carries the values of every line after it.
    if (std::any_of(head.begin(), field, same_name)) continue;
    std::string value = utf8_text(field->value());
    for (auto later = std::next(field); later != head.end(); ++later) {
      if (same_name(*later)) value.append(", ").append(utf8_text(later->value()));
    }
    json.member(name, value);
  }
  if (head.find(http::field::content_type) == head.end()) {
    json.member(JsonKey("content-type"), kContentTypeOctetStream);
  }
  json.close('}');
  json.key(JsonKey("cookies"));
  json.open('[');
  for (const auto& field : head) {
    if (is_cookie(field.name_string())) json.string(utf8_text(field.value()));
  }
  json.close(']');
  json.close('}');
  return out;
}

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
