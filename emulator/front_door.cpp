#include "front_door.h"

#include <fmt/format.h>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>

#include "snapbus/base64.h"
#include "snapbus/function_url.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/request_id.h"
#include "snapbus/streaming_response.h"

namespace snapbus::emulator {
namespace {

using namespace lambda;  // the protocol's names, the Function URL codec, the streamed response
using net::HttpError;
using net::HttpExchange;
namespace http = boost::beast::http;

asio::awaitable<void> send_reply(HttpExchange& ex, HttpReply reply) {
  const std::string content_type(reply.headers[http::field::content_type]);
  reply.headers.erase(http::field::content_type);
  co_await ex.respond(reply.status, std::move(reply.body), content_type, &reply.headers);
}

// What a Function URL answers, with 502, for a function error (awslabs/aws-lambda-cpp issue 200).
constexpr std::string_view kFunctionUrlErrorBody = "Internal Server Error";

asio::awaitable<void> send_complete(HttpExchange& ex, const Invocation& inv, bool raw) {
  if (!inv.error_type.empty()) {
    http::fields headers;
    if (raw) {
      // The Invoke API answers 200 and flags the function error in a header.
      headers.set("X-Amz-Function-Error", "Unhandled");
      co_await ex.respond(http::status::ok, inv.error_body, kContentTypeJson, &headers);
    } else {
      // A Function URL tells its caller no more than Lambda's does: the error itself is in the log.
      headers.set("x-amzn-ErrorType", inv.error_type);
      co_await ex.respond(http::status::bad_gateway, std::string(kFunctionUrlErrorBody), "text/plain; charset=utf-8",
                          &headers);
    }
    co_return;
  }
  if (raw) {
    // (No conditional operator inside co_await: GCC 12 destroys such temporaries twice.)
    std::string content_type = inv.content_type;
    if (content_type.empty()) content_type = kContentTypeJson;
    co_await ex.respond(http::status::ok, inv.data, content_type);
    co_return;
  }
  if (auto reply = function_url_reply(inv.data)) {
    co_await send_reply(ex, std::move(*reply));
  } else {
    co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                              "the function returned a malformed Function URL response");
  }
}

HttpError payload_too_large() {
  return {http::status::payload_too_large, "RequestEntityTooLarge",
          fmt::format("Request must be smaller than {} bytes for the InvokeFunction operation", kInvokePayloadLimit)};
}

// The Invoke API's X-Amz-Client-Context is base64; the runtime receives the JSON it encodes.
std::string decoded_client_context(std::string_view header) {
  if (header.empty()) return {};
  std::optional<std::string> json = decode_base64(header);
  boost::system::error_code ec;
  if (json) {
    const boost::json::value value = boost::json::parse(*json, ec);
    if (!ec && value.is_object()) return std::move(*json);
  }
  throw HttpError(http::status::bad_request, "InvalidRequestContentException",
                  "Client context must be a valid Base64-encoded JSON object.");
}

}  // namespace

asio::awaitable<void> serve_front_door(Environment* const& current, HttpExchange& ex) {
  // Every answer, errors included, names its request id, as Lambda's do: a response can be matched to its log lines.
  InvocationRequest request{.request_id = new_request_id(), .trace_id = std::string(ex.header("X-Amzn-Trace-Id"))};
  ex.add_response_header("X-Amzn-RequestId", request.request_id);
  std::string_view target = ex.request().target();
  const bool raw = target.substr(0, target.find('?')) == kRiePath;
  if (raw && ex.request().method() != http::verb::post) {
    throw HttpError(http::status::method_not_allowed, "MethodNotAllowed", "the invoke path expects POST");
  }
  std::string body;
  try {
    body = co_await ex.read_body(kInvokePayloadLimit);
  } catch (const HttpError& e) {
    if (e.status() == http::status::payload_too_large) throw payload_too_large();
    throw;
  }
  if (!raw) {
    request.payload = function_url_event(ex.request(), body, ex.remote_address(), std::chrono::system_clock::now());
    // Lambda limits the event it builds, base64 and headers included, not the body it was given.
    if (request.payload.size() > kInvokePayloadLimit) throw payload_too_large();
  } else if (body.empty()) {
    request.payload = "{}";
  } else {
    request.payload = body;
  }
  // The Invoke API's client context header; the Cognito identity one lets tests exercise that header too.
  if (raw) {
    request.client_context = decoded_client_context(ex.header("X-Amz-Client-Context"));
    request.cognito_identity = std::string(ex.header("X-Amz-Cognito-Identity"));
    // Tenant isolation mode has no Function URLs: only the Invoke API names a tenant.
    request.tenant_id = std::string(ex.header("X-Amz-Tenant-Id"));
  }
  Environment& env = *current;
  if (env.queue_full()) {
    throw HttpError(http::status::too_many_requests, "TooManyRequestsException", "Rate Exceeded.");
  }
  auto inv = env.submit(std::move(request));
  // Until something is to be written, a caller that hangs up takes its queued invocation with it
  // (from the environment current then: a fresh one may have taken over the queue).
  ex.watch_peer_close([&current, inv] { current->caller_gone(inv); });

  bool head_sent = false;
  for (;;) {
    if (inv->mode == Invocation::Mode::streaming && !head_sent) {
      const bool integration = !raw && boost::iequals(inv->content_type, kContentTypeHttpIntegration);
      if (!integration) {
        if (inv->complete && !inv->error_type.empty() && inv->data.empty()) {
          co_await send_complete(ex, *inv, raw);
          co_return;
        }
        http::fields headers;
        headers.set(http::field::content_type, inv->content_type);
        co_await ex.begin_chunked(http::status::ok, headers);
        head_sent = true;
      } else if (auto end = inv->data.find(kPreludeSeparator); end != std::string::npos) {
        auto reply = parse_prelude(std::string_view(inv->data).substr(0, end));
        inv->data.erase(0, end + kPreludeSeparator.size());
        if (!reply) {
          co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                                    "the streamed response does not start with a valid JSON prelude");
          co_return;
        }
        co_await ex.begin_chunked(reply->status, reply->headers);
        head_sent = true;
      } else if (inv->complete) {
        if (inv->error_type.empty()) {
          co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                                    "the streamed response ended before the prelude's 8 NUL bytes");
        } else {
          co_await send_complete(ex, *inv, raw);
        }
        co_return;
      }
    }
    if (head_sent) {
      if (!inv->data.empty()) {
        std::string piece;
        piece.swap(inv->data);
        co_await ex.write_chunk(piece);
        continue;
      }
      if (inv->complete) {
        if (inv->error_type.empty()) {
          co_await ex.end_chunked();
        } else if (raw) {
          const http::fields trailers = streamed_error_trailers(inv->error_type, inv->error_body);
          co_await ex.end_chunked(&trailers);
        } else {
          // A Function URL client has no trailers: an unterminated body is how it learns of the failure.
          ex.close_after();
        }
        co_return;
      }
    } else if (inv->complete && inv->mode != Invocation::Mode::streaming) {
      co_await send_complete(ex, *inv, raw);
      co_return;
    }
    co_await inv->wait_change();
    ex.stop_watching();
  }
}

}  // namespace snapbus::emulator
