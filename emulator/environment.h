// One Lambda execution environment, composed of its parts: the phases (phase_control), the
// processes (process_supervisor), the extensions (extension_registry) and the invocations with the
// runtime's side of the Runtime API (invocation_dispatch). Environment decides when each moves on
// and what a failure means. The HTTP front ends (runtime_api, extensions_api, front_door) call into
// it; everything runs on one io_context thread, so no state here needs a lock.
//
//   Environment env(io, config, log, new_marker(), output.launch_output());
//   env.set_runtime_api("127.0.0.1:9001");
//   asio::co_spawn(io, env.run(), [&](std::exception_ptr, int code) { exit_code = code; });
//   auto inv = env.submit({.payload = "{}"});    // from the front door
//   co_await inv->wait_change();                  // until inv->complete
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "api_error.h"
#include "extension_registry.h"
#include "function_launcher.h"
#include "function_processes.h"
#include "invocation_dispatch.h"
#include "lambda_log.h"
#include "phase_control.h"
#include "process_memory.h"
#include "process_supervisor.h"
#include "snapbus/emulate_config.h"

namespace snapbus::emulator {

// SNAPBUS_EMULATOR_ID=<pid>-<uuid>: tags the processes of one emulator run.
std::string new_marker();

// The runtime's share of the shutdown time (2 s by default, Lambda's with external extensions) to act
// on SIGTERM before SIGKILL and before the extensions get SHUTDOWN: Lambda reserves up to 300 ms of
// its 2,000 for the runtime, 500 ms when an internal extension runs in it.
inline constexpr double kRuntimeShutdownShare = 0.15;
inline constexpr double kRuntimeShutdownShareWithInternalExtension = 0.25;
// How long SHUTDOWN waits for a SIGKILLed runtime to be reaped.
inline constexpr std::chrono::milliseconds kRuntimeReapWait{200};

class Environment {
 public:
  // `marker` (KEY=VALUE) goes into the environment of every process of the function, whose stdout
  // and stderr go to `output`. A fresh environment (after a failed one) starts its Init once an
  // invocation waits for it.
  Environment(asio::io_context& io, Config config, LambdaLog& log, std::string marker, LaunchOutput output,
              bool fresh = false);
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  void set_runtime_api(std::string host_port) { runtime_api_ = std::move(host_port); }
  // Launches the function, serves until stopped or failed, shuts down; returns the exit code.
  asio::awaitable<int> run();

  void request_stop(int signal_number);

  // After run(): whether it ended in a failure a fresh environment should follow (not with
  // --exit-on-failure), which then adopts the invocations still queued here.
  [[nodiscard]] bool wants_fresh_environment() const { return wants_fresh_; }
  std::deque<std::shared_ptr<Invocation>> take_queue() { return dispatch_.take_queue(); }
  void adopt(std::deque<std::shared_ptr<Invocation>> queued) { dispatch_.adopt(std::move(queued)); }
  // Stops handling signals; `successor`, the fresh environment, made before, handles them. A stop
  // signal whose wait here had completed before the cancel is still handled here, after the handover:
  // it goes on to `successor`, which would otherwise never hear of it and wait for ever.
  void retire(Environment& successor) {
    successor_ = &successor;
    processes_.retire();
  }

  // Whether Init has begun. A fresh environment begins it with the invocation it waits for; a
  // Runtime API call before then comes from outside the function (the runtime of the environment
  // that failed is gone with it) and has no Init to take part in.
  [[nodiscard]] bool init_begun() const { return init_begun_; }
  [[nodiscard]] bool snapstart() const { return config_.snapstart; }

  // Runtime API.
  asio::awaitable<std::variant<ApiError, std::shared_ptr<Invocation>>> runtime_next(std::shared_ptr<NextPoll> poll);
  // The connection of the invocation/next call `poll` closed before its event was handed over.
  void runtime_next_abandoned(const std::shared_ptr<NextPoll>& poll);
  asio::awaitable<std::optional<ApiError>> runtime_restore_next();
  // Validates and applies invocation/{id}/response or /error; the caller then fills the Invocation
  // and calls answer_updated / answer_finished.
  std::variant<ApiError, std::shared_ptr<Invocation>> runtime_begin_answer(const std::string& request_id,
                                                                           RuntimeCall call);
  void answer_updated(const std::shared_ptr<Invocation>& inv);
  void answer_finished(const std::shared_ptr<Invocation>& inv);
  std::optional<ApiError> runtime_init_error(const std::string& type, const std::string& body);
  std::optional<ApiError> runtime_restore_error(const std::string& type, const std::string& body);

  // Extensions API.
  std::variant<ApiError, std::string> extension_register(const std::string& name, bool invoke, bool shutdown);
  asio::awaitable<std::variant<ApiError, std::string>> extension_next(const std::string& identifier);
  std::optional<ApiError> extension_init_error(const std::string& identifier, const std::string& type,
                                               const std::string& body);
  std::optional<ApiError> extension_exit_error(const std::string& identifier, const std::string& type,
                                               const std::string& body);

  // Front door.
  std::shared_ptr<Invocation> submit(InvocationRequest request);
  [[nodiscard]] bool queue_full(bool caller_waits) const { return dispatch_.queue_full(caller_waits); }
  // The caller of `inv` closed its connection: a queued invocation is dropped before it runs.
  void caller_gone(const std::shared_ptr<Invocation>& inv);

  [[nodiscard]] const Config& config() const { return config_; }
  // The ARN the caller invoked, as the runtime and extensions receive it: the function's, and
  // `qualifier` at its end when the caller named one.
  [[nodiscard]] std::string invoked_function_arn(std::string_view qualifier) const;

 private:
  // The one place that decides what comes next, called after anything that may let it move on.
  void check_progress();
  void advance_init();
  // What Init is still waiting for, for its timeout's message.
  [[nodiscard]] std::string init_waits_for() const;
  void launch_extensions();
  void launch_runtime();
  asio::awaitable<void> snapshot_and_restore();
  asio::awaitable<void> run_while_frozen();
  void start_invocation();
  void finish_invocation();
  // Whatever failed, ends the phase it failed in: Init (also while frozen), Restore or an invocation.
  // `runtime_body` is the runtime's own init/error or restore/error body, which callers receive.
  void fail(const std::string& type, const std::string& message, const std::string& status,
            const std::string& runtime_body = {});
  void fail_invoke(const std::string& type, const std::string& message, const std::string& status);
  // The refusal of the runtime's `call` (init/error, restore/error) once the environment has ended.
  std::optional<ApiError> refused_once_ended(std::string_view call, const std::string& type);
  // Fails what waits with `failure` and stops with exit_code. An Init that failed while it ran for
  // the invocation that waits for it gives that invocation its START, END and REPORT lines.
  void end(int exit_code, Failure failure);
  // Into the JSON report: invocations that ended with no REPORT line (failed before they started, or
  // cut off by a stop), answered as their callers were. With `suppressed_init_ms`, the first that
  // never started is the one the failed Init ran for, which gets START, END and REPORT lines.
  void record_unreported(const std::vector<std::shared_ptr<Invocation>>& invocations, std::string_view status,
                         std::optional<double> suppressed_init_ms = std::nullopt);
  // The log lines Lambda writes for an invocation whose suppressed Init failed: START, END, and a
  // REPORT billing that Init, with the Init's outcome.
  void report_suppressed_init(Invocation& inv, double init_ms, const PhaseOutcome& outcome);
  // The REPORT of an invocation a platform failure ended (a timeout is billed as the timeout).
  void report_failure(InvocationReport report, const PhaseOutcome& outcome);
  // What the emulator exits with when this environment is the last.
  [[nodiscard]] int exit_code() const;
  void on_runtime_exit(pid_t pid, int status);
  void on_child_exit(pid_t pid, int status);
  asio::awaitable<void> shutdown();
  asio::awaitable<void> poll_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline);
  [[nodiscard]] std::vector<std::string> process_environment() const;
  // The runtime's environment without the variables Lambda gives the runtime alone.
  [[nodiscard]] std::vector<std::string> extension_environment() const;
  // The processes whose memory Max Memory Used counts: every process below the emulator (the
  // runtime, the extensions, what they started, and orphans the emulator adopted), as Lambda counts
  // the whole sandbox (a server's workers hold most of its memory); see function_processes.h. Empty
  // when neither the runtime nor an extension is running.
  [[nodiscard]] const std::vector<pid_t>& function_pids();
  [[nodiscard]] InvocationReport invocation_report(const Invocation& inv);

  asio::io_context& io_;
  Config config_;
  LambdaLog& log_;
  std::string runtime_api_;
  std::string marker_;
  LaunchOutput output_;
  PhaseControl phases_;
  ProcessSupervisor processes_;
  ExtensionRegistry extensions_;
  InvocationDispatch dispatch_;
  // The most the function was seen to hold: its peak when Init ended, and what was resident just
  // after each invocation's event went out.
  unsigned memory_sample_mb_ = 0;
  FunctionProcesses function_processes_;
  ProcessMemory memory_;
  // Set by retire(): where a stop signal handled after the handover goes.
  Environment* successor_ = nullptr;
  // Whether the log said that the function holds more than its memory size.
  bool memory_warned_ = false;
  bool fresh_;
  bool init_begun_ = false;
  bool wants_fresh_ = false;
  // Init's first step is done: the runtime may start once they have registered.
  bool extensions_launched_ = false;
  // A stop signal came while a failure shut this environment down for a fresh one.
  bool stopped_while_failing_ = false;
};

}  // namespace snapbus::emulator
