#include "front_door.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "event_stream.h"
#include "invoke_api.h"
#include "snapbus/base64.h"
#include "snapbus/error_body.h"
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

// An Invoke API error as AWS SDKs read it: the type in x-amzn-ErrorType, the message in the body.
asio::awaitable<void> respond_invoke_error(HttpExchange& ex, http::status status, const std::string& type,
                                           std::string_view message) {
  http::fields headers;
  headers.set(kHeaderErrorType, type);
  co_await ex.respond(status, invoke_error_body(status, type, message), kContentTypeJson, &headers);
}

// What a Function URL answers, with 502, for a function error (awslabs/aws-lambda-cpp issue 200).
constexpr std::string_view kFunctionUrlErrorBody = "Internal Server Error";

asio::awaitable<void> send_complete(HttpExchange& ex, const Invocation& inv, bool raw) {
  if (raw && inv.service_error) {
    co_await respond_invoke_error(ex, static_cast<http::status>(inv.service_error->status), inv.service_error->type,
                                  inv.service_error->message);
    co_return;
  }
  if (!inv.error_type.empty()) {
    http::fields headers;
    if (raw) {
      // The Invoke API answers 200 and flags the function error in a header.
      headers.set(kHeaderFunctionError, "Unhandled");
      co_await ex.respond(http::status::ok, inv.error_body, kContentTypeJson, &headers);
    } else {
      // A Function URL tells its caller no more than Lambda's does: the error itself is in the log.
      headers.set(kHeaderErrorType, inv.error_type);
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

HttpError payload_too_large(std::uint64_t limit, std::string_view type) {
  return {http::status::payload_too_large, std::string(type),
          fmt::format("Request must be smaller than {} bytes for the InvokeFunction operation", limit)};
}

// The request's body, at most `limit` bytes: past it, Lambda's 413 with `too_large_type`.
asio::awaitable<std::string> read_payload(HttpExchange& ex, std::uint64_t limit, std::string_view too_large_type) {
  std::optional<HttpError> refused;
  try {
    co_return co_await ex.read_body(limit);
  } catch (const HttpError& e) {
    if (e.status() != http::status::payload_too_large) throw;
    refused = payload_too_large(limit, too_large_type);
  }
  throw *refused;
}

// The Invoke API's X-Amz-Client-Context is base64; the runtime receives the JSON it encodes.
std::string decoded_client_context(std::string_view header) {
  if (header.empty()) return {};
  // Lambda documents the limit, not its error; the type is the one it gives any client context it refuses.
  if (header.size() > kClientContextLimit) {
    throw HttpError(http::status::bad_request, "InvalidRequestContentException",
                    fmt::format("Client context must be at most {} bytes of base64; it is {} bytes.",
                                kClientContextLimit, header.size()));
  }
  std::optional<std::string> json = decode_base64(header);
  boost::system::error_code ec;
  if (json) {
    const boost::json::value value = boost::json::parse(*json, ec);
    if (!ec && value.is_object()) return std::move(*json);
  }
  throw HttpError(http::status::bad_request, "InvalidRequestContentException",
                  "Client context must be a valid Base64-encoded JSON object.");
}

// Awaits `relay` of inv's answer. Once it ends, answered or not (the caller went away mid-stream),
// the rest of a streamed answer is neither kept nor waited for.
asio::awaitable<void> relay_to_caller(std::shared_ptr<Invocation> inv, asio::awaitable<void> relay) {
  const auto caller_left = [&inv] {
    inv->caller_waits = false;
    inv->notify();
  };
  try {
    co_await std::move(relay);
  } catch (...) {
    caller_left();
    throw;
  }
  caller_left();
}

std::shared_ptr<Invocation> submit(Environment* const& current, HttpExchange& ex, InvocationRequest request) {
  Environment& env = *current;
  if (env.queue_full(request.caller_waits)) {
    throw HttpError(http::status::too_many_requests, "TooManyRequestsException", "Rate Exceeded.");
  }
  auto inv = env.submit(std::move(request));
  // Until something is to be written, a caller that hangs up takes its queued invocation with it
  // (from the environment current then: a fresh one may have taken over the queue).
  if (inv->caller_waits) ex.watch_peer_close([&current, inv] { current->caller_gone(inv); });
  return inv;
}

// The part of a streamed answer that has come and not yet been written; the runtime's upload, which
// waits while too much is held, may go on.
std::string take_data(Invocation& inv) {
  std::string piece;
  piece.swap(inv.data);
  inv.notify();
  return piece;
}

// Writes the function's answer as it comes: whole, or chunk by chunk once it streams. `raw` (the
// Invoke API) passes it on as it is; a Function URL shapes the HTTP answer from it.
asio::awaitable<void> relay_answer(HttpExchange& ex, const std::shared_ptr<Invocation>& inv, bool raw) {
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
        // What has come of the body goes in the head's write, so the caller wakes once for both.
        std::string piece = take_data(*inv);
        co_await ex.begin_chunked(http::status::ok, headers, piece);
        head_sent = true;
      } else if (auto end = inv->data.find(kPreludeSeparator); end != std::string::npos) {
        auto reply = parse_prelude(std::string_view(inv->data).substr(0, end));
        inv->data.erase(0, end + kPreludeSeparator.size());
        if (!reply) {
          co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                                    "the streamed response does not start with a valid JSON prelude");
          co_return;
        }
        std::string piece = take_data(*inv);
        co_await ex.begin_chunked(reply->status, reply->headers, piece);
        head_sent = true;
      } else if (inv->data.size() >= kStreamBacklogLimit) {
        // The runtime's upload waits for the backlog to be taken, which needs the prelude's end.
        co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                                  "the streamed response has no prelude's 8 NUL bytes in its first MiB");
        co_return;
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
        std::string piece = take_data(*inv);
        co_await ex.write_chunk(piece);
        continue;
      }
      if (inv->complete) {
        if (inv->error_type.empty()) {
          co_await ex.end_chunked();
        } else if (raw) {
          const net::Trailers trailers = streamed_error_trailers(inv->error_type, inv->error_body);
          co_await ex.end_chunked(trailers);
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

// InvokeWithResponseStream's answer: 200 at once, each piece of the answer as PayloadChunk events as
// it comes, buffered or streamed, then InvokeComplete, which carries a function error or a platform
// error (a timeout, a crash) instead of an HTTP status, and with `log_tail` the log's last 4 KB once
// the invocation has ended.
asio::awaitable<void> relay_as_event_stream(HttpExchange& ex, const std::shared_ptr<Invocation>& inv, bool log_tail) {
  bool head_sent = false;
  for (;;) {
    const bool answering = inv->mode == Invocation::Mode::streaming || inv->complete;
    if (!head_sent && inv->complete && inv->service_error) {
      co_await send_complete(ex, *inv, true);  // the service's error: no event stream begins
      co_return;
    }
    if (answering && (!head_sent || !inv->data.empty())) {
      // What piled up while the caller read slowly goes out in events SDK decoders accept (16 MiB at
      // most). The first of them leaves with the head, in one write: the caller wakes once.
      const std::string pending = inv->data.empty() ? std::string() : take_data(*inv);
      std::size_t at = 0;
      if (!head_sent) {
        http::fields headers;
        headers.set(http::field::content_type, kContentTypeEventStream);
        std::string first_event;
        if (!pending.empty())
          first_event = payload_chunk_event(std::string_view(pending).substr(0, kPayloadChunkLimit));
        co_await ex.begin_chunked(http::status::ok, headers, first_event);
        head_sent = true;
        at = std::min(pending.size(), kPayloadChunkLimit);
      }
      for (; at < pending.size(); at += kPayloadChunkLimit) {
        co_await ex.write_chunk(payload_chunk_event(std::string_view(pending).substr(at, kPayloadChunkLimit)));
      }
      continue;
    }
    if (inv->complete && (!log_tail || inv->log_closed)) {
      std::string log_result;
      if (log_tail) log_result = encode_base64(inv->log_tail);
      co_await ex.write_chunk(invoke_complete_event(inv->error_type, inv->error_body, log_result));
      co_await ex.end_chunked();
      co_return;
    }
    co_await inv->wait_change();
    ex.stop_watching();
  }
}

// An Invoke answered whole, as Lambda's Invoke answers a streaming function too: a streamed answer is
// gathered (so the runtime's upload never waits), a failure mid-stream is a function error like any
// other, and one past the buffered limit is Function.ResponseSizeTooLarge (the rest is read and
// dropped). With `log_tail` (LogType Tail) the answer waits for the invocation's END and REPORT and
// carries the log's last 4 KB in X-Amz-Log-Result.
asio::awaitable<void> relay_whole(HttpExchange& ex, const std::shared_ptr<Invocation>& inv, bool log_tail) {
  std::string streamed;
  bool too_large = false;
  for (;;) {
    if (inv->mode == Invocation::Mode::streaming && !inv->data.empty()) {
      too_large = too_large || streamed.size() + inv->data.size() > kBufferedResponseLimit;
      if (too_large) {
        std::string().swap(streamed);
      } else {
        streamed.append(inv->data);
      }
      inv->data.clear();
      inv->notify();  // the runtime's upload may go on
    }
    if (inv->complete && (!log_tail || inv->log_closed)) break;
    co_await inv->wait_change();
    ex.stop_watching();
  }
  if (log_tail && !inv->log_tail.empty()) ex.add_response_header(kHeaderLogResult, encode_base64(inv->log_tail));
  if (too_large && !inv->service_error) {
    http::fields headers;
    headers.set(kHeaderFunctionError, "Unhandled");
    co_await ex.respond(http::status::ok, json_error(kResponseTooLargeType, response_too_large_message()),
                        kContentTypeJson, &headers);
    co_return;
  }
  if (inv->mode == Invocation::Mode::streaming) inv->data = std::move(streamed);
  co_await send_complete(ex, *inv, true);
}

// Lambda's asynchronous queue runs a failed Event again, with the same request id: after
// event_retry_delay, then twice that, at most event_retries times. `current` is the emulator's
// pointer to its environment of the moment: a retry goes to a fresh one after a crash.
asio::awaitable<void> retry_failed_event(Environment* const& current, InvocationRequest request,
                                         std::shared_ptr<Invocation> inv) {
  const unsigned retries = current->config().event_retries;
  const std::chrono::milliseconds delay = current->config().event_retry_delay;
  for (unsigned retry = 1;; ++retry) {
    while (!inv->complete) co_await inv->wait_change();
    if (inv->error_type.empty() || inv->error_type == kShuttingDownType) co_return;
    if (retry > retries) {
      diagnostic(
          fmt::format("Event {} failed ({}) {} times: dropped, as Lambda drops it when the function has no "
                      "on-failure destination or dead-letter queue",
                      request.request_id, inv->error_type, retries + 1));
      co_return;
    }
    const auto wait = delay * retry;
    diagnostic(fmt::format("Event {} failed ({}): retry {} of {} in {:.3g} s, as Lambda retries it", request.request_id,
                           inv->error_type, retry, retries, std::chrono::duration<double>(wait).count()));
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    co_await timer.async_wait(asio::use_awaitable);
    if (current->queue_full(false)) {
      diagnostic(fmt::format("Event {}: its retry is dropped, the queue is full", request.request_id));
      co_return;
    }
    inv = current->submit(request);
  }
}

// Lambda's refusal of a payload that is not JSON (any JSON value: a string or a number is an event too).
void require_json(std::string_view payload) {
  boost::system::error_code ec;
  boost::json::parse(payload, ec);
  if (ec) {
    throw HttpError(http::status::bad_request, "InvalidRequestContentException",
                    fmt::format("Could not parse request body into json: {}", ec.message()));
  }
}

asio::awaitable<void> serve_invoke(Environment* const& current, HttpExchange& ex, const InvokeCall& call,
                                   InvocationRequest request) {
  ex.require_method(http::verb::post);
  InvokedFunction invoked = resolve_invoked_function(call, current->config());
  const bool asynchronous = call.type == InvocationType::event;
  std::string body = co_await read_payload(ex, asynchronous ? kAsyncInvokePayloadLimit : kInvokePayloadLimit,
                                           "RequestEntityTooLargeException");
  if (call.signed_by_sdk && !body.empty()) require_json(body);
  request.payload = body.empty() ? "{}" : std::move(body);
  request.qualifier = std::move(invoked.qualifier);
  request.client_context = decoded_client_context(ex.header("X-Amz-Client-Context"));
  // The Cognito identity header lets tests exercise that runtime header too.
  request.cognito_identity = std::string(ex.header("X-Amz-Cognito-Identity"));
  // Tenant isolation mode has no Function URLs: only the Invoke API names a tenant.
  request.tenant_id = std::string(ex.header("X-Amz-Tenant-Id"));
  if (call.type == InvocationType::dry_run) {
    co_await ex.respond(http::status::no_content, {}, {});
    co_return;
  }
  if (asynchronous) {
    // Lambda queues the event and answers at once; the result goes nowhere (the log shows the run).
    request.caller_waits = false;
    auto inv = submit(current, ex, request);
    co_await ex.respond(http::status::accepted, {}, {});
    if (current->config().event_retries > 0) {
      asio::co_spawn(co_await asio::this_coro::executor,
                     retry_failed_event(current, std::move(request), std::move(inv)), asio::detached);
    }
    co_return;
  }
  ex.add_response_header(kHeaderExecutedVersion, invoked.executed_version);
  auto inv = submit(current, ex, std::move(request));
  if (call.response_stream) {
    co_await relay_to_caller(inv, relay_as_event_stream(ex, inv, call.log_tail));
  } else if (call.log_tail || call.signed_by_sdk) {
    co_await relay_to_caller(inv, relay_whole(ex, inv, call.log_tail));
  } else {
    co_await relay_to_caller(inv, relay_answer(ex, inv, true));
  }
}

asio::awaitable<void> serve_function_url(Environment* const& current, HttpExchange& ex, InvocationRequest request) {
  const std::string body = co_await read_payload(ex, kInvokePayloadLimit, "RequestEntityTooLarge");
  // The emulator's endpoint is plain HTTP, on the port the Host header names.
  request.payload = function_url_event(
      ex.request(), body, {.request_id = request.request_id, .source_ip = ex.remote_address(), .scheme = "http"});
  // Lambda limits the event it builds, base64 and headers included, not the body it was given.
  if (request.payload.size() > kInvokePayloadLimit)
    throw payload_too_large(kInvokePayloadLimit, "RequestEntityTooLarge");
  auto inv = submit(current, ex, std::move(request));
  co_await relay_to_caller(inv, relay_answer(ex, inv, false));
}

}  // namespace

asio::awaitable<void> serve_front_door(Environment* const& current, HttpExchange& ex) {
  // Every answer, errors included, names its request id, as Lambda's do: a response can be matched to its log lines.
  InvocationRequest request{.request_id = new_request_id(), .trace_id = std::string(ex.header("X-Amzn-Trace-Id"))};
  ex.add_response_header("X-Amzn-RequestId", request.request_id);
  // On the Invoke API's paths every refusal (404, 405, 413, 429, a bad client context) is in its
  // shape; a Function URL's errors go to the server, which writes them in Lambda's runtime shape.
  std::optional<InvokeCall> call;
  std::optional<HttpError> refused;
  const bool signed_by_sdk = is_signed_by_sdk(ex.header("Authorization"));
  try {
    call = read_invoke_call(ex.request().target(), ex.header(kHeaderInvocationType), ex.header(kHeaderLogType));
    if (call) call->signed_by_sdk = signed_by_sdk;
  } catch (const HttpError& e) {
    refused = e;  // an Invoke API path with a bad X-Amz-Invocation-Type or X-Amz-Log-Type
  }
  if (!call && !refused && signed_by_sdk && is_lambda_api_path(ex.request().target())) {
    // An SDK's other operation (GetFunctionConfiguration, InvokeAsync, ...) must not run the function.
    const std::string_view target = ex.request().target();
    refused =
        HttpError(http::status::bad_request, std::string(kUnknownOperationType),
                  fmt::format("snapbus emulate serves Invoke and InvokeWithResponseStream of the Lambda API, "
                              "not {} {}: nothing ran",
                              std::string_view(ex.request().method_string()), target.substr(0, target.find('?'))));
  }
  if (!call && !refused) {
    co_await serve_function_url(current, ex, std::move(request));
    co_return;
  }
  if (call) {
    try {
      co_await serve_invoke(current, ex, *call, std::move(request));
    } catch (const HttpError& e) {
      if (ex.responded()) throw;
      refused = e;
    }
  }
  if (refused) co_await respond_invoke_error(ex, refused->status(), refused->type(), refused->what());
}

}  // namespace snapbus::emulator
