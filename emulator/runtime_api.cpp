#include "runtime_api.h"

#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "extensions_api.h"
#include "snapbus/error_body.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/streaming_response.h"

namespace snapbus::emulator {
namespace {

using namespace lambda;  // the protocol's names: paths, headers, limits
using net::HttpError;
using net::HttpExchange;
namespace http = boost::beast::http;

std::string error_type_of(const HttpExchange& ex, const std::string& body, const char* fallback) {
  if (auto header = ex.header(kHeaderFunctionErrorType); !header.empty()) return std::string(header);
  return json_error_field(body, "errorType").value_or(fallback);
}

// The type Lambda records for a runtime's init/error or restore/error (INIT_REPORT's or
// RESTORE_REPORT's "Error Type"): the header's when it holds Runtime.X or Function.X (X a capital
// and at least one more letter), else Runtime.Unknown, or Function.Unknown for a Function. one that
// is not well formed. The body is never read for it. As RAPID's GetValidRuntimeOrFunctionErrorType
// (internal/lambda/fatalerror/fatalerror.go in the RIE's source), whose pattern is unanchored.
std::string platform_error_type(std::string_view header) {
  for (const std::string_view prefix : {"Runtime.", "Function."}) {
    for (std::size_t at = header.find(prefix); at != std::string_view::npos; at = header.find(prefix, at + 1)) {
      const std::string_view rest = header.substr(at + prefix.size());
      const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
      if (rest.size() >= 2 && rest[0] >= 'A' && rest[0] <= 'Z' && letter(rest[1])) return std::string(header);
    }
  }
  return header.starts_with("Function.") ? "Function.Unknown" : "Runtime.Unknown";
}

asio::awaitable<void> handle_next(Environment& env, HttpExchange& ex) {
  ex.require_method(http::verb::get);
  // A runtime client that gives up on the long poll must not take the next event with it.
  auto poll = std::make_shared<NextPoll>();
  ex.watch_peer_close([&env, poll] { env.runtime_next_abandoned(poll); });
  auto result = co_await env.runtime_next(poll);
  ex.stop_watching();
  if (auto* error = std::get_if<ApiError>(&result)) {
    co_await respond_api_error(ex, *error);
    co_return;
  }
  const auto inv = std::get<std::shared_ptr<Invocation>>(result);
  if (!inv) throw boost::system::system_error(asio::error::connection_aborted);
  http::fields headers;
  headers.set(kHeaderRequestId, inv->request_id);
  headers.set(
      kHeaderDeadlineMs,
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(inv->deadline.time_since_epoch()).count()));
  headers.set(kHeaderInvokedFunctionArn, env.invoked_function_arn(inv->qualifier));
  headers.set(kHeaderTraceId, inv->trace_id);
  if (!inv->client_context.empty()) headers.set(kHeaderClientContext, inv->client_context);
  if (!inv->cognito_identity.empty()) headers.set(kHeaderCognitoIdentity, inv->cognito_identity);
  if (!inv->tenant_id.empty()) headers.set(kHeaderTenantId, inv->tenant_id);
  bool delivered = true;
  try {
    co_await ex.respond(http::status::ok, inv->payload, kContentTypeJson, &headers);
  } catch (const boost::system::system_error&) {
    delivered = false;
  }
  if (!delivered) {
    // (No co_await in a handler: the event goes back to the queue, the connection is dropped.)
    env.runtime_next_abandoned(poll);
    throw boost::system::system_error(asio::error::connection_aborted);
  }
}

// The error type of an answer whose body could not be read: too large has its own Lambda type.
std::string read_failure_type(const HttpError& e) {
  return e.status() == http::status::payload_too_large ? std::string(kResponseTooLargeType) : e.type();
}

// Ends the invocation with `type` when the runtime's answer broke off (the caller rethrows to drop
// the connection) or cannot be taken (the caller answers the call and closes the connection).
void fail_answer(Environment& env, const std::shared_ptr<Invocation>& inv, const std::string& type,
                 const std::string& message) {
  inv->error_type = type;
  inv->error_body = json_error(type, message);
  env.answer_finished(inv);
}

// Reads a buffered answer's body, a response or an error, into `body`. One past the limit fails the
// invocation at once, but its upload is read to the end (and dropped): the runtime gets its 413
// answer, as from Lambda, instead of a broken pipe, and lives on, with the invocation ended instead
// of open (its next invocation/next would be an InvalidStateTransition). True when it was past.
asio::awaitable<bool> read_buffered_answer(Environment& env, HttpExchange& ex, const std::shared_ptr<Invocation>& inv,
                                           std::string& body) {
  bool over_limit = false;
  try {
    co_await ex.read_body_pieces(kStreamedResponseLimit, [&](std::string_view piece) {
      if (over_limit) return;
      if (body.size() + piece.size() <= kBufferedResponseLimit) {
        body.append(piece);
        return;
      }
      over_limit = true;
      std::string().swap(body);
      fail_answer(env, inv, std::string(kResponseTooLargeType), response_too_large_message());
    });
  } catch (const HttpError& e) {
    if (!over_limit) fail_answer(env, inv, read_failure_type(e), e.what());
    throw;
  } catch (const boost::system::system_error&) {
    if (!over_limit) {
      fail_answer(env, inv, "Runtime.TruncatedResponse", "the runtime closed the connection before the answer ended");
    }
    throw;
  }
  if (over_limit) {
    co_await ex.respond_error(http::status::payload_too_large, kResponseTooLargeType, response_too_large_message());
  }
  co_return over_limit;
}

asio::awaitable<void> handle_response(Environment& env, HttpExchange& ex, const std::string& request_id) {
  ex.require_method(http::verb::post);
  const std::string_view mode = ex.header(kHeaderResponseMode);
  const bool streaming = mode == kResponseModeStreaming;
  auto begun = env.runtime_begin_answer(request_id, RuntimeCall::response);
  if (auto* error = std::get_if<ApiError>(&begun)) {
    co_await respond_api_error(ex, *error);
    co_return;
  }
  auto inv = std::get<std::shared_ptr<Invocation>>(begun);
  // The one mode a runtime may name is "streaming", exactly; any other value fails the invocation
  // and the call, as the RIE's handler does, with the body unread.
  if (!mode.empty() && !streaming) {
    fail_answer(
        env, inv, "Runtime.InvalidResponseModeHeader",
        fmt::format("the runtime sent {}: {}, which is not {}", kHeaderResponseMode, mode, kResponseModeStreaming));
    ex.close_after();
    co_await ex.respond_error(http::status::bad_request, "InvalidFunctionResponseMode",
                              "Invalid function response mode");
    co_return;
  }
  const std::string content_type(ex.header("Content-Type"));
  if (!streaming) {
    if (co_await read_buffered_answer(env, ex, inv, inv->data)) co_return;
    inv->mode = Invocation::Mode::buffered;
    inv->content_type = content_type;
    env.answer_finished(inv);
    co_await respond_accepted(ex);
    co_return;
  }
  inv->mode = Invocation::Mode::streaming;
  inv->content_type = content_type;
  if (content_type.empty()) inv->content_type = kContentTypeOctetStream;
  env.answer_updated(inv);
  net::Trailers trailers;
  try {
    trailers =
        co_await ex.relay_body_pieces(kStreamedResponseLimit, [&](std::string_view piece) -> asio::awaitable<void> {
          if (!inv->caller_waits || inv->complete) co_return;  // nobody reads it any more
          inv->data.append(piece);
          env.answer_updated(inv);
          // A caller that reads slowly slows the function's upload down, as through Lambda, instead of
          // piling the stream up here: the front door wakes this once it has taken the backlog.
          while (inv->caller_waits && !inv->complete && inv->data.size() >= kStreamBacklogLimit) {
            co_await inv->wait_change();
          }
        });
  } catch (const HttpError& e) {
    fail_answer(env, inv, read_failure_type(e), e.what());
    throw;
  } catch (const boost::system::system_error&) {
    fail_answer(env, inv, "Runtime.TruncatedResponse", "the runtime closed the connection before the stream ended");
    throw;
  }
  // A mid-stream failure arrives as trailers after the last chunk.
  if (auto failure = streamed_error(trailers)) {
    inv->error_type = failure->type;
    inv->error_body = failure->body;
    if (failure->body.empty()) inv->error_body = json_error(inv->error_type, "the function failed mid-stream");
  }
  env.answer_finished(inv);
  co_await respond_accepted(ex);
}

asio::awaitable<void> handle_invocation_error(Environment& env, HttpExchange& ex, const std::string& request_id) {
  ex.require_method(http::verb::post);
  auto begun = env.runtime_begin_answer(request_id, RuntimeCall::error);
  if (auto* error = std::get_if<ApiError>(&begun)) {
    co_await respond_api_error(ex, *error);
    co_return;
  }
  auto inv = std::get<std::shared_ptr<Invocation>>(begun);
  // As large as a response may be (an error's message may quote the whole input), and past that the
  // same: the invocation fails and the runtime lives on.
  std::string body;
  if (co_await read_buffered_answer(env, ex, inv, body)) co_return;
  inv->error_type = error_type_of(ex, body, "Unhandled");
  inv->error_body = body;
  if (ex.header("Content-Type") == kContentTypeErrorCause) {
    // The X-Ray cause (paths, the working directory, exceptions) is for the trace, not the caller.
    inv->error_body = error_without_cause(body).value_or(R"("Invalid error body")");
  } else if (body.empty()) {
    inv->error_body = json_error(inv->error_type, "the function reported an error");
  }
  env.answer_finished(inv);
  co_await respond_accepted(ex);
}

}  // namespace

asio::awaitable<void> respond_api_error(HttpExchange& ex, const ApiError& error) {
  co_await ex.respond_error(error.status, error.type, error.message);
}

asio::awaitable<void> respond_accepted(HttpExchange& ex) {
  std::string body(kAcceptedBody);
  co_await ex.respond(http::status::accepted, std::move(body));
}

asio::awaitable<void> serve_runtime_api(Environment& env, HttpExchange& ex) {
  std::string_view target = ex.request().target();
  target = target.substr(0, target.find('?'));
  if (target.starts_with(kExtensionApiPrefix)) {
    co_await serve_extensions_api(env, ex, target.substr(kExtensionApiPrefix.size()));
    co_return;
  }
  if (target == kTelemetryApiPath || target == kLogsApiPath) {
    // Nothing is delivered here. As the RIE answers (and Lambda's Logs API guide documents for local
    // testing): accepted, so an extension that subscribes during Init still starts.
    ex.require_method(http::verb::put);
    co_await ex.read_body(kErrorBodyLimit);
    std::string answer = target == kTelemetryApiPath
                             ? json_error("Telemetry.NotSupported", "Telemetry API is not supported")
                             : json_error("Logs.NotSupported", "Logs API is not supported");
    co_await ex.respond(http::status::accepted, std::move(answer), kContentTypeJson);
    co_return;
  }
  if (target == kRuntimePingPath) {
    ex.require_method(http::verb::get);
    co_await ex.respond(http::status::ok, "pong", "text/plain; charset=utf-8");
    co_return;
  }
  if (!target.starts_with(kRuntimeApiPrefix)) {
    throw HttpError(http::status::not_found, "UnknownPath", fmt::format("no such endpoint: {}", target));
  }
  if (!env.init_begun()) {
    throw HttpError(http::status::forbidden, "InvalidStateTransition",
                    "no runtime runs now: the environment that failed has stopped, and the next invocation "
                    "starts a fresh one");
  }
  const std::string_view path = target.substr(kRuntimeApiPrefix.size());
  // As in the RIE, whose router has these two routes only for a SnapStart function.
  if ((path == kRuntimeRestoreNextPath || path == kRuntimeRestoreErrorPath) && !env.snapstart()) {
    throw HttpError(http::status::not_found, "UnknownPath",
                    fmt::format("no such endpoint without SnapStart: {} (AWS_LAMBDA_INITIALIZATION_TYPE is {})", target,
                                kInitTypeOnDemand));
  }
  if (path == kRuntimeNextPath) {
    co_await handle_next(env, ex);
  } else if (path == kRuntimeRestoreNextPath) {
    ex.require_method(http::verb::get);
    if (auto error = co_await env.runtime_restore_next()) {
      co_await respond_api_error(ex, *error);
    } else {
      co_await ex.respond(http::status::ok, "", "");
    }
  } else if (path == kRuntimeInitErrorPath || path == kRuntimeRestoreErrorPath) {
    ex.require_method(http::verb::post);
    const std::string body = co_await ex.read_body(kErrorBodyLimit);
    const std::string type = platform_error_type(ex.header(kHeaderFunctionErrorType));
    std::optional<ApiError> error;
    if (path == kRuntimeInitErrorPath) {
      error = env.runtime_init_error(type, body);
    } else {
      error = env.runtime_restore_error(type, body);
    }
    if (error) {
      co_await respond_api_error(ex, *error);
    } else {
      co_await respond_accepted(ex);
    }
  } else if (path.starts_with(kRuntimeInvocationPath)) {
    const std::string_view rest = path.substr(kRuntimeInvocationPath.size());
    const auto slash = rest.find('/');
    const std::string request_id(rest.substr(0, slash));
    const std::string_view action = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (action == kRuntimeResponseAction) {
      co_await handle_response(env, ex, request_id);
    } else if (action == kRuntimeErrorAction) {
      co_await handle_invocation_error(env, ex, request_id);
    } else {
      throw HttpError(http::status::not_found, "UnknownPath", fmt::format("no such endpoint: {}", target));
    }
  } else {
    throw HttpError(http::status::not_found, "UnknownPath", fmt::format("no such endpoint: {}", target));
  }
}

}  // namespace snapbus::emulator
