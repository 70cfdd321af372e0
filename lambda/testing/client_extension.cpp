// An external extension built on ExtensionClient, run by the end-to-end tests from <opt>/extensions/ under
// `snapbus emulate`. It registers under its file name for INVOKE and SHUTDOWN and appends one line per
// observation to $SNAPBUS_CLIENT_TEST_DIR/extension.txt. $SNAPBUS_CLIENT_TEST_EXTENSION_MODE picks:
//   events      (default) records every event until SHUTDOWN, then exits 0
//   init-error  reports init_error after registering, then exits
//   exit-error  reports exit_error after registering, then exits
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <boost/asio.hpp>

#include "program_main.h"
#include "snapbus/extension_client.h"
#include "snapbus/runtime_client.h"

namespace {

namespace asio = boost::asio;
using snapbus::lambda::ExtensionClient;
using snapbus::lambda::ExtensionEventType;

std::string environment(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

void record(const std::string& line) {
  std::ofstream out(std::filesystem::path(environment("SNAPBUS_CLIENT_TEST_DIR", ".")) / "extension.txt",
                    std::ios::app);
  out << line << '\n';
}

std::string describe(const snapbus::lambda::CallError& error) {
  return fmt::format("{} {} {}", snapbus::lambda::call_errc_name(error.code), error.http_status, error.error_type);
}

asio::awaitable<int> run(std::string name) {
  auto api = snapbus::lambda::runtime_api_from_environment();
  if (!api) {
    record("environment: " + api.error().message);
    co_return 2;
  }
  ExtensionClient extension(co_await asio::this_coro::executor, *api);
  auto early = co_await extension.next();
  record("next before register: " + (early ? std::string("ok") : describe(early.error())));
  const std::vector<ExtensionEventType> events{ExtensionEventType::invoke, ExtensionEventType::shutdown};
  auto registered = co_await extension.register_extension(name, events);
  if (!registered) {
    record("register: " + describe(registered.error()) + " " + registered.error().message);
    co_return 1;
  }
  record(fmt::format("registered {} identifier={} function={} version={} handler={}", name,
                     registered->identifier.empty() ? "missing" : "present", registered->function_name,
                     registered->function_version, registered->handler));
  const std::string mode = environment("SNAPBUS_CLIENT_TEST_EXTENSION_MODE", "events");
  if (mode == "init-error" || mode == "exit-error") {
    const snapbus::lambda::FunctionError error{.type = "Extension.TestFailure", .message = "the extension gave up"};
    // No conditional operator around co_await: GCC 12 destroys such temporaries twice.
    snapbus::lambda::CallResult<void> reported;
    if (mode == "init-error") {
      reported = co_await extension.init_error(error);
    } else {
      reported = co_await extension.exit_error(error);
    }
    record(mode + ": " + (reported ? std::string("ok") : describe(reported.error())));
    co_return 0;
  }
  for (;;) {
    auto event = co_await extension.next();
    if (!event) {
      record("next: " + describe(event.error()) + " " + event.error().message);
      co_return 1;
    }
    if (event->type == ExtensionEventType::shutdown) {
      record(
          fmt::format("SHUTDOWN {} deadline={}", event->shutdown_reason, event->deadline_ms > 0 ? "set" : "missing"));
      co_return 0;
    }
    record(fmt::format("INVOKE {} deadline={} arn={} trace={} event_id={}", event->request_id,
                       event->deadline_ms > 0 ? "set" : "missing", event->invoked_function_arn,
                       event->trace_id.empty() ? "missing" : "present",
                       event->event_id.empty() ? "missing" : "present"));
  }
}

}  // namespace

int main(int /*argc*/, char** argv) {
  // Lambda matches the registered name to the file name under /opt/extensions.
  const std::string name = std::filesystem::path(argv[0]).filename().string();
  return snapbus::lambda::testing::run_test_program("client_extension", run(name), [] { record("exception"); });
}
