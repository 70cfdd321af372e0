#include "snapbus/extension_client.h"

#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "api_call.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::lambda {
namespace {

std::string extension_target(std::string_view rest) { return fmt::format("{}{}", kExtensionApiPrefix, rest); }

std::string string_field(const boost::json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::int64_t integer_field(const boost::json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
  return 0;
}

CallError malformed(std::string_view call, std::string_view what) {
  return CallError{
      .code = CallErrc::unexpected_answer, .http_status = kStatusOk, .message = fmt::format("{}: {}", call, what)};
}

}  // namespace

ExtensionClient::ExtensionClient(asio::any_io_executor executor, net::HostPort runtime_api, net::ClientOptions options)
    : http_(std::move(executor), std::move(runtime_api), options) {}

asio::awaitable<CallResult<ExtensionRegistration>> ExtensionClient::register_extension(
    std::string name, std::vector<ExtensionEventType> events) {
  net::Request request{http::verb::post, extension_target(kExtensionRegisterPath), 11};
  const std::string call = call_name(request.base());
  request.set(kHeaderExtensionName, header_value(name));
  request.set(http::field::content_type, "application/json");
  boost::json::array names;
  for (auto event : events) names.emplace_back(event == ExtensionEventType::invoke ? kEventInvoke : kEventShutdown);
  request.body() = boost::json::serialize(boost::json::object{{"events", std::move(names)}});
  auto answer = co_await call_api(http_, std::move(request), kStatusOk);
  if (!answer) co_return answer.error();
  ExtensionRegistration registration;
  registration.identifier = std::string((*answer)[kHeaderExtensionIdentifier]);
  if (registration.identifier.empty()) {
    co_return malformed(call, fmt::format("the answer has no {}", kHeaderExtensionIdentifier));
  }
  boost::system::error_code parse_error;
  const auto body = boost::json::parse(answer->body(), parse_error);
  if (!parse_error && body.is_object()) {
    registration.function_name = string_field(body.as_object(), "functionName");
    registration.function_version = string_field(body.as_object(), "functionVersion");
    registration.handler = string_field(body.as_object(), "handler");
  }
  identifier_ = registration.identifier;
  co_return registration;
}

asio::awaitable<CallResult<ExtensionEvent>> ExtensionClient::next() {
  net::Request request{http::verb::get, extension_target(kExtensionNextPath), 11};
  const std::string call = call_name(request.base());
  if (auto registered = require_registered(call); !registered) co_return registered.error();
  request.set(kHeaderExtensionIdentifier, identifier_);
  auto answer = co_await call_api(http_, std::move(request), kStatusOk, {.no_io_timeout = true});
  if (!answer) co_return answer.error();
  boost::system::error_code parse_error;
  const auto body = boost::json::parse(answer->body(), parse_error);
  if (parse_error || !body.is_object()) co_return malformed(call, "the event is not a JSON object");
  const auto& object = body.as_object();
  ExtensionEvent event;
  const std::string type = string_field(object, "eventType");
  if (type == kEventInvoke) {
    event.type = ExtensionEventType::invoke;
  } else if (type == kEventShutdown) {
    event.type = ExtensionEventType::shutdown;
  } else {
    co_return malformed(call, fmt::format("unknown eventType '{}'", type));
  }
  event.event_id = std::string((*answer)[kHeaderExtensionEventIdentifier]);
  event.deadline_ms = integer_field(object, "deadlineMs");
  event.request_id = string_field(object, "requestId");
  event.invoked_function_arn = string_field(object, "invokedFunctionArn");
  if (const auto* tracing = object.if_contains("tracing"); tracing != nullptr && tracing->is_object()) {
    event.trace_id = string_field(tracing->as_object(), "value");
  }
  event.shutdown_reason = string_field(object, "shutdownReason");
  event.json = std::move(answer->body());
  co_return event;
}

asio::awaitable<CallResult<void>> ExtensionClient::init_error(FunctionError error) {
  co_return co_await post_error(kExtensionInitErrorPath, error);
}

asio::awaitable<CallResult<void>> ExtensionClient::exit_error(FunctionError error) {
  co_return co_await post_error(kExtensionExitErrorPath, error);
}

asio::awaitable<CallResult<void>> ExtensionClient::post_error(std::string_view action, const FunctionError& error) {
  net::Request request{http::verb::post, extension_target(action), 11};
  if (auto registered = require_registered(call_name(request.base())); !registered) co_return registered.error();
  request.set(kHeaderExtensionIdentifier, identifier_);
  request.set(kHeaderExtensionErrorType, header_value(error.type));
  request.set(http::field::content_type, "application/json");
  request.body() = function_error_json(error);
  auto answer = co_await call_api(http_, std::move(request), kStatusAccepted);
  if (!answer) co_return answer.error();
  co_return CallResult<void>{};
}

CallResult<void> ExtensionClient::require_registered(std::string_view call) const {
  if (!identifier_.empty()) return {};
  return CallError{.code = CallErrc::invalid_argument,
                   .message = fmt::format("{}: register_extension() has not succeeded yet", call)};
}

}  // namespace snapbus::lambda
