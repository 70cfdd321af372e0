#include "extensions_api.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runtime_api.h"

namespace snapbus::emulator {
namespace {

constexpr const char* kAccepted = R"({"status":"OK"})";
std::uint64_t event_counter = 0;
// Event identifiers only need to differ; everything runs on one thread.

std::string identifier_of(const HttpExchange& ex) {
  auto id = ex.header("Lambda-Extension-Identifier");
  if (id.empty()) {
    throw HttpError(http::status::forbidden, "Extension.MissingExtensionIdentifier",
                    "the Lambda-Extension-Identifier header is required");
  }
  return std::string(id);
}

void require_method(const HttpExchange& ex, http::verb verb) {
  if (ex.request().method() != verb) {
    throw HttpError(http::status::method_not_allowed, "MethodNotAllowed",
                    fmt::format("{} expects {}", std::string(ex.request().target()),
                                std::string(http::to_string(verb))));
  }
}

asio::awaitable<void> handle_register(Environment& env, HttpExchange& ex) {
  require_method(ex, http::verb::post);
  const std::string name(ex.header("Lambda-Extension-Name"));
  const std::string body = co_await ex.read_body(kErrorBodyLimit);
  if (name.empty()) {
    throw HttpError(http::status::bad_request, "InvalidRequest", "the Lambda-Extension-Name header is required");
  }
  bool invoke = false;
  bool shutdown = false;
  if (!body.empty()) {
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec);
    if (ec || !value.is_object()) {
      throw HttpError(http::status::bad_request, "InvalidRequest",
                      R"(the body must be a JSON object like {"events":["INVOKE","SHUTDOWN"]})");
    }
    if (const auto* events = value.as_object().if_contains("events")) {
      if (!events->is_array()) throw HttpError(http::status::bad_request, "ValidationError", "events must be a list");
      for (const auto& event : events->as_array()) {
        if (event == "INVOKE") {
          invoke = true;
        } else if (event == "SHUTDOWN") {
          shutdown = true;
        } else {
          throw HttpError(http::status::bad_request, "ValidationError",
                          fmt::format("unknown event {}; expected INVOKE or SHUTDOWN", boost::json::serialize(event)));
        }
      }
    }
  }
  auto result = env.extension_register(name, invoke, shutdown);
  if (auto* error = std::get_if<ApiError>(&result)) {
    co_await ex.respond_error(error->status, error->type, error->message);
    co_return;
  }
  http::fields headers;
  headers.set("Lambda-Extension-Identifier", std::get<std::string>(result));
  boost::json::object info;
  info["functionName"] = env.config().function_name;
  info["functionVersion"] = env.config().function_version;
  info["handler"] = env.config().handler;
  co_await ex.respond(http::status::ok, boost::json::serialize(info), "application/json", &headers);
}

asio::awaitable<void> handle_next(Environment& env, HttpExchange& ex) {
  require_method(ex, http::verb::get);
  auto result = co_await env.extension_next(identifier_of(ex));
  if (auto* error = std::get_if<ApiError>(&result)) {
    co_await ex.respond_error(error->status, error->type, error->message);
    co_return;
  }
  http::fields headers;
  headers.set("Lambda-Extension-Event-Identifier", fmt::format("{:016x}", ++event_counter));
  co_await ex.respond(http::status::ok, std::get<std::string>(result), "application/json", &headers);
}

asio::awaitable<void> handle_error(Environment& env, HttpExchange& ex, bool init) {
  require_method(ex, http::verb::post);
  const std::string identifier = identifier_of(ex);
  const std::string body = validated_json_body(co_await ex.read_body(kErrorBodyLimit));
  const std::string type(ex.header("Lambda-Extension-Function-Error-Type"));
  std::optional<ApiError> error;
  if (init) {
    error = env.extension_init_error(identifier, type, body);
  } else {
    error = env.extension_exit_error(identifier, type, body);
  }
  if (error) {
    co_await ex.respond_error(error->status, error->type, error->message);
  } else {
    co_await ex.respond(http::status::accepted, kAccepted);
  }
}

}  // namespace

asio::awaitable<void> serve_extensions_api(Environment& env, HttpExchange& ex, std::string_view path) {
  if (path == "register") {
    co_await handle_register(env, ex);
  } else if (path == "event/next") {
    co_await handle_next(env, ex);
  } else if (path == "init/error") {
    co_await handle_error(env, ex, true);
  } else if (path == "exit/error") {
    co_await handle_error(env, ex, false);
  } else {
    throw HttpError(http::status::not_found, "UnknownPath", fmt::format("no such endpoint: {}{}", kExtensionPrefix, path));
  }
}

}  // namespace snapbus::emulator
