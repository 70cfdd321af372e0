#include "front_door.h"

#include <boost/algorithm/string/predicate.hpp>

#include "snapbus/function_url.h"
#include "snapbus/lambda_protocol.h"
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

asio::awaitable<void> send_complete(HttpExchange& ex, const Invocation& inv, bool raw) {
  if (!inv.error_type.empty()) {
    http::fields headers;
    if (raw) {
      // The Invoke API answers 200 and flags the function error in a header.
      headers.set("X-Amz-Function-Error", "Unhandled");
      co_await ex.respond(http::status::ok, inv.error_body, kContentTypeJson, &headers);
    } else {
      headers.set("x-amzn-ErrorType", inv.error_type);
      co_await ex.respond(http::status::bad_gateway, inv.error_body, kContentTypeJson, &headers);
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

}  // namespace

asio::awaitable<void> serve_front_door(Environment& env, HttpExchange& ex) {
  std::string_view target = ex.request().target();
  const bool raw = target.substr(0, target.find('?')) == kRiePath;
  if (raw && ex.request().method() != http::verb::post) {
    throw HttpError(http::status::method_not_allowed, "MethodNotAllowed", "the invoke path expects POST");
  }
  const std::string body = co_await ex.read_body(kInvokePayloadLimit);
  std::string payload;
  if (!raw) {
    payload = function_url_event(ex.request(), body, ex.remote_address(), std::chrono::system_clock::now());
  } else if (body.empty()) {
    payload = "{}";
  } else {
    payload = body;
  }
  // The Invoke API's client context header; the Cognito identity one lets tests exercise that header too.
  std::string client_context;
  std::string cognito_identity;
  if (raw) {
    client_context = std::string(ex.header("X-Amz-Client-Context"));
    cognito_identity = std::string(ex.header("X-Amz-Cognito-Identity"));
  }
  auto inv = env.submit(std::move(payload), std::move(client_context), std::move(cognito_identity));

  bool head_sent = false;
  for (;;) {
    if (inv->mode == Invocation::Mode::kStreaming && !head_sent) {
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
    } else if (inv->complete && inv->mode != Invocation::Mode::kStreaming) {
      co_await send_complete(ex, *inv, raw);
      co_return;
    }
    co_await inv->wait_change();
  }
}

}  // namespace snapbus::emulator
