#include "snapbus/runtime_client.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <boost/beast/core/string.hpp>

#include "api_call.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/streaming_response.h"
#include "snapbus/text.h"
#include "snapbus/wire_request.h"

namespace snapbus::lambda {
namespace {

// Paths are joined by hand, not with fmt::format: one is built for every call, and fmt's parse of the
// format string costs several times the join.
std::string runtime_target(std::string_view rest) {
  std::string target;
  target.reserve(kRuntimeApiPrefix.size() + rest.size());
  target.append(kRuntimeApiPrefix).append(rest);
  return target;
}

// A request id goes into the path: anything but URI-unreserved characters could change the call.
bool is_path_segment(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), is_uri_unreserved) && id != "." && id != "..";
}

CallError bad_request_id(std::string_view call, std::string_view id) {
  return CallError{.code = CallErrc::invalid_argument,
                   .message = fmt::format("{}: '{}' is not a request id", call, id)};
}

std::string invocation_target(std::string_view request_id, std::string_view action) {
  std::string target;
  target.reserve(kRuntimeApiPrefix.size() + kRuntimeInvocationPath.size() + request_id.size() + 1 + action.size());
  target.append(kRuntimeApiPrefix).append(kRuntimeInvocationPath).append(request_id).append("/").append(action);
  return target;
}

// The fields `next` takes from the Runtime API's answer, found in one pass: a lookup by name walks
// the whole list each time, and seven of them were 4% of the adapter's instructions per invocation.
// The first of a name sent twice wins, as a lookup would give it.
struct InvocationFields {
  std::optional<std::string_view> request_id, deadline_ms, function_arn, trace_id, client_context, cognito_identity,
      tenant_id;
};

InvocationFields invocation_fields(const http::fields& fields) {
  InvocationFields found;
  const std::array<std::pair<std::string_view, std::optional<std::string_view>*>, 7> wanted = {{
      {kHeaderRequestId, &found.request_id},
      {kHeaderDeadlineMs, &found.deadline_ms},
      {kHeaderInvokedFunctionArn, &found.function_arn},
      {kHeaderTraceId, &found.trace_id},
      {kHeaderClientContext, &found.client_context},
      {kHeaderCognitoIdentity, &found.cognito_identity},
      {kHeaderTenantId, &found.tenant_id},
  }};
  for (const auto& field : fields) {
    const std::string_view name = field.name_string();
    for (const auto& [wanted_name, into] : wanted) {
      if (!into->has_value() && boost::beast::iequals(name, wanted_name)) {
        *into = std::string_view(field.value());
        break;
      }
    }
  }
  return found;
}

// Fills `invocation` from `next`'s answer; the error when the answer is unusable. A plain function, not
// part of next(): a coroutine's frame holds each of its locals, and with these next()'s was 1,008
// bytes, 12 under the 1,020 that Asio recycles (past that, a malloc and a free per invocation); it is
// 912 without them. The invocation is filled in place rather than returned, which would move it once
// more on its way out of next().
std::optional<CallError> fill_invocation(std::string_view call, net::Response&& answer, InvocationRequest& invocation) {
  const InvocationFields fields = invocation_fields(answer);
  invocation.request_id = std::string(fields.request_id.value_or(""));
  if (!is_path_segment(invocation.request_id)) {
    return CallError{.code = CallErrc::unexpected_answer,
                     .http_status = kStatusOk,
                     .message = fmt::format("{}: the answer has no usable {} ('{}')", call, kHeaderRequestId,
                                            invocation.request_id)};
  }
  // The deadline only informs the handler (its context): one missing or malformed is left unknown (0),
  // as .NET's client does, rather than dropping an event the runtime would then never answer.
  const std::string_view deadline = fields.deadline_ms.value_or("");
  const auto [end, parse_error] =
      std::from_chars(deadline.data(), deadline.data() + deadline.size(), invocation.deadline_ms);
  if (parse_error != std::errc{} || end != deadline.data() + deadline.size()) invocation.deadline_ms = 0;
  invocation.function_arn = std::string(fields.function_arn.value_or(""));
  invocation.trace_id = std::string(fields.trace_id.value_or(""));
  invocation.client_context = std::string(fields.client_context.value_or(""));
  invocation.cognito_identity = std::string(fields.cognito_identity.value_or(""));
  invocation.tenant_id = std::string(fields.tenant_id.value_or(""));
  invocation.payload = std::move(answer.body());
  return std::nullopt;
}

}  // namespace

std::chrono::milliseconds InvocationRequest::remaining_time() const {
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return std::chrono::milliseconds(deadline_ms) - now;
}

CallResult<net::HostPort> runtime_api_from_environment() {
  const char* value = std::getenv(std::string(kEnvRuntimeApi).c_str());
  if (value == nullptr || *value == '\0') {
    return CallError{.code = CallErrc::invalid_argument, .message = fmt::format("{} is not set", kEnvRuntimeApi)};
  }
  auto parsed = net::parse_host_port(value);
  if (!parsed) {
    return CallError{.code = CallErrc::invalid_argument,
                     .message = fmt::format("{}: {}", kEnvRuntimeApi, parsed.error().message)};
  }
  return *parsed;
}

StreamedResponse::StreamedResponse(net::ChunkedUpload upload, std::string call)
    : upload_(std::move(upload)), call_(std::move(call)) {}

asio::awaitable<CallResult<void>> StreamedResponse::write(std::string_view piece) {
  auto sent = co_await upload_.write(piece);
  if (!sent) co_return call_error_from_transport(call_, sent.error());
  co_return CallResult<void>{};
}

asio::awaitable<CallResult<net::NetResult<void>>> StreamedResponse::relay(net::ResponseStream& answer) {
  auto end = co_await answer.relay_to(upload_);
  if (!end.write) co_return call_error_from_transport(call_, end.write.error());
  co_return std::move(end.read);
}

asio::awaitable<CallResult<void>> StreamedResponse::finish() {
  const net::Trailers none;
  co_return co_await end(none);
}

asio::awaitable<CallResult<void>> StreamedResponse::fail(FunctionError error) {
  const net::Trailers trailers = streamed_error_trailers(header_value(error.type), function_error_json(error));
  co_return co_await end(trailers);
}

asio::awaitable<CallResult<void>> StreamedResponse::end(const net::Trailers& trailers) {
  auto answer = co_await upload_.finish(trailers);
  if (!answer) co_return call_error_from_transport(call_, answer.error());
  auto checked = checked_answer(call_, co_await std::move(*answer).read_all(), kStatusAccepted);
  if (!checked) co_return checked.error();
  co_return CallResult<void>{};
}

RuntimeClient::RuntimeClient(asio::any_io_executor executor, net::HostPort runtime_api, net::ClientOptions options)
    : authority_(runtime_api.authority()),
      next_request_(net::WireRequestWriter("GET", runtime_target(kRuntimeNextPath), 0).finish({}, authority_)),
      next_call_(call_name("GET", runtime_target(kRuntimeNextPath))),
      http_(std::move(executor), std::move(runtime_api), options) {}

asio::awaitable<CallResult<InvocationRequest>> RuntimeClient::next() {
  auto answer = co_await call_api(http_, next_request_, next_call_, kStatusOk, {.no_io_timeout = true});
  if (!answer) co_return answer.error();
  InvocationRequest invocation;
  if (auto unusable = fill_invocation(next_call_, std::move(*answer), invocation)) co_return std::move(*unusable);
  co_return invocation;
}

asio::awaitable<CallResult<void>> RuntimeClient::post_response(std::string request_id, std::string body,
                                                               std::string content_type) {
  const std::string target = invocation_target(request_id, "response");
  const std::string call = call_name("POST", target);
  if (!is_path_segment(request_id)) co_return bad_request_id(call, request_id);
  // Written as it goes on the wire: a result per invocation, on the path of every answer.
  net::WireRequestWriter request("POST", target, content_type.size());
  request.add("Content-Type", header_value(content_type));
  auto answer = co_await call_api(http_, std::move(request).finish(std::move(body), authority_), call, kStatusAccepted);
  if (!answer) co_return answer.error();
  co_return CallResult<void>{};
}

asio::awaitable<CallResult<StreamedResponse>> RuntimeClient::begin_streaming(std::string request_id,
                                                                             std::string content_type,
                                                                             std::string first_piece) {
  http::request_header<> header;
  header.method(http::verb::post);
  header.target(invocation_target(request_id, "response"));
  std::string call = call_name(header);
  if (!is_path_segment(request_id)) co_return bad_request_id(call, request_id);
  header.set(http::field::content_type, header_value(content_type));
  header.set(kHeaderResponseMode, kResponseModeStreaming);
  header.set(http::field::trailer, kStreamedErrorTrailers);
  // The Runtime API takes the body as fast as the function's caller reads it: a slow reader holds a
  // write back for as long as it likes, as it would without snapbus (the function timeout is the limit).
  auto upload = co_await http_.begin_chunked(std::move(header), {.no_io_timeout = true}, first_piece);
  if (!upload) co_return call_error_from_transport(call, upload.error());
  co_return StreamedResponse(std::move(*upload), std::move(call));
}

asio::awaitable<CallResult<void>> RuntimeClient::post_error(std::string request_id, FunctionError error) {
  if (!is_path_segment(request_id)) {
    co_return bad_request_id(fmt::format("POST {}", invocation_target(request_id, "error")), request_id);
  }
  co_return co_await post_function_error(invocation_target(request_id, "error"), error);
}

asio::awaitable<CallResult<void>> RuntimeClient::init_error(FunctionError error) {
  co_return co_await post_function_error(runtime_target(kRuntimeInitErrorPath), error);
}

asio::awaitable<CallResult<void>> RuntimeClient::restore_next() {
  net::Request request{http::verb::get, runtime_target(kRuntimeRestoreNextPath), 11};
  auto answer = co_await call_api(http_, std::move(request), kStatusOk, {.no_io_timeout = true});
  if (!answer) co_return answer.error();
  http_.drop_all();
  co_return CallResult<void>{};
}

asio::awaitable<CallResult<void>> RuntimeClient::restore_error(FunctionError error) {
  co_return co_await post_function_error(runtime_target(kRuntimeRestoreErrorPath), error);
}

asio::awaitable<CallResult<void>> RuntimeClient::post_function_error(std::string target, const FunctionError& error) {
  net::Request request{http::verb::post, target, 11};
  request.set(kHeaderFunctionErrorType, header_value(error.type));
  request.set(http::field::content_type, "application/json");
  request.body() = function_error_json(error);
  auto answer = co_await call_api(http_, std::move(request), kStatusAccepted);
  if (!answer) co_return answer.error();
  co_return CallResult<void>{};
}

}  // namespace snapbus::lambda
