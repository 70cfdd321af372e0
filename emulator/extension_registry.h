// The extensions of one environment, as the Extensions API sees them: the external ones the
// environment launched and the internal ones that register from the runtime's process, what each
// registered for, and the events each has not fetched with event/next yet.
//
//   ExtensionRegistry extensions(io);
//   extensions.add_launched("logger", pid);
//   auto id = extensions.register_extension("logger", /*invoke=*/true, /*shutdown=*/true);
//   auto ext = extensions.begin_next(std::get<std::string>(id));   // event/next, step 1
//   std::string event = co_await extensions.next_event(*std::get<Extension*>(ext));
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "api_error.h"
#include "wake_signal.h"

namespace snapbus::emulator {

struct Extension {
  std::string name;
  std::string identifier;  // given at registration
  pid_t pid = -1;          // -1 for an internal extension
  bool launched = false;
  bool registered = false;
  bool wants_invoke = false;
  bool wants_shutdown = false;
  bool waiting = false;  // blocked in event/next
  bool alive = false;
  std::deque<std::string> events;
  std::unique_ptr<WakeSignal> wake;  // notified when an event arrives
};

// Lambda's limit of extensions per function. An internal extension over it is refused at
// register (403 Extension.TooManyExtensions), as the RIE refuses it.
inline constexpr std::size_t kMaxExtensions = 10;

class ExtensionRegistry {
 public:
  explicit ExtensionRegistry(boost::asio::io_context& io) : io_(io) {}

  void add_launched(std::string name, pid_t pid);
  // No extension launched or registered: Lambda then gives the runtime no graceful shutdown.
  [[nodiscard]] bool empty() const { return extensions_.empty(); }
  // Whether an internal extension (one registered from the runtime's process) is among them.
  [[nodiscard]] bool has_internal() const;
  // Names of launched extensions that have not registered yet, in launch order.
  [[nodiscard]] std::vector<std::string> unregistered() const;
  // Registered extensions not blocked in event/next: what Init (or an invocation's end) waits for.
  [[nodiscard]] std::vector<std::string> not_waiting() const;

  // Registers `name` (one not launched here is an internal extension) and returns its identifier;
  // 403 when that name is registered already, or when an internal one would be one too many.
  std::variant<ApiError, std::string> register_extension(const std::string& name, bool invoke, bool shutdown);
  // The registered extension with this identifier, or 403: Extension.InvalidExtensionIdentifier for
  // what is no UUID, Extension.UnknownExtensionIdentifier for a UUID no extension was given.
  std::variant<ApiError, Extension*> find(const std::string& identifier);
  // event/next, step 1: the extension is waiting from now on; 403 if it already was.
  std::variant<ApiError, Extension*> begin_next(const std::string& identifier);
  // event/next, step 2: the next event for it (JSON), waiting for one if need be.
  boost::asio::awaitable<std::string> next_event(Extension& ext);

  // Whether every live registered extension (only those registered for INVOKE if `invoke_only`)
  // waits in event/next with nothing left to fetch: the point where Lambda moves on.
  [[nodiscard]] bool ready(bool invoke_only) const;
  // Whether every live extension registered for SHUTDOWN has fetched that event and called
  // event/next again, which is how an extension says it is done.
  [[nodiscard]] bool shutdown_acknowledged() const;

  void post_invoke(const std::string& request_id, std::chrono::system_clock::time_point deadline,
                   const std::string& function_arn, const std::string& trace_id);
  void post_shutdown(const std::string& reason, std::chrono::system_clock::time_point deadline);

  // The launched extension with this pid, now marked dead; null when the pid is not one of them.
  const Extension* exited(pid_t pid);
  [[nodiscard]] std::vector<pid_t> live_pids() const;
  // Wakes every extension waiting in event/next so it looks at its events again.
  void wake_all();

 private:
  Extension& add(std::string name);

  boost::asio::io_context& io_;
  std::vector<std::unique_ptr<Extension>> extensions_;
};

}  // namespace snapbus::emulator
