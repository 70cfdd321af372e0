// A client of the Lambda Extensions API (at AWS_LAMBDA_RUNTIME_API): what an external extension calls.
//
//   snapbus::lambda::ExtensionClient extension(io.get_executor(), api);   // api: runtime_api_from_environment()
//   // (Name braced arguments first: GCC 12 rejects some braced temporaries inside co_await.)
//   using snapbus::lambda::ExtensionEventType;
//   const std::vector events{ExtensionEventType::invoke, ExtensionEventType::shutdown};
//   auto registered = co_await extension.register_extension("snapbus", events);
//   for (;;) {
//     auto event = co_await extension.next();    // long poll, no read timeout
//     if (!event || event->type == snapbus::lambda::ExtensionEventType::shutdown) break;
//   }
//
// `name` must be the extension's file name under /opt/extensions: Lambda matches the two. Calls take what
// they send by value, so a call may be co_spawned with temporaries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "snapbus/call_result.h"
#include "snapbus/error_body.h"
#include "snapbus/http_client.h"

namespace snapbus::lambda {

namespace asio = boost::asio;

enum class ExtensionEventType { invoke, shutdown };

// What register answers: the identifier every later call carries, and the function it serves.
struct ExtensionRegistration {
  std::string identifier;  // Lambda-Extension-Identifier
  std::string function_name;
  std::string function_version;
  std::string handler;
};

struct ExtensionEvent {
  ExtensionEventType type = ExtensionEventType::invoke;
  std::string event_id;              // Lambda-Extension-Event-Identifier
  std::int64_t deadline_ms = 0;      // milliseconds since the Unix epoch
  std::string request_id;            // INVOKE only
  std::string invoked_function_arn;  // INVOKE only
  std::string trace_id;              // INVOKE only: tracing.value
  std::string shutdown_reason;       // SHUTDOWN only: spindown, timeout, failure
  std::string json;                  // the event as Lambda sent it
};

class ExtensionClient {
 public:
  ExtensionClient(asio::any_io_executor executor, net::HostPort runtime_api, net::ClientOptions options = {});

  // POST register. Lambda starts the runtime only once every extension has registered.
  asio::awaitable<CallResult<ExtensionRegistration>> register_extension(std::string name,
                                                                        std::vector<ExtensionEventType> events);

  // GET event/next: waits for the next event (after register_extension()).
  asio::awaitable<CallResult<ExtensionEvent>> next();

  // POST init/error and exit/error: the extension failed during Init, or is about to exit on an error.
  asio::awaitable<CallResult<void>> init_error(FunctionError error);
  asio::awaitable<CallResult<void>> exit_error(FunctionError error);

  // Empty before register_extension() succeeded.
  [[nodiscard]] const std::string& identifier() const { return identifier_; }

 private:
  asio::awaitable<CallResult<void>> post_error(std::string_view action, const FunctionError& error);
  CallResult<void> require_registered(std::string_view call) const;

  net::HttpClient http_;
  std::string identifier_;
};

}  // namespace snapbus::lambda
