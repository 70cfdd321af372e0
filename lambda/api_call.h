// One request to the Runtime or Extensions API, its answer checked against the status the call expects:
// shared by RuntimeClient and ExtensionClient.
//
//   auto answer = co_await call_api(client, std::move(request), 202);
//   if (!answer) co_return answer.error();  // CallError naming "POST /2018-06-01/runtime/init/error"
#pragma once

#include <string>
#include <string_view>

#include "snapbus/call_result.h"
#include "snapbus/http_client.h"

namespace snapbus::lambda {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// "POST /2018-06-01/runtime/init/error": how errors name the call.
std::string call_name(std::string_view method, std::string_view target);
std::string call_name(const http::request_header<>& header);

// `text` made safe for a header or trailer value: control characters become spaces, since a CR or LF
// would end the field early and let the caller's text forge fields of its own.
std::string header_value(std::string_view text);

// The answer when the exchange worked and its status is `expected_status`, else the CallError.
CallResult<net::Response> checked_answer(std::string_view call, net::NetResult<net::Response> answer,
                                         unsigned expected_status);

asio::awaitable<CallResult<net::Response>> call_api(net::HttpClient& client, net::Request request,
                                                    unsigned expected_status, net::RequestOptions options = {});
// The same for a request in its wire form, which `call` names ("GET /2018-06-01/runtime/invocation/next").
asio::awaitable<CallResult<net::Response>> call_api(net::HttpClient& client, net::WireRequest request,
                                                    std::string_view call, unsigned expected_status,
                                                    net::RequestOptions options = {});

}  // namespace snapbus::lambda
