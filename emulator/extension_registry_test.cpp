#include "extension_registry.h"

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/json.hpp>

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

std::string registered_id(ExtensionRegistry& registry, const std::string& name, bool invoke, bool shutdown) {
  auto result = registry.register_extension(name, invoke, shutdown);
  EXPECT_TRUE(std::holds_alternative<std::string>(result));
  return std::holds_alternative<std::string>(result) ? std::get<std::string>(result) : "";
}

TEST(ExtensionRegistry, LaunchedExtensionsAreAwaitedUntilTheyRegister) {
  asio::io_context io;
  ExtensionRegistry registry(io);
  registry.add_launched("a", 100);
  registry.add_launched("b", 101);
  EXPECT_EQ(registry.unregistered(), (std::vector<std::string>{"a", "b"}));
  registered_id(registry, "b", true, false);
  EXPECT_EQ(registry.unregistered(), std::vector<std::string>{"a"});
  auto again = registry.register_extension("b", true, false);
  ASSERT_TRUE(std::holds_alternative<ApiError>(again));
  EXPECT_EQ(std::get<ApiError>(again).type, "Extension.InvalidExtensionState");
  // A name nobody launched is an internal extension: welcome, and not awaited at Init; it stops with
  // the runtime, so it may not ask for SHUTDOWN.
  registered_id(registry, "internal", true, false);
  auto internal_shutdown = registry.register_extension("internal-2", false, true);
  ASSERT_TRUE(std::holds_alternative<ApiError>(internal_shutdown));
  EXPECT_EQ(std::get<ApiError>(internal_shutdown).type, "Extension.InvalidEventType");
  EXPECT_EQ(registry.unregistered(), std::vector<std::string>{"a"});
  EXPECT_EQ(registry.live_pids(), (std::vector<pid_t>{100, 101}));
}

TEST(ExtensionRegistry, TenExtensionsAtMostAsInLambda) {
  asio::io_context io;
  ExtensionRegistry registry(io);
  registry.add_launched("launched", 104);
  for (std::size_t i = 1; i < kMaxExtensions; ++i)
    registered_id(registry, "internal-" + std::to_string(i), true, false);
  auto eleventh = registry.register_extension("internal-eleventh", true, false);
  ASSERT_TRUE(std::holds_alternative<ApiError>(eleventh));
  EXPECT_EQ(std::get<ApiError>(eleventh).type, "Extension.TooManyExtensions");
  EXPECT_EQ(std::get<ApiError>(eleventh).message, "Extension limit (10) reached");
  // The launched one still registers: it is counted already.
  registered_id(registry, "launched", false, true);
}

TEST(ExtensionRegistry, IdentifiersAreCheckedAndNextIsNotReentrant) {
  asio::io_context io;
  ExtensionRegistry registry(io);
  registry.add_launched("x", 102);
  const std::string id = registered_id(registry, "x", true, true);
  auto malformed = registry.find("nope");
  ASSERT_TRUE(std::holds_alternative<ApiError>(malformed));
  EXPECT_EQ(std::get<ApiError>(malformed).type, "Extension.InvalidExtensionIdentifier");
  auto unknown = registry.find("2f4c5b3e-0000-4000-8000-000000000000");
  ASSERT_TRUE(std::holds_alternative<ApiError>(unknown));
  EXPECT_EQ(std::get<ApiError>(unknown).type, "Extension.UnknownExtensionIdentifier");
  EXPECT_EQ(std::get<ApiError>(unknown).status, boost::beast::http::status::forbidden);
  ASSERT_TRUE(std::holds_alternative<Extension*>(registry.begin_next(id)));
  auto twice = registry.begin_next(id);
  ASSERT_TRUE(std::holds_alternative<ApiError>(twice));
  EXPECT_NE(std::get<ApiError>(twice).message.find("already waiting"), std::string::npos);
}

TEST(ExtensionRegistry, ReadyOnceEveryRelevantExtensionWaitsWithNothingPending) {
  asio::io_context io;
  ExtensionRegistry registry(io);
  const std::string invoke_id = registered_id(registry, "invoke", true, false);
  registry.add_launched("shutdown", 103);
  const std::string shutdown_id = registered_id(registry, "shutdown", false, true);
  EXPECT_FALSE(registry.ready(false));
  EXPECT_FALSE(registry.ready(true));
  auto* invoke_ext = std::get<Extension*>(registry.begin_next(invoke_id));
  EXPECT_TRUE(registry.ready(true));  // the SHUTDOWN-only one does not hold invocations up
  EXPECT_FALSE(registry.ready(false));
  registry.begin_next(shutdown_id);
  EXPECT_TRUE(registry.ready(false));

  registry.post_invoke("req-1", std::chrono::system_clock::time_point{} + 5s, "arn:x", "Root=1");
  EXPECT_FALSE(registry.ready(true));  // an event it has not fetched
  std::string event;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { event = co_await registry.next_event(*invoke_ext); }, asio::detached);
  io.run_for(50ms);
  const auto json = boost::json::parse(event).as_object();
  EXPECT_EQ(json.at("eventType"), "INVOKE");
  EXPECT_EQ(json.at("requestId"), "req-1");
  EXPECT_EQ(json.at("deadlineMs"), 5000);
  EXPECT_EQ(json.at("invokedFunctionArn"), "arn:x");
  EXPECT_EQ(json.at("tracing").at("value"), "Root=1");
  EXPECT_FALSE(invoke_ext->waiting);
  EXPECT_FALSE(registry.ready(true));  // until it calls event/next again
}

TEST(ExtensionRegistry, ShutdownIsAcknowledgedByTheNextEventNext) {
  asio::io_context io;
  ExtensionRegistry registry(io);
  registry.add_launched("s", 200);
  const std::string id = registered_id(registry, "s", false, true);
  auto* ext = std::get<Extension*>(registry.begin_next(id));
  registry.post_shutdown("spindown", std::chrono::system_clock::now());
  EXPECT_FALSE(registry.shutdown_acknowledged());
  std::string event;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { event = co_await registry.next_event(*ext); }, asio::detached);
  io.run_for(50ms);
  EXPECT_EQ(boost::json::parse(event).at("shutdownReason"), "spindown");
  EXPECT_FALSE(registry.shutdown_acknowledged());
  registry.begin_next(id);
  EXPECT_TRUE(registry.shutdown_acknowledged());
}

TEST(ExtensionRegistry, ExitedExtensionsStopCounting) {
  asio::io_context io;
  ExtensionRegistry registry(io);
  registry.add_launched("gone", 300);
  registered_id(registry, "gone", true, true);
  EXPECT_FALSE(registry.ready(true));
  EXPECT_EQ(registry.exited(999), nullptr);
  const Extension* ext = registry.exited(300);
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->name, "gone");
  EXPECT_TRUE(registry.ready(true));
  EXPECT_TRUE(registry.shutdown_acknowledged());
  EXPECT_TRUE(registry.live_pids().empty());
}

}  // namespace
}  // namespace snapbus::emulator
