#include "environment.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "function_launcher.h"
#include "process_tree.h"

extern char** environ;

namespace snapbus::emulator {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kRuntimeVersion = "snapbus-emulator:0.1.0";
constexpr std::chrono::seconds kKillBound{5};

std::mt19937_64& rng() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

}  // namespace

std::string new_uuid() {
  const std::uint64_t hi = (rng()() & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  const std::uint64_t lo = (rng()() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                     lo & 0xFFFFFFFFFFFFULL);
}

namespace {

std::string new_trace_id() {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  return fmt::format("Root=1-{:08x}-{:08x}{:016x};Parent={:016x};Sampled=0", seconds, rng()() & 0xFFFFFFFF, rng()(),
                     rng()());
}

long long epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void diag(const std::string& text) {
  std::fprintf(stderr, "snapbus emulate: %s\n", text.c_str());
  std::fflush(stderr);
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal: {}", ::strsignal(WTERMSIG(status)));
  return "unknown status";
}

std::string error_message_of(const std::string& body) {
  return json_error_field(body, "errorMessage").value_or(body);
}

asio::awaitable<void> wait_for(asio::steady_timer& timer) {
  // Used as a broadcast condition: the timer never expires, cancel() wakes every waiter.
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

asio::awaitable<void> Invocation::wait_change() { co_await wait_for(changed); }

std::string new_marker() { return fmt::format("{}={}-{}", kEnvEmulatorId, ::getpid(), new_uuid()); }

Environment::Environment(asio::io_context& io, Config config, LambdaLog& log, std::string marker)
    : io_(io),
      config_(std::move(config)),
      log_(log),
      marker_(std::move(marker)),
      runtime_(config_.snapstart),
      runtime_wake_(io, Clock::time_point::max()),
      phase_timer_(io),
      invoke_timer_(io),
      stopped_(io, Clock::time_point::max()),
      progress_(io, Clock::time_point::max()),
      signals_(io, SIGINT, SIGTERM, SIGCHLD) {
  signals_.add(SIGHUP);
}

Environment::~Environment() = default;

std::string Environment::function_arn() const {
  std::string arn = fmt::format("arn:aws:lambda:{}:000000000000:function:{}", config_.region, config_.function_name);
  if (config_.function_version != "$LATEST") arn += ":" + config_.function_version;
  return arn;
}

double Environment::ms_since(Clock::time_point start) const {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void Environment::wake_all() {
  runtime_wake_.cancel();
  progress_.cancel();
  for (auto& ext : extensions_) ext->wake->cancel();
}

asio::awaitable<int> Environment::run() {
  asio::co_spawn(io_, watch_signals(), asio::detached);
  become_subreaper();
  if (config_.snapstart) {
    std::string note;
    try {
      freezer_ = Freezer::create(config_.freezer, freezer_cgroup_name(::getpid()), note);
    } catch (const std::exception& e) {
      diag(e.what());
      co_return 2;
    }
    diag("freezer: " + note);
    log_.note("freezer", boost::json::string(freezer_->backend()));
  }

  init_start_ = Clock::now();
  log_.init_start(kRuntimeVersion);
  phase_timer_.expires_after(config_.init_timeout);
  phase_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || phase_ != Phase::kInit) return;
    std::string missing;
    for (const auto& ext : extensions_) {
      if (ext->launched && !ext->registered) missing += (missing.empty() ? "" : ", ") + ext->name;
    }
    const double seconds = std::chrono::duration<double>(config_.init_timeout).count();
    fail_init("Sandbox.Timedout",
              missing.empty() ? fmt::format("Init did not complete within {:.2f} seconds", seconds)
                              : fmt::format("Init did not complete within {:.2f} seconds: extension(s) {} never "
                                            "registered",
                                            seconds, missing),
              "timeout");
  });

  for (const auto& path : find_extensions(config_.opt_dir)) {
    auto ext = std::make_unique<Extension>();
    ext->name = path.filename().string();
    ext->wake = std::make_unique<asio::steady_timer>(io_, Clock::time_point::max());
    try {
      ext->pid = spawn_process({.argv = {path.string()},
                                .env = function_environment(config_, runtime_api_,
                                                            config_.snapstart ? kInitTypeSnapStart : kInitTypeOnDemand,
                                                            marker_),
                                .cwd = config_.opt_dir},
                               freezer_.get());
    } catch (const LaunchError& e) {
      fail_init("Extension.LaunchError", e.what(), "error");
      break;
    }
    ext->launched = true;
    ext->alive = true;
    diag(fmt::format("started extension {} (pid {})", ext->name, ext->pid));
    extensions_.push_back(std::move(ext));
  }
  check_progress();
  while (!exit_code_) co_await wait_for(stopped_);
  co_await shutdown();
  co_return *exit_code_;
}

asio::awaitable<void> Environment::watch_signals() {
  for (;;) {
    boost::system::error_code ec;
    const int sig = co_await signals_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    if (sig == SIGCHLD) {
      int status = 0;
      pid_t pid = 0;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) on_child_exit(pid, status);
    } else {
      request_stop(sig);
    }
  }
}

void Environment::request_stop(int signal_number) {
  if (exit_code_) {
    diag(fmt::format("received {} again, still shutting down", ::strsignal(signal_number)));
    return;
  }
  diag(fmt::format("received {}, shutting the function down", ::strsignal(signal_number)));
  fail_waiting_invocations("Emulator.ShuttingDown", "the emulator is shutting down");
  stop(0);
}

void Environment::stop(int exit_code) {
  if (exit_code_) return;
  exit_code_ = exit_code;
  stopped_.cancel();
  wake_all();
}

void Environment::check_progress() {
  if (exit_code_) return;
  switch (phase_) {
    case Phase::kInit: {
      if (runtime_pid_ < 0) {
        for (const auto& ext : extensions_) {
          if (ext->launched && !ext->registered) return;
        }
        launch_runtime();
        if (exit_code_) return;
      }
      const auto state = runtime_.state();
      if ((state == RuntimeState::kIdle || state == RuntimeState::kRestoreWaiting) && extensions_ready(false)) {
        end_init();
      }
      return;
    }
    case Phase::kRestore:
      if (runtime_.state() == RuntimeState::kIdle) end_restore();
      return;
    case Phase::kReady:
      maybe_finish_current();
      dispatch();
      return;
    case Phase::kFrozen:
    case Phase::kShutdown:
      return;
  }
}

void Environment::launch_runtime() {
  const auto argv = runtime_argv(config_);
  try {
    runtime_pid_ = spawn_process(
        {.argv = argv,
         .env = function_environment(config_, runtime_api_,
                                     config_.snapstart ? kInitTypeSnapStart : kInitTypeOnDemand, marker_),
         .cwd = config_.task_root},
        freezer_.get());
  } catch (const LaunchError& e) {
    runtime_pid_ = 0;
    fail_init("Runtime.InvalidEntrypoint", e.what(), "error");
    return;
  }
  runtime_alive_ = true;
  diag(fmt::format("started runtime '{}' (pid {})", fmt::join(argv, " "), runtime_pid_));
}

bool Environment::extensions_ready(bool invoke_only) const {
  for (const auto& ext : extensions_) {
    if (!ext->registered || !ext->alive) continue;
    if (invoke_only && !ext->wants_invoke) continue;
    if (!ext->waiting || !ext->events.empty()) return false;
  }
  return true;
}

void Environment::end_init() {
  phase_timer_.cancel();
  init_ms_ = ms_since(init_start_);
  log_.init_report(*init_ms_, PhaseOutcome{});
  if (!config_.snapstart) {
    phase_ = Phase::kReady;
    check_progress();
    return;
  }
  phase_ = Phase::kFrozen;
  asio::co_spawn(io_, snapshot_and_restore(), asio::detached);
}

asio::awaitable<int> Environment::run_while_frozen() {
  pid_t pid = -1;
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  try {
    pid = spawn_process({.argv = {"/bin/sh", "-c", config_.while_frozen}, .env = env, .cwd = {}}, nullptr);
  } catch (const LaunchError& e) {
    diag(std::string("--while-frozen: ") + e.what());
    co_return -1;
  }
  auto status = std::make_shared<std::optional<int>>();
  child_watchers_[pid] = [status](int st) { *status = st; };
  while (!*status && !exit_code_) co_await wait_for(progress_);
  co_return status->value_or(-1);
}

asio::awaitable<void> Environment::snapshot_and_restore() {
  const auto freeze_start = Clock::now();
  try {
    freezer_->freeze();
  } catch (const std::exception& e) {
    diag(fmt::format("cannot freeze the function: {}", e.what()));
    fail_waiting_invocations("Emulator.FreezeError", e.what());
    stop(1);
    co_return;
  }
  frozen_ = true;
  diag(fmt::format("function frozen ({}) after Init", freezer_->backend()));
  if (!config_.while_frozen.empty()) {
    const int status = co_await run_while_frozen();
    if (exit_code_) co_return;  // interrupted while frozen: shutdown() thaws and cleans up
    std::string outcome = "not run";
    if (status >= 0) outcome = describe_exit(status);
    diag(fmt::format("--while-frozen command finished: {}", outcome));
  }
  if (exit_code_) co_return;
  freezer_->thaw();
  frozen_ = false;
  log_.note("frozenMs", ms_since(freeze_start));

  phase_ = Phase::kRestore;
  restore_start_ = Clock::now();
  log_.restore_start(kRuntimeVersion);
  phase_timer_.expires_after(config_.restore_timeout);
  phase_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || phase_ != Phase::kRestore) return;
    fail_restore("SnapStartTimeoutException",
                 fmt::format("the restore phase did not complete within {:.2f} seconds",
                             std::chrono::duration<double>(config_.restore_timeout).count()),
                 "timeout");
  });
  if (runtime_.state() == RuntimeState::kRestoreWaiting) {
    runtime_.restore_released();
    runtime_wake_.cancel();
  }
  check_progress();
}

void Environment::end_restore() {
  phase_timer_.cancel();
  restore_ms_ = ms_since(restore_start_);
  log_.restore_report(*restore_ms_, PhaseOutcome{});
  phase_ = Phase::kReady;
  check_progress();
}

void Environment::dispatch() {
  if (phase_ != Phase::kReady || current_ || queue_.empty() || runtime_event_ ||
      runtime_.state() != RuntimeState::kIdle || !extensions_ready(true)) {
    return;
  }
  auto inv = queue_.front();
  queue_.pop_front();
  current_ = inv;
  inv->deadline = std::chrono::system_clock::now() +
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(config_.timeout);
  invoke_start_ = Clock::now();
  log_.start(inv->request_id, config_.function_version);
  runtime_.event_delivered();
  runtime_event_ = inv;
  runtime_wake_.cancel();
  for (auto& ext : extensions_) {
    if (!ext->alive || !ext->wants_invoke) continue;
    boost::json::object event;
    event["eventType"] = "INVOKE";
    event["deadlineMs"] = epoch_ms(inv->deadline);
    event["requestId"] = inv->request_id;
    event["invokedFunctionArn"] = function_arn();
    event["tracing"] = {{"type", "X-Amzn-Trace-Id"}, {"value", inv->trace_id}};
    ext->events.push_back(boost::json::serialize(event));
    ext->wake->cancel();
  }
  invoke_timer_.expires_after(config_.timeout);
  invoke_timer_.async_wait([this, inv](boost::system::error_code ec) {
    if (ec || current_ != inv || inv->complete) return;
    shutdown_reason_ = "timeout";
    fail_invoke("Sandbox.Timedout",
                fmt::format("Task timed out after {:.2f} seconds",
                            std::chrono::duration<double>(config_.timeout).count()),
                "timeout");
  });
}

void Environment::maybe_finish_current() {
  if (!current_ || !current_->complete || !extensions_ready(true)) return;
  invoke_timer_.cancel();
  auto inv = std::move(current_);
  current_.reset();
  log_.end(inv->request_id);
  InvocationReport report;
  report.request_id = inv->request_id;
  report.duration_ms = ms_since(invoke_start_);
  report.memory_size_mb = config_.memory_size_mb;
  report.max_memory_used_mb = resident_mb(function_pids());
  if (!first_report_done_) {
    // Lambda bills Init on the first invocation of an on-demand environment, Restore after a restore.
    if (config_.snapstart) {
      report.restore_ms = restore_ms_;
    } else {
      report.init_ms = init_ms_;
    }
    first_report_done_ = true;
  }
  report.outcome.error_type = inv->error_type;
  log_.report(report);
}

std::vector<pid_t> Environment::function_pids() const {
  std::vector<pid_t> pids;
  if (runtime_alive_) pids.push_back(runtime_pid_);
  for (const auto& ext : extensions_) {
    if (ext->alive && ext->pid > 0) pids.push_back(ext->pid);
  }
  return pids;
}

void Environment::fail_waiting_invocations(const std::string& type, const std::string& message) {
  failure_type_ = type;
  failure_message_ = message;
  auto fail = [&](const std::shared_ptr<Invocation>& inv) {
    if (!inv || inv->complete) return;
    inv->error_type = type;
    inv->error_body = json_error(type, message);
    inv->complete = true;
    inv->notify();
  };
  fail(current_);
  for (auto& inv : queue_) fail(inv);
  queue_.clear();
}

void Environment::fail_init(const std::string& type, const std::string& message, const std::string& status) {
  if (exit_code_) return;
  phase_timer_.cancel();
  log_.init_report(ms_since(init_start_), PhaseOutcome{status, type});
  log_.error("", message, type);
  fail_waiting_invocations(type, message);
  shutdown_reason_ = "failure";
  stop(3);
}

void Environment::fail_restore(const std::string& type, const std::string& message, const std::string& status) {
  if (exit_code_) return;
  phase_timer_.cancel();
  log_.restore_report(ms_since(restore_start_), PhaseOutcome{status, type});
  log_.error("", message, type);
  fail_waiting_invocations(type, message);
  shutdown_reason_ = "failure";
  stop(4);
}

void Environment::fail_invoke(const std::string& type, const std::string& message, const std::string& status) {
  if (exit_code_) return;
  if (current_ && !current_->complete) {
    auto inv = std::move(current_);
    current_.reset();
    invoke_timer_.cancel();
    log_.error(inv->request_id, message, type);
    inv->error_type = type;
    inv->error_body = json_error(type, message);
    inv->complete = true;
    inv->notify();
    log_.end(inv->request_id);
    InvocationReport report;
    report.request_id = inv->request_id;
    report.duration_ms = ms_since(invoke_start_);
    report.memory_size_mb = config_.memory_size_mb;
    report.max_memory_used_mb = resident_mb(function_pids());
    report.outcome = PhaseOutcome{status, type};
    log_.report(report);
  } else {
    log_.error("", message, type);
  }
  fail_waiting_invocations(type, message);
  if (shutdown_reason_ != "timeout") shutdown_reason_ = "failure";
  stop(5);
}

void Environment::on_child_exit(pid_t pid, int status) {
  progress_.cancel();
  if (auto it = child_watchers_.find(pid); it != child_watchers_.end()) {
    auto watcher = std::move(it->second);
    child_watchers_.erase(it);
    watcher(status);
    return;
  }
  auto fail_phase = [&](const std::string& type, const std::string& message) {
    switch (phase_) {
      case Phase::kInit:
      case Phase::kFrozen: fail_init(type, message, "error"); break;
      case Phase::kRestore: fail_restore(type, message, "error"); break;
      case Phase::kReady: fail_invoke(type, message, "error"); break;
      case Phase::kShutdown: break;
    }
  };
  if (pid == runtime_pid_) {
    runtime_alive_ = false;
    runtime_.fail();
    if (exit_code_) return;
    diag(fmt::format("runtime (pid {}) exited: {}", pid, describe_exit(status)));
    fail_phase("Runtime.ExitError", "Runtime exited with error: " + describe_exit(status));
    return;
  }
  for (auto& ext : extensions_) {
    if (ext->pid != pid) continue;
    ext->alive = false;
    ext->waiting = false;
    if (exit_code_) return;
    diag(fmt::format("extension {} (pid {}) exited: {}", ext->name, pid, describe_exit(status)));
    fail_phase("Extension.Crash", fmt::format("Extension {} exited: {}", ext->name, describe_exit(status)));
    return;
  }
}

asio::awaitable<std::variant<ApiError, std::shared_ptr<Invocation>>> Environment::runtime_next() {
  if (auto error = runtime_.check(RuntimeCall::kNext)) {
    co_return ApiError{http::status::forbidden, "InvalidStateTransition", *error};
  }
  runtime_.apply(RuntimeCall::kNext);
  check_progress();
  // During shutdown nothing more comes: the runtime is told by SIGTERM, not by this call.
  while (!runtime_event_) co_await wait_for(runtime_wake_);
  auto inv = std::move(runtime_event_);
  runtime_event_.reset();
  co_return inv;
}

asio::awaitable<std::optional<ApiError>> Environment::runtime_restore_next() {
  if (auto error = runtime_.check(RuntimeCall::kRestoreNext)) {
    co_return ApiError{http::status::forbidden, "InvalidStateTransition", *error};
  }
  runtime_.apply(RuntimeCall::kRestoreNext);
  check_progress();
  while (runtime_.state() == RuntimeState::kRestoreWaiting || exit_code_) co_await wait_for(runtime_wake_);
  co_return std::nullopt;
}

std::variant<ApiError, std::shared_ptr<Invocation>> Environment::runtime_begin_answer(const std::string& request_id,
                                                                                      RuntimeCall call) {
  if (auto error = runtime_.check(call)) return ApiError{http::status::forbidden, "InvalidStateTransition", *error};
  if (!current_ || current_->request_id != request_id) {
    return ApiError{http::status::bad_request, "InvalidRequestID",
                    fmt::format("{} is not the request id of the invocation in progress", request_id)};
  }
  runtime_.apply(call);
  return current_;
}

void Environment::answer_updated(const std::shared_ptr<Invocation>& inv) { inv->notify(); }

void Environment::answer_finished(const std::shared_ptr<Invocation>& inv) {
  inv->complete = true;
  inv->notify();
  // END/REPORT (which reads /proc for the memory figure) after the caller has its answer: the
  // front door's wake-up is queued first.
  asio::post(io_, [this] { check_progress(); });
}

std::optional<ApiError> Environment::runtime_init_error(const std::string& type, const std::string& body) {
  if (auto error = runtime_.check(RuntimeCall::kInitError)) {
    return ApiError{http::status::forbidden, "InvalidStateTransition", *error};
  }
  runtime_.apply(RuntimeCall::kInitError);
  fail_init(type.empty() ? "Runtime.Unknown" : type, error_message_of(body), "error");
  return std::nullopt;
}

std::optional<ApiError> Environment::runtime_restore_error(const std::string& type, const std::string& body) {
  if (auto error = runtime_.check(RuntimeCall::kRestoreError)) {
    return ApiError{http::status::forbidden, "InvalidStateTransition", *error};
  }
  runtime_.apply(RuntimeCall::kRestoreError);
  fail_restore(type.empty() ? "Runtime.Unknown" : type, error_message_of(body), "error");
  return std::nullopt;
}

Environment::Extension* Environment::find_extension(const std::string& identifier) {
  for (auto& ext : extensions_) {
    if (ext->registered && ext->identifier == identifier) return ext.get();
  }
  return nullptr;
}

std::variant<ApiError, std::string> Environment::extension_register(const std::string& name, bool invoke,
                                                                    bool shutdown) {
  if (phase_ != Phase::kInit || exit_code_) {
    return ApiError{http::status::forbidden, "InvalidStateTransition",
                    "extensions can only register during Init"};
  }
  Extension* ext = nullptr;
  for (auto& candidate : extensions_) {
    if (candidate->name == name) ext = candidate.get();
  }
  if (ext != nullptr && ext->registered) {
    return ApiError{http::status::forbidden, "InvalidStateTransition",
                    fmt::format("extension {} is already registered", name)};
  }
  if (ext == nullptr) {
    // Not one we started: an internal extension registering from the runtime process.
    auto added = std::make_unique<Extension>();
    added->name = name;
    added->alive = true;
    added->wake = std::make_unique<asio::steady_timer>(io_, Clock::time_point::max());
    ext = added.get();
    extensions_.push_back(std::move(added));
  }
  ext->registered = true;
  ext->identifier = new_uuid();
  ext->wants_invoke = invoke;
  ext->wants_shutdown = shutdown;
  diag(fmt::format("extension {} registered (events:{}{})", name, invoke ? " INVOKE" : "",
                   shutdown ? " SHUTDOWN" : ""));
  check_progress();
  return ext->identifier;
}

asio::awaitable<std::variant<ApiError, std::string>> Environment::extension_next(const std::string& identifier) {
  Extension* ext = find_extension(identifier);
  if (ext == nullptr) {
    co_return ApiError{http::status::forbidden, "Extension.InvalidExtensionIdentifier",
                       fmt::format("'{}' is not the identifier of a registered extension", identifier)};
  }
  if (ext->waiting) {
    co_return ApiError{http::status::forbidden, "InvalidStateTransition",
                       fmt::format("extension {} is already waiting in event/next", ext->name)};
  }
  ext->waiting = true;
  progress_.cancel();
  check_progress();
  while (ext->events.empty()) co_await wait_for(*ext->wake);
  ext->waiting = false;
  std::string event = std::move(ext->events.front());
  ext->events.pop_front();
  co_return event;
}

std::optional<ApiError> Environment::extension_init_error(const std::string& identifier, const std::string& type,
                                                          const std::string& body) {
  Extension* ext = find_extension(identifier);
  if (ext == nullptr) {
    return ApiError{http::status::forbidden, "Extension.InvalidExtensionIdentifier",
                    fmt::format("'{}' is not the identifier of a registered extension", identifier)};
  }
  if (phase_ != Phase::kInit || exit_code_) {
    return ApiError{http::status::forbidden, "InvalidStateTransition", "init/error is only valid during Init"};
  }
  fail_init(type.empty() ? "Extension.InitError" : type,
            fmt::format("Extension {} failed to initialize: {}", ext->name, error_message_of(body)), "error");
  return std::nullopt;
}

std::optional<ApiError> Environment::extension_exit_error(const std::string& identifier, const std::string& type,
                                                          const std::string& body) {
  Extension* ext = find_extension(identifier);
  if (ext == nullptr) {
    return ApiError{http::status::forbidden, "Extension.InvalidExtensionIdentifier",
                    fmt::format("'{}' is not the identifier of a registered extension", identifier)};
  }
  const std::string error_type = type.empty() ? "Extension.ExitError" : type;
  const std::string message = fmt::format("Extension {} is exiting: {}", ext->name, error_message_of(body));
  switch (phase_) {
    case Phase::kInit:
    case Phase::kFrozen: fail_init(error_type, message, "error"); break;
    case Phase::kRestore: fail_restore(error_type, message, "error"); break;
    case Phase::kReady: fail_invoke(error_type, message, "error"); break;
    case Phase::kShutdown: log_.error("", message, error_type); break;
  }
  return std::nullopt;
}

std::shared_ptr<Invocation> Environment::submit(std::string payload, std::string client_context,
                                                std::string cognito_identity) {
  auto inv = std::make_shared<Invocation>(io_.get_executor());
  inv->request_id = new_uuid();
  inv->trace_id = new_trace_id();
  inv->payload = std::move(payload);
  inv->client_context = std::move(client_context);
  inv->cognito_identity = std::move(cognito_identity);
  if (exit_code_) {
    inv->error_type = failure_type_;
    inv->error_body = json_error(failure_type_, failure_message_);
    inv->complete = true;
    return inv;
  }
  queue_.push_back(inv);
  check_progress();
  return inv;
}

asio::awaitable<void> Environment::shutdown() {
  phase_ = Phase::kShutdown;
  phase_timer_.cancel();
  invoke_timer_.cancel();
  if (frozen_ && freezer_) {
    // A frozen process cannot act on SIGTERM: thaw first, then end it the orderly way.
    try {
      freezer_->thaw();
    } catch (const std::exception& e) {
      diag(e.what());
    }
    frozen_ = false;
  }
  const auto deadline = Clock::now() + config_.shutdown_timeout;
  if (runtime_alive_) ::kill(runtime_pid_, SIGTERM);
  for (auto& ext : extensions_) {
    if (!ext->alive || !ext->registered || !ext->wants_shutdown) continue;
    boost::json::object event;
    event["eventType"] = "SHUTDOWN";
    event["shutdownReason"] = shutdown_reason_;
    event["deadlineMs"] = epoch_ms(std::chrono::system_clock::now() +
                                   std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                       config_.shutdown_timeout));
    ext->events.push_back(boost::json::serialize(event));
    ext->got_shutdown = true;
    ext->wake->cancel();
  }
  auto done = [this] {
    if (runtime_alive_) return false;
    for (const auto& ext : extensions_) {
      if (!ext->alive || !ext->wants_shutdown || !ext->registered) continue;
      if (!(ext->waiting && ext->events.empty())) return false;
    }
    return true;
  };
  asio::steady_timer poll(io_);
  while (!done() && Clock::now() < deadline) {
    poll.expires_after(std::chrono::milliseconds(5));
    boost::system::error_code ec;
    co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (freezer_) freezer_->kill_all();
  if (!kill_descendants_and_reap(::getpid(), kKillBound)) diag("some processes of the function survived SIGKILL");
  for (pid_t pid : processes_with_env(marker_)) {
    if (pid != ::getpid()) ::kill(pid, SIGKILL);
  }
  runtime_alive_ = false;
  if (!config_.json_report.empty()) log_.write_json(config_.json_report, *exit_code_);
  diag(fmt::format("stopped (exit code {})", *exit_code_));
}

}  // namespace snapbus::emulator
