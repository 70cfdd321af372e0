// What both adapter modes share, in the order Lambda needs it: the segment created before anything
// else (so every worker of the app finds it), registration with the Extensions API for SHUTDOWN,
// SIGTERM and SIGINT, one log, and the exit code. A mode is the coroutine run in between.
//
//   AdapterProcess process(config, bus_config, launch);
//   return process.run([](AdapterProcess& p) -> asio::awaitable<void> {
//     ... p.publisher(), p.runtime_api(), p.io() ...
//     p.finish(kExitRuntimeApiError, "invocation/next: ...");   // or run until SHUTDOWN
//   });
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "adapter_config.h"
#include "snapbus/config.h"
#include "snapbus/extension_client.h"
#include "snapbus/http_client.h"
#include "snapbus/lifecycle_step.h"
#include "snapbus/publisher.h"

namespace snapbus::adapter {

struct LaunchOptions {
  // Register with the Extensions API under this name (Lambda matches it with the file name under
  // /opt/extensions). Unset: run as a plain process (`snapbus adapter`), where SIGTERM is the shutdown.
  std::optional<std::string> extension_name;
};

// Exit codes of the adapter process.
inline constexpr int kExitShutdown = 0;         // SHUTDOWN, SIGTERM or SIGINT
inline constexpr int kExitInitFailed = 3;       // before-snapshot failed (reported to init/error)
inline constexpr int kExitRestoreFailed = 4;    // after-restore failed (reported to restore/error)
inline constexpr int kExitRuntimeApiError = 5;  // the Runtime or Extensions API failed or refused a call

// One line of the adapter's log: stderr, prefixed "[snapbus] ", written whole (Lambda puts it in the
// function's log; lines of the app's processes do not interleave with it mid-line). Several lines
// (separated by '\n') are prefixed each and written in one call: a step's per-subscriber lines
// while the first request waits cost one pipe write, not one (and a wake of the reader) per line.
void log_line(std::string_view line);

// Milliseconds since `start`, for the log.
double milliseconds_since(std::chrono::steady_clock::time_point start);

// A bus step to run, given the flag that ends it early (lifecycle::StepOptions::stop).
using BusStep = std::function<lifecycle::StepResult(const std::atomic<bool>* stop)>;

class AdapterProcess {
 public:
  using Mode = std::function<boost::asio::awaitable<void>(AdapterProcess&)>;

  // `segment_source` is what the segment records as the origin of each change; nullopt for a
  // process that publishes nothing (web mode with SNAPBUS_BRACKET=off: a proxy in front runs it).
  AdapterProcess(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch,
                 std::optional<TransitionSource> segment_source);
  AdapterProcess(const AdapterProcess&) = delete;
  AdapterProcess& operator=(const AdapterProcess&) = delete;
  // Stops a step still running aside and waits for it.
  ~AdapterProcess();

  // Creates the segment, registers, runs `mode` until it calls finish() or a shutdown arrives, and
  // returns the exit code. Throws snapbus::Error when the segment cannot be created.
  int run(Mode mode);

  // Stops the process with `code`; `why` goes to the log.
  void finish(int code, std::string_view why);

  // Runs `step` on a thread of its own and resumes when it returns, so that a signal or SHUTDOWN
  // is heard while it waits (the before-snapshot step may wait two minutes for the app's workers):
  // one that comes meanwhile ends the step early and shuts the process down once it has returned,
  // never while it still uses the segment. One step at a time. Rethrows what the step threw.
  boost::asio::awaitable<lifecycle::StepResult> run_step_aside(BusStep step);

  // A shutdown has begun (SHUTDOWN, SIGTERM or SIGINT): nothing more is to be reported upstream.
  [[nodiscard]] bool stopping() const { return stopping_; }

  [[nodiscard]] boost::asio::io_context& io() { return io_; }
  // Only when created with a segment_source.
  [[nodiscard]] Publisher& publisher() { return *publisher_; }
  [[nodiscard]] const AdapterConfig& config() const { return config_; }
  [[nodiscard]] const Config& bus_config() const { return bus_config_; }
  // The Runtime API this process talks to (AWS_LWA_LAMBDA_RUNTIME_API_PROXY or AWS_LAMBDA_RUNTIME_API).
  [[nodiscard]] const net::HostPort& runtime_api() const { return runtime_api_; }
  // AWS_LAMBDA_INITIALIZATION_TYPE=snap-start.
  [[nodiscard]] bool snap_start() const;
  // When this process was made: the adapter starts with Lambda's Init.
  [[nodiscard]] std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  boost::asio::awaitable<void> start(Mode mode);
  boost::asio::awaitable<bool> register_extension();
  boost::asio::awaitable<void> watch_for_shutdown();
  void shut_down(std::optional<std::int64_t> deadline_ms);
  void publish_shutdown(std::optional<std::int64_t> deadline_ms);

  // First, so it is destroyed last: every socket and timer (here and in the mode's objects, which
  // are made after the process) goes before the services it was made with. The coroutine frames
  // it still holds are destroyed with it, never resumed, so the objects they refer to may be gone.
  boost::asio::io_context io_{1};
  const AdapterConfig& config_;
  const Config& bus_config_;
  const LaunchOptions& launch_;
  std::optional<TransitionSource> segment_source_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  net::HostPort runtime_api_;
  std::optional<Publisher> publisher_;
  std::optional<lambda::ExtensionClient> extension_;
  bool stopping_ = false;
  int exit_code_ = kExitShutdown;
  std::exception_ptr failed_;
  // A shutdown that came while a step ran aside: published once the step has returned.
  bool step_aside_running_ = false;
  std::optional<std::optional<std::int64_t>> shutdown_after_step_;
  std::atomic<bool> stop_step_{false};
  // Last, so it is joined first: set stop_step_ before, as the destructor does.
  std::jthread step_thread_;
};

}  // namespace snapbus::adapter
