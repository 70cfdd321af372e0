#include "api_call.h"

#include "snapbus/field_name.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::lambda {

std::string call_name(std::string_view method, std::string_view target) {
  std::string name;
  name.reserve(method.size() + 1 + target.size());
  name.append(method).append(" ").append(target);
  return name;
}

std::string call_name(const http::request_header<>& header) {
  return call_name(header.method_string(), header.target());
}

std::string header_value(std::string_view text) {
  std::string safe(text);
  for (char& c : safe) {
    if (!net::is_field_value_char(c)) c = ' ';
  }
  return safe;
}

CallResult<net::Response> checked_answer(std::string_view call, net::NetResult<net::Response> answer,
                                         unsigned expected_status) {
  if (!answer) return call_error_from_transport(call, answer.error());
  // Where the API answers 202, any 2xx is taken, as aws-lambda-cpp takes it: only the refusals
  // (4xx) and the API's own failures (5xx) are errors.
  const bool accepted = expected_status == kStatusAccepted && answer->result_int() / 100 == 2;
  if (answer->result_int() != expected_status && !accepted) {
    return call_error_from_answer(call, answer->result_int(), answer->body());
  }
  return std::move(*answer);
}

asio::awaitable<CallResult<net::Response>> call_api(net::HttpClient& client, net::Request request,
                                                    unsigned expected_status, net::RequestOptions options) {
  const std::string call = call_name(request.base());
  co_return checked_answer(call, co_await client.request(std::move(request), options), expected_status);
}

asio::awaitable<CallResult<net::Response>> call_api(net::HttpClient& client, net::WireRequest request,
                                                    std::string_view call, unsigned expected_status,
                                                    net::RequestOptions options) {
  co_return checked_answer(call, co_await client.request(std::move(request), options), expected_status);
}

}  // namespace snapbus::lambda
