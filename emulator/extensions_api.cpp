#include "extensions_api.h"

#include <fmt/format.h>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/json.hpp>

#include "runtime_api.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/request_id.h"

namespace snapbus::emulator {
namespace {

using namespace lambda;  // the protocol's names: paths, headers, limits
using net::HttpError;
using net::HttpExchange;
namespace http = boost::beast::http;

std::string identifier_of(const HttpExchange& ex) {
  auto id = ex.header(kHeaderExtensionIdentifier);
  if (id.empty()) {
    throw HttpError(http::status::forbidden, "Extension.MissingExtensionIdentifier",
                    "the Lambda-Extension-Identifier header is required");
  }
  return std::string(id);
}

// What a register body subscribes to. Parsed as the RIE does (Go's encoding/json into {events,
// configurationKeys}), and refused as it refuses, all with 403: a body that is not a JSON object
// (an empty one neither), `events` that is not a list of strings, or configurationKeys, which
// Lambda retired, is InvalidRequestFormat; an event name other than INVOKE or SHUTDOWN is
// Extension.InvalidEventType.
struct Subscription {
  bool invoke = false;
  bool shutdown = false;
};

Subscription parse_register_body(const std::string& body) {
  const auto invalid_format = [](const std::string& message) {
    return HttpError(http::status::forbidden, "InvalidRequestFormat", message);
  };
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) {
    throw invalid_format(R"(the body must be a JSON object like {"events":["INVOKE","SHUTDOWN"]})");
  }
  if (const auto* keys = value.as_object().if_contains("configurationKeys"); keys != nullptr && !keys->is_null()) {
    if (!keys->is_array()) throw invalid_format("configurationKeys must be a list");
    if (!keys->as_array().empty()) {
      throw invalid_format("configurationKeys are deprecated; use environment variables instead");
    }
  }
  Subscription subscription;
  const auto* events = value.as_object().if_contains("events");
  if (events == nullptr || events->is_null()) return subscription;
  if (!events->is_array()) throw invalid_format("events must be a list of event names");
  for (const auto& event : events->as_array()) {
    const auto* type = event.if_string();
    if (type == nullptr) throw invalid_format("events must be a list of event names");
    if (*type == kEventInvoke) {
      subscription.invoke = true;
    } else if (*type == kEventShutdown) {
      subscription.shutdown = true;
    } else {
      throw HttpError(http::status::forbidden, "Extension.InvalidEventType",
                      fmt::format("{}: unknown event; expected INVOKE or SHUTDOWN", std::string_view(*type)));
    }
  }
  return subscription;
}

asio::awaitable<void> handle_register(Environment& env, HttpExchange& ex) {
  ex.require_method(http::verb::post);
  const std::string name(ex.header(kHeaderExtensionName));
  const std::string body = co_await ex.read_body(kErrorBodyLimit);
  if (name.empty()) {
    throw HttpError(http::status::forbidden, "Extension.InvalidExtensionName",
                    "Empty extension name: the Lambda-Extension-Name header is required");
  }
  const Subscription subscription = parse_register_body(body);
  auto result = env.extension_register(name, subscription.invoke, subscription.shutdown);
  if (auto* error = std::get_if<ApiError>(&result)) {
    co_await respond_api_error(ex, *error);
    co_return;
  }
  http::fields headers;
  headers.set(kHeaderExtensionIdentifier, std::get<std::string>(result));
  boost::json::object info;
  info["functionName"] = env.config().function_name;
  info["functionVersion"] = env.config().function_version;
  info["handler"] = env.config().handler;
  // Lambda-Extension-Accept-Feature is a comma-separated list of features.
  if (http::token_list(ex.header(kHeaderExtensionAcceptFeature)).exists(kFeatureAccountId)) {
    info["accountId"] = kEmulatedAccountId;
  }
  co_await ex.respond(http::status::ok, boost::json::serialize(info), kContentTypeJson, &headers);
}

asio::awaitable<void> handle_event_next(Environment& env, HttpExchange& ex) {
  ex.require_method(http::verb::get);
  auto result = co_await env.extension_next(identifier_of(ex));
  if (auto* error = std::get_if<ApiError>(&result)) {
    co_await respond_api_error(ex, *error);
    co_return;
  }
  http::fields headers;
  headers.set(kHeaderExtensionEventIdentifier, lambda::new_request_id());
  co_await ex.respond(http::status::ok, std::get<std::string>(result), kContentTypeJson, &headers);
}

asio::awaitable<void> handle_error(Environment& env, HttpExchange& ex, bool init) {
  ex.require_method(http::verb::post);
  const std::string identifier = identifier_of(ex);
  const std::string body = co_await ex.read_body(kErrorBodyLimit);
  const std::string type(ex.header(kHeaderExtensionErrorType));
  // Required, as Lambda documents it and the RIE enforces (only a runtime's error type has a default).
  if (type.empty()) {
    throw HttpError(http::status::forbidden, "Extension.MissingHeader",
                    fmt::format("the {} header is required", kHeaderExtensionErrorType));
  }
  std::optional<ApiError> error;
  if (init) {
    error = env.extension_init_error(identifier, type, body);
  } else {
    error = env.extension_exit_error(identifier, type, body);
  }
  if (error) {
    co_await respond_api_error(ex, *error);
  } else {
    co_await respond_accepted(ex);
  }
}

}  // namespace

asio::awaitable<void> serve_extensions_api(Environment& env, HttpExchange& ex, std::string_view path) {
  if (path == kExtensionRegisterPath) {
    co_await handle_register(env, ex);
  } else if (path == kExtensionNextPath) {
    co_await handle_event_next(env, ex);
  } else if (path == kExtensionInitErrorPath) {
    co_await handle_error(env, ex, true);
  } else if (path == kExtensionExitErrorPath) {
    co_await handle_error(env, ex, false);
  } else {
    throw HttpError(http::status::not_found, "UnknownPath",
                    fmt::format("no such endpoint: {}{}", kExtensionApiPrefix, path));
  }
}

}  // namespace snapbus::emulator
