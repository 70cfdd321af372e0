#include "app_forwarder.h"

#include <exception>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>

#include "readiness.h"
#include "response_compression.h"
#include "snapbus/connection_fields.h"
#include "snapbus/field_name.h"
#include "snapbus/http_event.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/streaming_response.h"
#include "snapbus/utf8_text.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using boost::beast::iequals;

constexpr std::string_view kHeaderRequestContext = "x-amzn-request-context";
constexpr std::string_view kHeaderLambdaContext = "x-amzn-lambda-context";
constexpr std::string_view kHeaderAppTraceId = "x-amzn-trace-id";
constexpr std::string_view kHeaderAppTenantId = "x-amz-tenant-id";
constexpr std::string_view kHeaderAuthorization = "authorization";

// Headers about the event's own hop, not the request: the body is framed anew (Content-Length), the
// connection to the app is the adapter's, kept alive, and the body goes whole (no trailers).
bool is_hop_header(std::string_view name) {
  return net::is_connection_field(name) || boost::beast::iequals(name, "trailer");
}

lambda::FunctionError function_error(std::string_view type, std::string message) {
  return lambda::FunctionError{.type = std::string(type), .message = std::move(message)};
}

// The app's answer as the event codecs take it: its first `header_fields` fields, which are the
// header's. Beast appends a chunked body's trailers after them, and a trailer is no header (RFC 9110
// 6.5.1; LWA drops them too). Transfer-Encoding described the hop from the app, as LWA drops it too.
lambda::HttpAppResponse app_response(net::Response&& answer, std::size_t header_fields) {
  lambda::HttpAppResponse response;
  response.status = answer.result_int();
  response.headers.reserve(header_fields);
  for (const auto& field : answer) {
    if (header_fields-- == 0) break;
    if (boost::beast::iequals(field.name_string(), "transfer-encoding")) continue;
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(answer.body());
  return response;
}

// Whether the app's answer to a non-HTTP event was itself JSON null (or empty), rather than
// something the result had to replace with null.
bool answers_null(const lambda::HttpAppResponse& response) {
  if (response.body.empty()) return true;
  boost::system::error_code error;
  const json::value parsed = json::parse(response.body, error);
  return !error && parsed.is_null() && !lambda::is_binary_body(response.headers, response.body);
}

// LWA's message for a status listed in AWS_LWA_ERROR_STATUS_CODES.
std::string error_status_message(unsigned status, std::string_view body) {
  return json::serialize(json::object{{"statusCode", status}, {"body", utf8_text(body)}});
}

}  // namespace

AppForwarder::AppForwarder(asio::any_io_executor executor, const AdapterConfig& config, ForwarderLog log)
    : AppForwarder(std::move(executor), config, function_settings_from_environment(), std::move(log)) {}

AppForwarder::AppForwarder(asio::any_io_executor executor, const AdapterConfig& config,
                           const FunctionSettings& settings, ForwarderLog log)
    : config_(config),
      lambda_context_(settings),
      log_(std::move(log)),
      app_(std::move(executor), net::HostPort{config.app_host, std::to_string(config.app_port)},
           net::ClientOptions{.idle_timeout = kAppIdleTimeout,
                              .unreplayable_idle_timeout = kAppUnreplayableIdleTimeout,
                              .body_limit = kAppAnswerLimit}),
      app_authority_(app_.server().authority()),
      app_ready_(!config.async_init) {}

void AppForwarder::log(std::string_view line) const {
  if (log_) log_(line);
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::fail_invocation(lambda::RuntimeClient& runtime,
                                                                        std::string request_id,
                                                                        lambda::FunctionError error) {
  log(fmt::format("invocation {} failed: {}: {}", request_id, error.type, error.message));
  co_return co_await runtime.post_error(std::move(request_id), std::move(error));
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::serve(const lambda::InvocationRequest& event,
                                                              lambda::RuntimeClient& runtime) {
  // GCC's coroutine frame holds every local, and every co_await's result and arguments, none sharing
  // room; Asio recycles frames of up to 1,020 bytes only, and this one (2,872 bytes) and
  // answer_buffered's (1,688) cost a malloc and a free each per invocation. So the work that does not
  // wait (the event made into a request, each failure's message, the choice of answer) is done in
  // plain functions, off the frame: now 904 and 728 bytes.
  if (!app_ready_) co_await wait_for_app();
  auto forwarding = forwarding_of(event);
  if (!forwarding) co_return co_await refuse(event, std::move(forwarding), runtime);
  // No I/O timeout: the invocation's deadline is the limit, and Lambda enforces it (an app may read a
  // large body slowly, or think long before its first byte).
  auto opened = co_await app_.open(std::move(forwarding->to_app), {.no_io_timeout = true});
  co_return co_await answer(event, forwarding->request, std::move(opened), runtime);
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::refuse(
    const lambda::InvocationRequest& event, boost::system::result<Forwarding, lambda::FunctionError>&& refused,
    lambda::RuntimeClient& runtime) {
  return fail_invocation(runtime, event.request_id, std::move(refused).error());
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::answer(const lambda::InvocationRequest& event,
                                                               const lambda::HttpEventRequest& request,
                                                               net::NetResult<net::ResponseStream>&& opened,
                                                               lambda::RuntimeClient& runtime) {
  if (!opened) {
    return fail_invocation(
        runtime, event.request_id,
        function_error(kErrorAppConnection, fmt::format("the app did not answer: {}", opened.error().message)));
  }
  if (config_.error_status_codes && config_.error_status_codes->contains(opened->status())) {
    return fail_for_status(event, std::move(*opened), runtime);
  }
  if (config_.invoke_mode == InvokeMode::response_stream) return answer_streamed(event, std::move(*opened), runtime);
  return answer_buffered(event, request, std::move(*opened), runtime);
}

asio::awaitable<void> AppForwarder::wait_for_app() {
  const ReadinessCheck check{.host = config_.app_host,
                             .port = config_.readiness_port,
                             .path = config_.readiness_path,
                             .protocol = config_.readiness_protocol,
                             .healthy = config_.healthy_status};
  co_await wait_until_ready(check, std::nullopt, [this](std::string_view line) { log(line); });
  app_ready_ = true;
}

boost::system::result<AppForwarder::Forwarding, lambda::FunctionError> AppForwarder::forwarding_of(
    const lambda::InvocationRequest& event) const {
  try {
    Forwarding forwarding;
    forwarding.request = lambda::request_from_event(
        event.payload, {.remove_base_path = config_.remove_base_path, .pass_through_path = config_.pass_through_path});
    forwarding.to_app = build_request(event, forwarding.request);
    return forwarding;
  } catch (const std::exception& bad) {
    return function_error(kErrorInvalidEvent, fmt::format("cannot forward the event: {}", bad.what()));
  }
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::fail_for_status(const lambda::InvocationRequest& event,
                                                                        net::ResponseStream answer,
                                                                        lambda::RuntimeClient& runtime) {
  const unsigned status = answer.status();
  auto whole = co_await std::move(answer).read_all();
  const std::string body = whole ? whole->body() : std::string();
  co_return co_await fail_invocation(runtime, event.request_id,
                                     function_error(kErrorAppStatus, error_status_message(status, body)));
}

net::WireRequest AppForwarder::build_request(const lambda::InvocationRequest& event,
                                             const lambda::HttpEventRequest& request) const {
  // The method goes on the request line as it is: one that is not a token (a space, CR or LF in an
  // event's httpMethod) would forge the request line, or a second request on a kept-alive connection.
  if (!net::is_field_name(request.method)) {
    throw lambda::EventError("the event's HTTP method is not a method name (an RFC 9110 token)");
  }
  // A value with a byte a field value cannot hold (a control byte but tab: CR or LF would break the
  // request's framing, and Node.js refuses the whole request for any of them) is not sent, nor a name
  // that is not an HTTP token: JSON can carry them, HTTP cannot.
  const auto forwarded = [](const std::string& name, const std::string& value) {
    return !is_hop_header(name) && net::is_field_name(name) && net::is_field_value(value);
  };
  // AWS_LWA_AUTHORIZATION_SOURCE: that header's value becomes the Authorization, and the header goes,
  // as in LWA (an Authorization the event also had is replaced).
  const std::string* authorization = nullptr;
  if (!config_.authorization_source.empty()) {
    for (const auto& [name, value] : request.headers) {
      if (iequals(name, config_.authorization_source) && forwarded(name, value)) {
        authorization = &value;
        break;
      }
    }
    if (authorization == nullptr) {
      log(fmt::format("header \"{}\" (AWS_LWA_AUTHORIZATION_SOURCE) is not in the request",
                      config_.authorization_source));
    }
  }
  // A non-HTTP event has no requestContext: LWA sends JSON null.
  const std::string_view request_context =
      request.request_context.empty() ? std::string_view("null") : std::string_view(request.request_context);
  const std::string lambda_context = lambda_context_.json(event);
  // Lambda's trace header for this invocation, for every source, as LWA's lambda_http sets it: the
  // app's X-Ray or OpenTelemetry segments then join the function's trace (API Gateway's own header,
  // which this replaces, has no Lambda parent segment).
  const bool sends_trace = !event.trace_id.empty() && net::is_field_value(event.trace_id);
  // A function in tenant isolation mode: the caller's tenant, as LWA passes it on.
  const bool sends_tenant = !event.tenant_id.empty() && net::is_field_value(event.tenant_id);

  std::size_t field_bytes = request_context.size() + lambda_context.size() + event.trace_id.size() +
                            event.tenant_id.size() + request.domain_name.size() + 128;
  for (const auto& [name, value] : request.headers) field_bytes += name.size() + value.size() + 4;
  net::WireRequestWriter out(request.method, request.target, field_bytes);
  for (const auto& [name, value] : request.headers) {
    if (!forwarded(name, value)) continue;
    // The adapter's own fields, added below, replace the event's.
    if (iequals(name, kHeaderRequestContext) || iequals(name, kHeaderLambdaContext)) continue;
    if ((sends_trace && iequals(name, kHeaderAppTraceId)) || (sends_tenant && iequals(name, kHeaderAppTenantId))) {
      continue;
    }
    if (authorization != nullptr &&
        (iequals(name, config_.authorization_source) || iequals(name, kHeaderAuthorization))) {
      continue;
    }
    out.add(name, value);
  }
  if (authorization != nullptr) out.add(kHeaderAuthorization, *authorization);
  out.add(kHeaderRequestContext, request_context);
  out.add(kHeaderLambdaContext, lambda_context);
  if (sends_trace) out.add(kHeaderAppTraceId, event.trace_id);
  if (sends_tenant) out.add(kHeaderAppTenantId, event.tenant_id);
  if (!out.has_host() && !request.domain_name.empty() && net::is_field_value(request.domain_name)) {
    out.add("Host", request.domain_name);
  }
  return std::move(out).finish(request.body, app_authority_);  // throws std::invalid_argument for a TRACE with a body
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::answer_buffered(const lambda::InvocationRequest& event,
                                                                        const lambda::HttpEventRequest& request,
                                                                        net::ResponseStream answer,
                                                                        lambda::RuntimeClient& runtime) {
  const auto header_fields = static_cast<std::size_t>(std::distance(answer.header().begin(), answer.header().end()));
  auto whole = co_await std::move(answer).read_all();
  co_return co_await post_result(event, buffered_result(event, request, std::move(whole), header_fields), runtime);
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::post_result(
    const lambda::InvocationRequest& event, boost::system::result<std::string, lambda::FunctionError> result,
    lambda::RuntimeClient& runtime) {
  if (!result) return fail_invocation(runtime, event.request_id, std::move(result).error());
  return runtime.post_response(event.request_id, std::move(*result));
}

boost::system::result<std::string, lambda::FunctionError> AppForwarder::buffered_result(
    const lambda::InvocationRequest& event, const lambda::HttpEventRequest& request,
    net::NetResult<net::Response>&& whole, std::size_t header_fields) const {
  // Past the body limit the answer is not held whole, so it cannot be compressed or sent: to the
  // caller it is an answer too large (Lambda takes 6 MB buffered), not one that broke off.
  if (!whole && whole.error().code == http::error::body_limit) {
    return function_error(kErrorResponseTooLarge,
                          fmt::format("the app's answer is over {} bytes; Lambda takes at most {} bytes buffered (use "
                                      "AWS_LWA_INVOKE_MODE=response_stream for more)",
                                      kAppAnswerLimit, lambda::kBufferedResponseLimit));
  }
  if (!whole) {
    return function_error(kErrorAppConnection, fmt::format("the app's answer broke off: {}", whole.error().message));
  }
  lambda::HttpAppResponse response = app_response(std::move(*whole), header_fields);
  if (config_.enable_compression) {
    compress_response(lambda::joined_header(request.headers, "accept-encoding"), response);
  }
  std::string result = lambda::result_from_response(request.shape, response);
  if (request.shape.source == lambda::EventSource::other && result == "null" && !answers_null(response)) {
    const std::string* type = lambda::find_header(response.headers, "content-type");
    log(
        fmt::format("invocation {}: the app's answer to the non-HTTP event is not JSON text ({} bytes, {}); "
                    "the result is null, as with Lambda Web Adapter",
                    event.request_id, response.body.size(),
                    type != nullptr ? fmt::format("content-type {}", *type) : std::string("no content-type")));
  }
  if (result.size() > lambda::kBufferedResponseLimit) {
    return function_error(kErrorResponseTooLarge,
                          fmt::format("the response is {} bytes; Lambda takes at most {} bytes buffered (use "
                                      "AWS_LWA_INVOKE_MODE=response_stream for more)",
                                      result.size(), lambda::kBufferedResponseLimit));
  }
  return {boost::system::in_place_value, std::move(result)};
}

asio::awaitable<lambda::CallResult<void>> AppForwarder::answer_streamed(const lambda::InvocationRequest& event,
                                                                        net::ResponseStream answer,
                                                                        lambda::RuntimeClient& runtime) {
  std::string head = lambda::prelude_json(answer.header());
  head.append(lambda::kPreludeSeparator);
  // Body bytes that came with the app's header go in the prelude's write: the Runtime API, and the
  // caller behind it, then wake once for both. Nothing waits for them: they are already here.
  auto arrived = answer.arrived_piece();
  if (arrived) head.append(*arrived);
  auto stream = co_await runtime.begin_streaming(event.request_id, std::string(lambda::kContentTypeHttpIntegration),
                                                 std::move(head));
  if (!stream) co_return stream.error();
  auto broke_off = [&](const net::NetError& cause) {
    lambda::FunctionError error =
        function_error(kErrorStream, fmt::format("the app's streamed answer broke off: {}", cause.message));
    log(fmt::format("invocation {} failed mid-stream: {}: {}", event.request_id, error.type, error.message));
    return stream->fail(std::move(error));
  };
  if (!arrived) co_return co_await broke_off(arrived.error());
  // Each piece goes on as it came, and the next is read only once it is sent: nothing is gathered, and
  // a slow client slows the app down instead of filling the adapter's memory.
  auto relayed = co_await stream->relay(answer);
  if (!relayed) co_return relayed.error();
  if (!*relayed) co_return co_await broke_off(relayed->error());
  co_return co_await stream->finish();
}

}  // namespace snapbus::adapter
