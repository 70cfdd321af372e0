// One Lambda execution environment: the phases (Init, snapshot, restore, invoke, shutdown), the
// runtime's state machine, the registered extensions, the invocation queue, and the processes.
// The HTTP front ends (runtime_api, extensions_api, front_door) call into it; everything runs on
// one io_context thread, so no state here needs a lock.
//
//   Environment env(io, config, log, new_marker());
//   env.set_runtime_api("127.0.0.1:9001");
//   asio::co_spawn(io, env.run(), [&](std::exception_ptr, int code) { exit_code = code; });
//   auto inv = env.submit(payload, {}, {});      // from the front door
//   co_await inv->wait_change();                  // until inv->complete
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "snapbus/emulate_config.h"
#include "freezer.h"
#include "http_exchange.h"
#include "lambda_log.h"
#include "runtime_state.h"

namespace snapbus::emulator {

std::string new_uuid();
// A random (version 4) UUID, the shape of Lambda request ids.

std::string new_marker();
// SNAPBUS_EMULATOR_ID=<pid>-<uuid>: tags the processes of one emulator run.

struct Invocation {
  explicit Invocation(const asio::any_io_executor& ex) : changed(ex, std::chrono::steady_clock::time_point::max()) {}

  std::string request_id;
  std::string payload;
  std::string trace_id;
  std::string client_context;
  std::string cognito_identity;
  std::chrono::system_clock::time_point deadline;

  enum class Mode { kPending, kBuffered, kStreaming };
  Mode mode = Mode::kPending;
  std::string content_type;
  std::string data;  // the buffered body, or streamed bytes the front door has not taken yet
  bool complete = false;
  std::string error_type;  // set for function and platform errors
  std::string error_body;  // the JSON error

  asio::steady_timer changed;
  void notify() { changed.cancel(); }
  asio::awaitable<void> wait_change();
};

struct ApiError {
  http::status status;
  std::string type;
  std::string message;
};

enum class Phase { kInit, kFrozen, kRestore, kReady, kShutdown };

class Environment {
 public:
  Environment(asio::io_context& io, Config config, LambdaLog& log, std::string marker);
  // `marker` (KEY=VALUE) goes into the environment of every process of the function.
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  void set_runtime_api(std::string host_port) { runtime_api_ = std::move(host_port); }
  asio::awaitable<int> run();
  // Launches the function, serves until stopped or failed, shuts down; returns the exit code.

  void request_stop(int signal_number);

  // Runtime API.
  asio::awaitable<std::variant<ApiError, std::shared_ptr<Invocation>>> runtime_next();
  asio::awaitable<std::optional<ApiError>> runtime_restore_next();
  std::variant<ApiError, std::shared_ptr<Invocation>> runtime_begin_answer(const std::string& request_id,
                                                                           RuntimeCall call);
  // Validates and applies invocation/{id}/response or /error; the caller then fills the Invocation
  // and calls answer_updated / answer_finished.
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
  std::shared_ptr<Invocation> submit(std::string payload, std::string client_context,
                                     std::string cognito_identity);

  [[nodiscard]] const Config& config() const { return config_; }
  [[nodiscard]] std::string function_arn() const;

 private:
  struct Extension {
    std::string name;
    std::string identifier;
    pid_t pid = -1;
    bool launched = false;
    bool registered = false;
    bool wants_invoke = false;
    bool wants_shutdown = false;
    bool waiting = false;  // blocked in event/next
    bool got_shutdown = false;
    bool alive = false;
    std::deque<std::string> events;
    std::unique_ptr<asio::steady_timer> wake;
  };

  void check_progress();
  void launch_runtime();
  void end_init();
  asio::awaitable<void> snapshot_and_restore();
  void end_restore();
  void dispatch();
  void maybe_finish_current();
  void fail_init(const std::string& type, const std::string& message, const std::string& status);
  void fail_restore(const std::string& type, const std::string& message, const std::string& status);
  void fail_invoke(const std::string& type, const std::string& message, const std::string& status);
  void stop(int exit_code);
  void fail_waiting_invocations(const std::string& type, const std::string& message);
  void on_child_exit(pid_t pid, int status);
  asio::awaitable<void> watch_signals();
  asio::awaitable<void> shutdown();
  asio::awaitable<int> run_while_frozen();
  Extension* find_extension(const std::string& identifier);
  bool extensions_ready(bool invoke_only) const;
  double ms_since(std::chrono::steady_clock::time_point start) const;
  std::vector<pid_t> function_pids() const;
  void wake_all();

  asio::io_context& io_;
  Config config_;
  LambdaLog& log_;
  std::string runtime_api_;
  std::string marker_;
  std::unique_ptr<Freezer> freezer_;
  bool frozen_ = false;

  Phase phase_ = Phase::kInit;
  RuntimeStateMachine runtime_;
  pid_t runtime_pid_ = -1;
  bool runtime_alive_ = false;
  std::vector<std::unique_ptr<Extension>> extensions_;
  std::map<pid_t, std::function<void(int)>> child_watchers_;

  std::deque<std::shared_ptr<Invocation>> queue_;
  std::shared_ptr<Invocation> current_;        // handed to the runtime, END/REPORT not yet logged
  std::shared_ptr<Invocation> runtime_event_;  // waiting to be returned by invocation/next
  asio::steady_timer runtime_wake_;
  asio::steady_timer phase_timer_;
  asio::steady_timer invoke_timer_;
  asio::steady_timer stopped_;
  asio::steady_timer progress_;  // any process exit or extension call during shutdown
  asio::signal_set signals_;

  std::chrono::steady_clock::time_point init_start_;
  std::chrono::steady_clock::time_point restore_start_;
  std::chrono::steady_clock::time_point invoke_start_;
  std::optional<double> init_ms_;
  std::optional<double> restore_ms_;
  bool first_report_done_ = false;
  std::optional<int> exit_code_;
  std::string shutdown_reason_ = "spindown";
  std::string failure_type_ = "Emulator.ShuttingDown";  // what requests arriving after the end are told
  std::string failure_message_ = "the function environment is shutting down";
};

}  // namespace snapbus::emulator
