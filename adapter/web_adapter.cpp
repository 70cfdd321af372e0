#include "web_adapter.h"

#include <optional>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "app_forwarder.h"
#include "listen_notice.h"
#include "readiness.h"
#include "snapbus/lifecycle_step.h"
#include "snapbus/runtime_client.h"
#include "snapbus/step_progress.h"
#include "snapstart_bracket.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// LWA's async init: stop waiting just before Lambda's 10 s Init limit and let Init end; the first
// invocation waits for the rest.
constexpr std::chrono::milliseconds kAsyncInitReadinessLimit{9800};

class WebMode {
 public:
  WebMode(AdapterProcess& process, ListenNotices& notices)
      : process_(process),
        notices_(notices),
        config_(process.config()),
        runtime_(process.io().get_executor(), process.runtime_api()),
        forwarder_(process.io().get_executor(), config_, log_line) {}

  // The lifecycle, step by step.
  asio::awaitable<void> serve() {
    const bool bracket = config_.run_bracket && process_.snap_start();
    co_await wait_for_app(bracket);
    if (bracket) {
      if (!(co_await snapshot_and_restore())) co_return;
    } else if (config_.run_bracket) {
      lifecycle::StepLines lines([](std::string_view line) { log_line(fmt::format("running: {}", line)); });
      try {
        lifecycle::run_step(process_.publisher(), lifecycle::Step::running,
                            {.ack_timeout = process_.bus_config().ack_timeout}, lines);
      } catch (const Error& error) {
        // Running runs no hook: the app is served all the same, and the log says why the bus is not.
        log_line(fmt::format("running: {}", error.what()));
      }
    }
    co_await answer_invocations();
  }

 private:
  asio::awaitable<void> wait_for_app(bool bracket) {
    const ReadinessCheck check{.host = config_.app_host,
                               .port = config_.readiness_port,
                               .path = config_.readiness_path,
                               .protocol = config_.readiness_protocol,
                               .healthy = config_.healthy_status};
    // A snapshot of an app that is still booting would restore into copies that boot again, so
    // before the bracket the wait is never cut short.
    std::optional<Clock::duration> limit;
    if (config_.async_init && !bracket) limit = kAsyncInitReadinessLimit;
    const auto started = Clock::now();
    if (!notices_.receiving()) {
      log_line(fmt::format("listen notices off ({}): readiness is polled every {} ms", notices_.error(),
                           check.refused_retry.count()));
    }
    std::string ready_how;
    const Readiness readiness = co_await wait_until_ready(check, limit, log_line, &notices_, &ready_how);
    const auto listen = notices_.take_listen();
    notices_.close();
    if (readiness == Readiness::ready) {
      std::string noticed;
      if (listen) {
        noticed = fmt::format(" (pid {} announced its listen() on port {})", listen->pid, listen->port);
      } else if (notices_.app_announced()) {
        // A process the library does not reach listens: say so, since it is why the wait was longer.
        noticed = " (found by polling: no process of the app announced its listen())";
      }
      log_line(fmt::format("app ready on port {} after {:.1f} ms: {}{}", check.port, milliseconds_since(started),
                           ready_how, noticed));
    } else {
      log_line("app not ready within 9.8 s (AWS_LWA_ASYNC_INIT): Init ends now, the first invocation waits for it");
      forwarder_.set_app_ready(false);
    }
  }

  asio::awaitable<bool> snapshot_and_restore() {
    SnapStartBracket bracket(process_.publisher(), config_, process_.started(), process_.io().get_executor(), log_line,
                             [this](BusStep step) { return process_.run_step_aside(std::move(step)); });
    if (auto failure = co_await bracket.before_snapshot()) {
      // Stopped by a shutdown, which runs next: Lambda is ending this Init, nothing is to be reported.
      if (process_.stopping()) {
        log_line(fmt::format("before-snapshot stopped by the shutdown: {}", failure->message));
        co_return false;
      }
      co_await report(runtime_.init_error(*failure), "init/error", *failure);
      process_.finish(kExitInitFailed, "before-snapshot failed: Init reported as failed");
      co_return false;
    }
    // No socket to the app opened before the snapshot may be used after it.
    forwarder_.drop_connections();
    log_line("restore/next: the snapshot is taken now");
    auto restored = co_await runtime_.restore_next();
    if (!restored) {
      process_.finish(kExitRuntimeApiError, restored.error().message);
      co_return false;
    }
    restored_at_ = Clock::now();
    forwarder_.drop_connections();
    // The steady clock's reading, for a benchmark that times the first request on the same clock.
    // Written with the after-restore step's lines, once the workers have acked: nothing wakes the
    // log's reader while they run their hooks.
    std::string returned =
        fmt::format("restore/next returned: restored (monotonic_ns={})",
                    std::chrono::duration_cast<std::chrono::nanoseconds>(restored_at_->time_since_epoch()).count());
    if (auto failure = co_await bracket.after_restore(std::move(returned))) {
      co_await report(runtime_.restore_error(*failure), "restore/error", *failure);
      process_.finish(kExitRestoreFailed, "after-restore failed: restore reported as failed");
      co_return false;
    }
    log_line(fmt::format("restore complete {:.3f} ms after restore/next returned", milliseconds_since(*restored_at_)));
    co_return true;
  }

  static asio::awaitable<void> report(asio::awaitable<lambda::CallResult<void>> call, std::string_view what,
                                      lambda::FunctionError failure) {
    log_line(fmt::format("{}: {}: {}", what, failure.type, failure.message));
    auto sent = co_await std::move(call);
    if (!sent) log_line(fmt::format("{} was not accepted: {}", what, sent.error().message));
  }

  // One poller per invocation taken at once (AWS_LAMBDA_MAX_CONCURRENCY on Lambda Managed
  // Instances), each with its own long poll, as LWA's; the app gets their requests side by side.
  asio::awaitable<void> answer_invocations() {
    if (config_.max_concurrency == 1) {
      log_line("waiting for invocations");
    } else {
      log_line(
          fmt::format("waiting for invocations, {} at once (AWS_LAMBDA_MAX_CONCURRENCY)", config_.max_concurrency));
    }
    const auto executor = co_await asio::this_coro::executor;
    for (unsigned poller = 1; poller < config_.max_concurrency; ++poller) {
      asio::co_spawn(executor, poll_and_answer(), asio::detached);
    }
    co_await poll_and_answer();
  }

  asio::awaitable<void> poll_and_answer() {
    for (;;) {
      auto event = co_await runtime_.next();
      if (!event) {
        process_.finish(kExitRuntimeApiError, event.error().message);
        co_return;
      }
      if (restored_at_) {
        log_line(fmt::format("first invocation after the restore arrived {:.3f} ms after restore/next returned",
                             milliseconds_since(*restored_at_)));
        restored_at_.reset();
      }
      auto answered = co_await forwarder_.serve(*event, runtime_);
      if (!answered) {
        // A refusal of this one answer (400 InvalidRequestID, 403 InvalidStateTransition, 413
        // Function.ResponseSizeTooLarge) ends the invocation, not the environment. Only the API's own
        // failure (5xx: "Container error... Runtime should exit promptly", in its specification) or a
        // broken connection does, as for LWA's client.
        const unsigned status = answered.error().http_status;
        if (status >= 400 && status < 500) {
          log_line(fmt::format("the Runtime API refused the invocation's answer: {}; waiting for the next one",
                               answered.error().message));
          continue;
        }
        process_.finish(kExitRuntimeApiError, answered.error().message);
        co_return;
      }
    }
  }

  AdapterProcess& process_;
  ListenNotices& notices_;
  const AdapterConfig& config_;
  lambda::RuntimeClient runtime_;
  AppForwarder forwarder_;
  std::optional<Clock::time_point> restored_at_;
};

}  // namespace

int run_web_adapter(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch) {
  std::optional<TransitionSource> source;
  if (config.run_bracket) source = TransitionSource::runtime_api;
  // The mode after the process, so its sockets go before the process's io_context.
  AdapterProcess process(config, bus_config, launch, source);
  // Bound before the process registers, since Lambda starts the app once every extension has.
  ListenNotices notices(process.io().get_executor(), bus_config.segment_path);
  std::optional<WebMode> mode;
  return process.run([&mode, &notices](AdapterProcess& p) {
    mode.emplace(p, notices);
    return mode->serve();
  });
}

}  // namespace snapbus::adapter
