#include "environment.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>

#include "function_launcher.h"
#include "process_tree.h"
#include "snapbus/error_body.h"
#include "snapbus/request_id.h"

extern char** environ;

namespace snapbus::emulator {
namespace {

using Clock = std::chrono::steady_clock;
namespace http = boost::beast::http;

// How long function_pids()'s walk of /proc is kept: a few milliseconds of CPU on a busy machine, once
// a second at most rather than after every invocation.
constexpr std::chrono::seconds kFunctionPidsMaxAge{1};

double seconds_of(std::chrono::milliseconds duration) { return std::chrono::duration<double>(duration).count(); }

Failure shutting_down() { return {.type = std::string(kShuttingDownType), .message = "the emulator is shutting down"}; }

// "received Terminated"; SIGPIPE says what it means here.
std::string stop_signal_received(int signal_number) {
  if (signal_number == SIGPIPE) return "received Broken pipe (the reader of the emulator's output went away)";
  return fmt::format("received {}", ::strsignal(signal_number));
}

constexpr std::string_view kSnapStartTimeoutType = "SnapStartTimeoutException";

// What Lambda's Invoke API answers the invocation a failed restore was for: SnapStartTimeoutException
// (408) past the restore limit, SnapStartException (400) for any other failure (restore/error, the
// runtime gone), each with the service's message. What happened is in the log, as on Lambda, and
// at the end of the message here too.
ServiceError restore_failure_for_invoke(const std::string& type, const std::string& message) {
  if (type == kSnapStartTimeoutType) {
    return {.status = 408,
            .type = type,
            .message = fmt::format("Lambda couldn't restore the snapshot within the timeout limit. ({})", message)};
  }
  return {.status = 400,
          .type = "SnapStartException",
          .message = fmt::format("The afterRestore() runtime hook encountered an error. For more information, check "
                                 "the Amazon CloudWatch logs. ({}: {})",
                                 type, message)};
}

}  // namespace

std::string new_marker() { return fmt::format("{}={}-{}", kEnvEmulatorId, ::getpid(), lambda::new_request_id()); }

Environment::Environment(asio::io_context& io, Config config, LambdaLog& log, std::string marker, LaunchOutput output,
                         bool fresh)
    : io_(io),
      config_(std::move(config)),
      log_(log),
      marker_(std::move(marker)),
      output_(output),
      phases_(io, log, config_.snapstart),
      processes_(io, marker_,
                 {.runtime_exited = [this](pid_t pid, int status) { on_runtime_exit(pid, status); },
                  .child_exited = [this](pid_t pid, int status) { on_child_exit(pid, status); },
                  .stop_requested = [this](int signal_number) { request_stop(signal_number); }}),
      extensions_(io),
      dispatch_(io, config_.snapstart),
      function_processes_(::getpid(), kFunctionPidsMaxAge),
      fresh_(fresh) {}

std::string Environment::invoked_function_arn(std::string_view qualifier) const {
  std::string arn =
      fmt::format("arn:aws:lambda:{}:{}:function:{}", config_.region, kEmulatedAccountId, config_.function_name);
  if (!qualifier.empty()) arn += fmt::format(":{}", qualifier);
  return arn;
}

std::vector<std::string> Environment::process_environment() const {
  return function_environment(config_, runtime_api_, config_.snapstart ? kInitTypeSnapStart : kInitTypeOnDemand,
                              marker_);
}

std::vector<std::string> Environment::extension_environment() const {
  // What Lambda keeps from extensions: the runtime's own settings ("Extensions API" in Lambda's
  // developer guide lists them).
  static constexpr std::array<std::string_view, 10> kRuntimeOnly = {
      "AWS_EXECUTION_ENV",          "AWS_LAMBDA_LOG_GROUP_NAME",
      "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_XRAY_CONTEXT_MISSING",
      "AWS_XRAY_DAEMON_ADDRESS",    "LAMBDA_RUNTIME_DIR",
      "LAMBDA_TASK_ROOT",           "_AWS_XRAY_DAEMON_ADDRESS",
      "_AWS_XRAY_DAEMON_PORT",      "_HANDLER"};
  std::vector<std::string> env = process_environment();
  std::erase_if(env, [](const std::string& entry) {
    const std::string_view name = std::string_view(entry).substr(0, entry.find('='));
    return std::find(kRuntimeOnly.begin(), kRuntimeOnly.end(), name) != kRuntimeOnly.end();
  });
  return env;
}

asio::awaitable<int> Environment::run() {
  processes_.start();
  if (config_.snapstart) {
    try {
      diagnostic("freezer: " + processes_.create_freezer(config_.freezer));
    } catch (const std::exception& e) {
      diagnostic(e.what());
      co_return kExitUsage;
    }
    log_.note("freezer", boost::json::string(processes_.freezer_backend()));
  }
  if (fresh_) {
    co_await dispatch_.wait_queued();
    if (phases_.stopping()) {
      co_await shutdown();
      co_return phases_.exit_code();
    }
    diagnostic("starting a fresh environment for the waiting invocation");
  }
  init_begun_ = true;
  // An on-demand Init run again for the invocation that waits for it has the function's timeout,
  // not the Init limit, as Lambda's "suppressed init": a function whose Init outgrew the limit still
  // serves.
  const bool for_an_invocation = fresh_ && !config_.snapstart;
  const auto init_limit = for_an_invocation ? config_.timeout : config_.init_timeout;
  phases_.begin_init(
      init_limit,
      [this, init_limit] {
        fail("Sandbox.Timedout",
             fmt::format("Init did not complete within {:.2f} seconds: {}", seconds_of(init_limit), init_waits_for()),
             "timeout");
      },
      for_an_invocation ? "invoke" : "init");
  launch_extensions();
  extensions_launched_ = true;
  check_progress();
  co_await phases_.wait_stopped();
  co_await shutdown();
  co_return exit_code();
}

int Environment::exit_code() const { return stopped_while_failing_ ? kExitOk : phases_.exit_code(); }

std::string Environment::init_waits_for() const {
  if (const auto missing = extensions_.unregistered(); !missing.empty()) {
    return fmt::format("extension(s) {} never registered", fmt::join(missing, ", "));
  }
  std::vector<std::string> waits;
  if (dispatch_.runtime_state() == RuntimeState::starting) {
    waits.emplace_back(config_.snapstart ? "the runtime never called restore/next or invocation/next"
                                         : "the runtime never called invocation/next");
  }
  if (const auto busy = extensions_.not_waiting(); !busy.empty()) {
    waits.push_back(fmt::format("extension(s) {} never called event/next", fmt::join(busy, ", ")));
  }
  return waits.empty() ? "it was still ending" : fmt::format("{}", fmt::join(waits, "; "));
}

void Environment::launch_extensions() {
  for (const auto& path : find_extensions(config_.opt_dir)) {
    const std::string name = path.filename().string();
    pid_t pid = -1;
    try {
      pid = processes_.launch_extension(
          {.argv = {path.string()}, .env = extension_environment(), .cwd = config_.opt_dir, .output = output_});
    } catch (const LaunchError& e) {
      fail("Extension.LaunchError", e.what(), "error");
      return;
    }
    extensions_.add_launched(name, pid);
    diagnostic(fmt::format("started extension {} (pid {})", name, pid));
  }
}

void Environment::launch_runtime() {
  const auto argv = runtime_argv(config_);
  pid_t pid = -1;
  try {
    pid = processes_.launch_runtime(
        {.argv = argv, .env = process_environment(), .cwd = config_.task_root, .output = output_});
  } catch (const LaunchError& e) {
    fail("Runtime.InvalidEntrypoint", e.what(), "error");
    return;
  }
  diagnostic(fmt::format("started runtime '{}' (pid {})", fmt::join(argv, " "), pid));
}

void Environment::request_stop(int signal_number) {
  if (successor_ != nullptr) {
    successor_->request_stop(signal_number);
    return;
  }
  if (phases_.stopping() && wants_fresh_) {
    // This environment failed and is shutting down for a fresh one, which the stop now cancels:
    // what waits for it is answered at once. The failure was already reported and handled (by
    // replacing the environment), so the emulator exits as after any stop.
    diagnostic(stop_signal_received(signal_number) + ", shutting down with no fresh environment to follow");
    wants_fresh_ = false;
    stopped_while_failing_ = true;
    const Failure failure = shutting_down();
    record_unreported(dispatch_.close(failure), failure.status);
    return;
  }
  if (phases_.stopping()) {
    diagnostic(stop_signal_received(signal_number) + " again, still shutting down");
    return;
  }
  diagnostic(stop_signal_received(signal_number) + ", shutting the function down");
  end(kExitOk, shutting_down());
}

void Environment::end(int exit_code, Failure failure) {
  if (phases_.stopping()) return;
  std::optional<double> suppressed_init_ms;
  if (exit_code == kExitInitFailed && phases_.init_runs_for_an_invocation()) {
    suppressed_init_ms = phases_.startup_failure_ms();
  }
  wants_fresh_ = !config_.exit_on_failure &&
                 (exit_code == kExitInitFailed || exit_code == kExitRestoreFailed || exit_code == kExitInvokeFailed);
  const std::string status = failure.status;
  record_unreported(wants_fresh_ ? dispatch_.hand_over(std::move(failure), exit_code != kExitInvokeFailed)
                                 : dispatch_.close(std::move(failure)),
                    status, suppressed_init_ms);
  phases_.stop(exit_code);
  processes_.stop_waiting();
  extensions_.wake_all();
}

void Environment::record_unreported(const std::vector<std::shared_ptr<Invocation>>& invocations,
                                    std::string_view status, std::optional<double> suppressed_init_ms) {
  for (const auto& inv : invocations) {
    if (suppressed_init_ms && inv->started == Clock::time_point{}) {
      report_suppressed_init(*inv, *suppressed_init_ms, PhaseOutcome{std::string(status), inv->error_type});
      suppressed_init_ms.reset();
      continue;
    }
    std::optional<double> ran_ms;
    if (inv->started != Clock::time_point{}) {
      ran_ms = std::chrono::duration<double, std::milli>(Clock::now() - inv->started).count();
    }
    // One the runtime had answered well is a success for its caller, REPORT or not.
    const bool answered_well = inv->error_type.empty() && !inv->service_error;
    log_.unreported(inv->request_id,
                    answered_well ? PhaseOutcome{}
                                  : PhaseOutcome{std::string(status),
                                                 inv->service_error ? inv->service_error->type : inv->error_type},
                    ran_ms);
  }
}

// As Lambda's log of a suppressed Init that failed: its INIT_REPORT (Phase: invoke) and error line,
// then the invocation's START, END and REPORT, which bills the Init it waited for (a timeout bills
// the function's timeout) and repeats its outcome. The invocation was answered already; its log tail
// is these lines, written before any waiter runs.
void Environment::report_suppressed_init(Invocation& inv, double init_ms, const PhaseOutcome& outcome) {
  log_.start(inv.request_id, config_.function_version);
  log_.end(inv.request_id);
  InvocationReport report = invocation_report(inv);
  report.duration_ms = init_ms;
  report_failure(report, outcome);
  inv.close_log(log_.take_tail());
}

// As Lambda's: a timed-out invocation lasted, and is billed, its timeout, not the moment the timer ran.
void Environment::report_failure(InvocationReport report, const PhaseOutcome& outcome) {
  if (outcome.status == "timeout") {
    report.duration_ms =
        std::min(report.duration_ms, std::chrono::duration<double, std::milli>(config_.timeout).count());
  }
  report.outcome = outcome;
  log_.report(report);
}

void Environment::check_progress() {
  if (phases_.stopping()) return;
  switch (phases_.phase()) {
    case Phase::init: advance_init(); return;
    case Phase::restore:
      if (dispatch_.runtime_state() == RuntimeState::idle) {
        phases_.end_restore();
        check_progress();
      }
      return;
    case Phase::ready:
      finish_invocation();
      start_invocation();
      return;
    case Phase::frozen:
    case Phase::shutdown: return;
  }
}

void Environment::advance_init() {
  // Lambda starts the runtime once every external extension has registered. (A fresh environment
  // hears of its first invocation before its extensions are started: nothing moves before that.)
  if (!extensions_launched_) return;
  if (!processes_.runtime_launch_attempted()) {
    if (!extensions_.unregistered().empty()) return;
    launch_runtime();
    if (phases_.stopping()) return;
  }
  // Init ends when the runtime waits for its first event (or, with SnapStart, for the restore)
  // and every extension waits in event/next.
  const auto state = dispatch_.runtime_state();
  if ((state != RuntimeState::idle && state != RuntimeState::restore_waiting) || !extensions_.ready(false)) return;
  phases_.end_init();
  // On demand, Lambda's log has no line for an Init that succeeded (its duration comes with the
  // first REPORT): say here that the function is ready.
  if (!config_.snapstart)
    diagnostic(fmt::format("Init done in {:.2f} ms; waiting for invocations", *phases_.init_ms()));
  // Read once here, before any event can go out: a runtime that crashes as soon as it has its first
  // event may be gone before the sample posted behind that event is taken.
  memory_sample_mb_ = memory_.peak_mb(function_pids());
  if (config_.snapstart) {
    asio::co_spawn(io_, snapshot_and_restore(), asio::detached);
  } else {
    check_progress();
  }
}

asio::awaitable<void> Environment::run_while_frozen() {
  // The command runs in the emulator's own environment, not the function's.
  LaunchSpec command;
  command.argv = {"/bin/sh", "-c", config_.while_frozen};
  for (char** e = environ; *e != nullptr; ++e) command.env.emplace_back(*e);
  std::string marker = fmt::format("{}={}-{}", kEnvWhileFrozenId, ::getpid(), lambda::new_request_id());
  command.env.push_back(marker);
  // What it leaves running was adopted by the emulator, not started by the function.
  function_processes_.leave_out(std::move(marker));
  int status = -1;
  try {
    status = co_await processes_.run_command(command);
  } catch (const LaunchError& e) {
    diagnostic(std::string("--while-frozen: ") + e.what());
  }
  if (phases_.stopping()) co_return;  // interrupted while frozen: shutdown() thaws and cleans up
  std::string outcome = "not run";
  if (status >= 0) outcome = describe_exit(status);
  diagnostic("--while-frozen command finished: " + outcome);
}

asio::awaitable<void> Environment::snapshot_and_restore() {
  const auto freeze_start = Clock::now();
  try {
    processes_.freeze();
  } catch (const std::exception& e) {
    diagnostic(fmt::format("cannot freeze the function: {}", e.what()));
    end(kExitInternalError, {.type = "Emulator.FreezeError", .message = e.what()});
    co_return;
  }
  diagnostic(fmt::format("function frozen ({}) after Init", processes_.freezer_backend()));
  if (!config_.while_frozen.empty()) co_await run_while_frozen();
  if (phases_.stopping()) co_return;
  processes_.thaw();
  log_.note("frozenMs", std::chrono::duration<double, std::milli>(Clock::now() - freeze_start).count());

  phases_.begin_restore(config_.restore_timeout, [this] {
    fail(std::string(kSnapStartTimeoutType),
         fmt::format("the restore phase did not complete within {:.2f} seconds", seconds_of(config_.restore_timeout)),
         "timeout");
  });
  dispatch_.release_restore();
  check_progress();
}

void Environment::start_invocation() {
  if (!extensions_.ready(true)) return;
  auto inv = dispatch_.start_next(config_.timeout, [this] {
    // Answered, and its INVOKE extensions are back in event/next: it is ending, not late.
    if (dispatch_.current_answered() && extensions_.ready(true)) return;
    phases_.set_shutdown_reason(ShutdownReason::timeout);
    fail_invoke("Sandbox.Timedout", fmt::format("Task timed out after {:.2f} seconds", seconds_of(config_.timeout)),
                "timeout");
  });
  if (!inv) return;
  // Sampled now too: a runtime that crashes has no memory left to read once the invocation ends.
  // Only what is resident now, which costs half of the peak's read, and only once the event is
  // out (its wake-up is queued first): the peak's read costs about 3.5 us per process, so it came
  // before the event and a function with more processes waited longer for every event. The
  // report's exact peak is read after the caller has its answer.
  asio::post(io_, [this] { memory_sample_mb_ = std::max(memory_sample_mb_, memory_.current_mb(function_pids())); });
  log_.start(inv->request_id, config_.function_version);
  extensions_.post_invoke(inv->request_id, inv->deadline, invoked_function_arn(inv->qualifier), inv->trace_id);
}

const std::vector<pid_t>& Environment::function_pids() {
  std::vector<pid_t> roots = processes_.runtime_pids();
  for (pid_t pid : extensions_.live_pids()) roots.push_back(pid);
  return function_processes_.current(roots);
}

InvocationReport Environment::invocation_report(const Invocation& inv) {
  InvocationReport report;
  report.request_id = inv.request_id;
  report.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - inv.started).count();
  report.memory_size_mb = config_.memory_size_mb;
  report.max_memory_used_mb = std::max(memory_sample_mb_, memory_.peak_mb(function_pids()));
  // Lambda stops a function that outgrows its memory; the emulator does not, so it says so, once.
  if (report.max_memory_used_mb > report.memory_size_mb && !memory_warned_) {
    memory_warned_ = true;
    diagnostic(fmt::format(
        "Max Memory Used {} MB is above Memory Size {} MB: Lambda would stop this function, so raise --memory-size "
        "(the figure counts a page that several processes share once per process, so it may read above Lambda's)",
        report.max_memory_used_mb, report.memory_size_mb));
  }
  return report;
}

void Environment::finish_invocation() {
  // An invocation ends (END, REPORT) once the runtime answered and every INVOKE extension is back in event/next.
  if (!extensions_.ready(true)) return;
  auto inv = dispatch_.take_completed();
  if (!inv) return;
  log_.end(inv->request_id);
  InvocationReport report = invocation_report(*inv);
  phases_.bill_first_report(report);
  // A function error is an invocation that ended in error, as Lambda's platform.report says.
  if (!inv->error_type.empty()) {
    report.outcome = PhaseOutcome{"error", inv->error_type};
    report.function_error = true;
  }
  log_.report(report);
  inv->close_log(log_.take_tail());
}

void Environment::fail(const std::string& type, const std::string& message, const std::string& status,
                       const std::string& runtime_body) {
  switch (phases_.phase()) {
    case Phase::init:
    case Phase::frozen:
    case Phase::restore: {
      if (phases_.stopping()) return;
      // A failure while frozen is the restore's too (report_startup_failure).
      const bool restoring = phases_.phase() == Phase::restore || phases_.phase() == Phase::frozen;
      const int exit_code = phases_.report_startup_failure(type, message, status);
      phases_.set_shutdown_reason(ShutdownReason::failure);
      Failure failure{.type = type, .message = message, .runtime_body = runtime_body, .status = status};
      if (restoring) failure.service_error = restore_failure_for_invoke(type, message);
      end(exit_code, std::move(failure));
      return;
    }
    case Phase::ready: fail_invoke(type, message, status); return;
    case Phase::shutdown: log_.error("", message, type); return;
  }
}

void Environment::fail_invoke(const std::string& type, const std::string& message, const std::string& status) {
  if (phases_.stopping()) return;
  // Also an invocation the runtime had answered: an INVOKE extension that failed or ran past the
  // timeout ends it in error all the same, with its END and REPORT.
  if (auto inv = dispatch_.end_current(type, message)) {
    log_.error(inv->request_id, message, type);
    log_.end(inv->request_id);
    InvocationReport report = invocation_report(*inv);
    // The environment ends here, so no later REPORT would carry its cold start.
    phases_.bill_first_report(report);
    report_failure(report, PhaseOutcome{status, type});
    inv->close_log(log_.take_tail());
  } else {
    log_.error("", message, type);
  }
  phases_.set_shutdown_reason(ShutdownReason::failure);
  end(kExitInvokeFailed, {.type = type, .message = message});
}

void Environment::on_runtime_exit(pid_t pid, int status) {
  dispatch_.runtime_failed();
  if (phases_.stopping()) return;
  diagnostic(fmt::format("runtime (pid {}) exited: {}", pid, describe_exit(status)));
  fail("Runtime.ExitError", "Runtime exited with error: " + describe_exit(status), "error");
}

void Environment::on_child_exit(pid_t pid, int status) {
  const Extension* ext = extensions_.exited(pid);
  if (ext == nullptr || phases_.stopping()) return;
  diagnostic(fmt::format("extension {} (pid {}) exited: {}", ext->name, pid, describe_exit(status)));
  fail("Extension.Crash", fmt::format("Extension {} exited: {}", ext->name, describe_exit(status)), "error");
}

asio::awaitable<std::variant<ApiError, std::shared_ptr<Invocation>>> Environment::runtime_next(
    std::shared_ptr<NextPoll> poll) {
  if (auto error = dispatch_.poll_next(poll)) co_return *error;
  check_progress();
  co_return co_await dispatch_.next_event(poll);
}

void Environment::runtime_next_abandoned(const std::shared_ptr<NextPoll>& poll) {
  // Every runtime does this as it stops: only news while the environment runs on.
  if (!phases_.stopping()) {
    diagnostic("the runtime closed its invocation/next connection before an event was handed over");
  }
  dispatch_.next_abandoned(poll);
  check_progress();
}

asio::awaitable<std::optional<ApiError>> Environment::runtime_restore_next() {
  if (auto error = dispatch_.apply(RuntimeCall::restore_next)) co_return error;
  check_progress();
  co_await dispatch_.restore_released();
  co_return std::nullopt;
}

std::variant<ApiError, std::shared_ptr<Invocation>> Environment::runtime_begin_answer(const std::string& request_id,
                                                                                      RuntimeCall call) {
  return dispatch_.begin_answer(request_id, call);
}

void Environment::answer_updated(const std::shared_ptr<Invocation>& inv) { inv->notify(); }

void Environment::answer_finished(const std::shared_ptr<Invocation>& inv) {
  inv->complete = true;
  inv->notify();
  // END/REPORT (which reads /proc for the memory figure) after the caller has its answer: the
  // front door's wake-up is queued first.
  asio::post(io_, [this] { check_progress(); });
}

// Once the environment has ended (a timeout, an error already reported, a shutdown), Lambda tears it
// down, and a runtime's error report that comes after reaches no one: refused here, where it would
// otherwise be reported as a second failure of an environment that has one.
std::optional<ApiError> Environment::refused_once_ended(std::string_view call, const std::string& type) {
  if (!phases_.stopping()) return std::nullopt;
  diagnostic(fmt::format("the runtime's {} ({}) came after the environment ended: refused", call,
                         type.empty() ? std::string_view("no error type") : std::string_view(type)));
  return ApiError{http::status::forbidden, "InvalidStateTransition",
                  fmt::format("{} after the environment ended", call)};
}

std::optional<ApiError> Environment::runtime_init_error(const std::string& type, const std::string& body) {
  if (auto ended = refused_once_ended("init/error", type)) return ended;
  if (auto error = dispatch_.apply(RuntimeCall::init_error)) return error;
  fail(type.empty() ? "Runtime.Unknown" : type, lambda::error_message_of(body), "error", body);
  return std::nullopt;
}

std::optional<ApiError> Environment::runtime_restore_error(const std::string& type, const std::string& body) {
  if (auto ended = refused_once_ended("restore/error", type)) return ended;
  if (auto error = dispatch_.apply(RuntimeCall::restore_error)) return error;
  fail(type.empty() ? "Runtime.Unknown" : type, lambda::error_message_of(body), "error", body);
  return std::nullopt;
}

std::variant<ApiError, std::string> Environment::extension_register(const std::string& name, bool invoke,
                                                                    bool shutdown) {
  if (phases_.phase() != Phase::init || phases_.stopping()) {
    return ApiError{http::status::forbidden, "Extension.RegistrationClosed",
                    "Extension registration closed already: extensions can only register during Init"};
  }
  auto registered = extensions_.register_extension(name, invoke, shutdown);
  if (std::holds_alternative<std::string>(registered)) {
    diagnostic(fmt::format("extension {} registered (events:{}{})", name, invoke ? " INVOKE" : "",
                           shutdown ? " SHUTDOWN" : ""));
    check_progress();
  }
  return registered;
}

asio::awaitable<std::variant<ApiError, std::string>> Environment::extension_next(const std::string& identifier) {
  auto begun = extensions_.begin_next(identifier);
  if (auto* error = std::get_if<ApiError>(&begun)) co_return *error;
  check_progress();
  co_return co_await extensions_.next_event(*std::get<Extension*>(begun));
}

std::optional<ApiError> Environment::extension_init_error(const std::string& identifier, const std::string& type,
                                                          const std::string& body) {
  auto found = extensions_.find(identifier);
  if (auto* error = std::get_if<ApiError>(&found)) return *error;
  if (phases_.phase() != Phase::init || phases_.stopping()) {
    return ApiError{http::status::forbidden, "InvalidStateTransition", "init/error is only valid during Init"};
  }
  // Always Extension.InitError, as the RIE's handler stores it: the extension's own type goes into the message.
  fail("Extension.InitError",
       fmt::format("Extension {} failed to initialize ({}): {}", std::get<Extension*>(found)->name, type,
                   lambda::error_message_of(body)),
       "error");
  return std::nullopt;
}

std::optional<ApiError> Environment::extension_exit_error(const std::string& identifier, const std::string& type,
                                                          const std::string& body) {
  auto found = extensions_.find(identifier);
  if (auto* error = std::get_if<ApiError>(&found)) return *error;
  fail("Extension.ExitError",
       fmt::format("Extension {} is exiting ({}): {}", std::get<Extension*>(found)->name, type,
                   lambda::error_message_of(body)),
       "error");
  return std::nullopt;
}

std::shared_ptr<Invocation> Environment::submit(InvocationRequest request) {
  auto inv = dispatch_.submit(std::move(request));
  // Refused at once: the emulator is stopping.
  if (inv->complete) record_unreported({inv}, "error");
  check_progress();
  return inv;
}

void Environment::caller_gone(const std::shared_ptr<Invocation>& inv) {
  if (dispatch_.withdraw(inv, "Client.Disconnected",
                         "the caller closed its connection before the invocation started")) {
    record_unreported({inv}, "error");
  }
}

asio::awaitable<void> Environment::poll_until(const std::function<bool()>& done, Clock::time_point deadline) {
  asio::steady_timer poll(io_);
  while (!done() && Clock::now() < deadline) {
    poll.expires_after(std::chrono::milliseconds(5));
    boost::system::error_code ec;
    co_await poll.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

// Lambda's order (its graceful-shutdown documentation, and the RIE's rapid/shutdown.go): the
// runtime's process group first, SIGTERM and a share of the time to act on it (the documented 300
// ms of 2 s, 500 with an internal extension; the RIE gives 30%), then SIGKILL, and once the runtime
// is gone, SHUTDOWN to the extensions, which get the rest. So an extension that acts at SHUTDOWN (the
// adapter publishing shutting-down) finds the runtime's processes gone. A function without
// extensions gets no graceful shutdown at all: SIGKILL at once.
asio::awaitable<void> Environment::shutdown() {
  phases_.begin_shutdown();
  const auto start = Clock::now();
  const auto deadline = start + config_.shutdown_timeout;
  const auto wall_deadline = std::chrono::system_clock::now() +
                             std::chrono::duration_cast<std::chrono::system_clock::duration>(config_.shutdown_timeout);
  if (extensions_.empty()) {
    processes_.terminate_runtime(SIGKILL);
  } else {
    processes_.terminate_runtime(SIGTERM);
    const double runtime_share =
        extensions_.has_internal() ? kRuntimeShutdownShareWithInternalExtension : kRuntimeShutdownShare;
    const auto runtime_deadline =
        start + std::chrono::duration_cast<Clock::duration>(config_.shutdown_timeout * runtime_share);
    // Named, not temporaries in the co_await expression (GCC 12 mishandles those).
    const std::function<bool()> runtime_gone = [this] { return !processes_.runtime_alive(); };
    co_await poll_until(runtime_gone, runtime_deadline);
    if (processes_.runtime_alive()) {
      diagnostic("the runtime did not exit within its share of the shutdown time after SIGTERM: SIGKILL");
      processes_.terminate_runtime(SIGKILL);
      // As the RIE's kill, which returns once the process is gone: an extension told SHUTDOWN must
      // not find the runtime still holding what it held.
      const auto reaped_by = std::min(deadline, Clock::now() + kRuntimeReapWait);
      co_await poll_until(runtime_gone, reaped_by);
    }
  }
  extensions_.post_shutdown(std::string(to_string(phases_.shutdown_reason())), wall_deadline);
  const std::function<bool()> extensions_done = [this] { return extensions_.shutdown_acknowledged(); };
  co_await poll_until(extensions_done, deadline);
  processes_.end_all();
  if (!config_.json_report.empty()) log_.write_json(config_.json_report, exit_code());
  if (wants_fresh_) {
    diagnostic(
        fmt::format("the failed environment stopped (with --exit-on-failure the emulator would exit {}); "
                    "the next invocation starts a fresh one",
                    phases_.exit_code()));
  }
}

}  // namespace snapbus::emulator
