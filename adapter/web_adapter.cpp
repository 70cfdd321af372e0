#include "web_adapter.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app_forwarder.h"
#include "readiness.h"
#include "snapbus/extension_client.h"
#include "snapbus/lambda_protocol.h"
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
// What is kept back from a SHUTDOWN deadline for exiting after the subscribers' shutdown hooks.
constexpr std::chrono::milliseconds kShutdownExitMargin{200};

void log_line(std::string_view line) {
  // One write per line, so lines from the adapter and the app do not interleave mid-line.
  const std::string text = fmt::format("[snapbus] {}\n", line);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

class WebAdapter {
 public:
  WebAdapter(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch)
      : config_(config), bus_config_(bus_config), launch_(launch) {}

  int run() {
    asio::signal_set signals(io_, SIGTERM, SIGINT);
    signals.async_wait([this](const boost::system::error_code& error, int signal) {
      if (error) return;
      log_line(fmt::format("{}: shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT"));
      shut_down(std::nullopt);
    });
    asio::co_spawn(io_, serve(), [this](const std::exception_ptr& failure) {
      if (failure) failed_ = failure;
    });
    io_.run();
    if (failed_) std::rethrow_exception(failed_);
    return exit_code_;
  }

 private:
  // The lifecycle, step by step.
  asio::awaitable<void> serve() {
    if (config_.runtime_api.empty()) {
      co_return finish(kExitRuntimeApiError, fmt::format("{} is not set: not running in Lambda or under `snapbus emulate`",
                                                         kEnvRuntimeApi));
    }
    const auto api = net::parse_host_port(config_.runtime_api);
    if (!api) co_return finish(kExitRuntimeApiError, api.error().message);
    if (!create_segment()) co_return;
    runtime_.emplace(io_.get_executor(), *api);
    forwarder_.emplace(io_.get_executor(), config_);
    if (launch_.extension_name && !(co_await register_extension(*api))) co_return;
    const bool snap_start = bus_config_.lambda_init_type == lambda::kInitTypeSnapStart;
    co_await wait_for_app(snap_start);
    if (snap_start) {
      if (!(co_await snapshot_and_restore())) co_return;
    } else {
      lifecycle::StepLines lines([](std::string_view line) { log_line(fmt::format("running: {}", line)); });
      lifecycle::run_step(*publisher_, lifecycle::Step::running, {.ack_timeout = bus_config_.ack_timeout}, lines);
    }
    co_await answer_invocations();
  }

  // The segment exists before the app starts, so every worker finds it when it subscribes.
  bool create_segment() {
    publisher_.emplace(Publisher::acquire({.path = bus_config_.segment_path,
                                           .slot_count = bus_config_.slot_count,
                                           .group = bus_config_.segment_group,
                                           .init_type = init_type_from_lambda(bus_config_.lambda_init_type),
                                           .source = TransitionSource::runtime_api}));
    lifecycle::run_step(*publisher_, lifecycle::Step::starting, {.ack_timeout = bus_config_.ack_timeout});
    log_line(fmt::format("segment {} ({}), init type {}", bus_config_.segment_path.string(),
                         publisher_->took_over() ? "taken over" : "created",
                         bus_config_.lambda_init_type.empty() ? "unknown" : bus_config_.lambda_init_type));
    return true;
  }

  // Registered for SHUTDOWN only: invocations come through the Runtime API, where the adapter is
  // the runtime client.
  asio::awaitable<bool> register_extension(net::HostPort api) {
    lambda::ExtensionClient& extension = extension_.emplace(io_.get_executor(), std::move(api));
    const std::vector events{lambda::ExtensionEventType::shutdown};
    auto registered = co_await extension.register_extension(*launch_.extension_name, events);
    if (!registered) {
      finish(kExitRuntimeApiError, registered.error().message);
      co_return false;
    }
    log_line(fmt::format("registered as extension '{}' for SHUTDOWN", *launch_.extension_name));
    asio::co_spawn(io_, watch_for_shutdown(), asio::detached);
    co_return true;
  }

  asio::awaitable<void> watch_for_shutdown() {
    auto event = co_await extension_->next();
    if (!event) co_return finish(kExitRuntimeApiError, event.error().message);
    log_line(fmt::format("SHUTDOWN ({})", event->shutdown_reason.empty() ? "no reason given" : event->shutdown_reason));
    shut_down(event->deadline_ms);
  }

  asio::awaitable<void> wait_for_app(bool snap_start) {
    const ReadinessCheck check{.host = config_.app_host,
                               .port = config_.readiness_port,
                               .path = config_.readiness_path,
                               .protocol = config_.readiness_protocol,
                               .healthy = config_.healthy_status};
    // A snapshot of an app that is still booting would restore into copies that boot again, so
    // under SnapStart the wait is never cut short.
    std::optional<Clock::duration> limit;
    if (config_.async_init && !snap_start) limit = kAsyncInitReadinessLimit;
    const auto started = Clock::now();
    const Readiness readiness = co_await wait_until_ready(check, limit, log_line);
    if (readiness == Readiness::ready) {
      log_line(fmt::format("app ready on port {} after {:.1f} ms", check.port, milliseconds_since(started)));
    } else {
      log_line("app not ready within 9.8 s (AWS_LWA_ASYNC_INIT): Init ends now, the first invocation waits for it");
      forwarder_->expect_app_not_ready();
    }
  }

  asio::awaitable<bool> snapshot_and_restore() {
    SnapStartBracket bracket(*publisher_, config_, io_.get_executor(), log_line);
    if (auto failure = co_await bracket.before_snapshot()) {
      co_await report(runtime_->init_error(*failure), "init/error", *failure);
      finish(kExitInitFailed, "before-snapshot failed: Init reported as failed");
      co_return false;
    }
    // No socket to the app opened before the snapshot may be used after it.
    forwarder_->drop_connections();
    log_line("restore/next: the snapshot is taken now");
    auto restored = co_await runtime_->restore_next();
    if (!restored) {
      finish(kExitRuntimeApiError, restored.error().message);
      co_return false;
    }
    restored_at_ = Clock::now();
    forwarder_->drop_connections();
    log_line("restore/next returned: restored");
    if (auto failure = co_await bracket.after_restore()) {
      co_await report(runtime_->restore_error(*failure), "restore/error", *failure);
      finish(kExitRestoreFailed, "after-restore failed: restore reported as failed");
      co_return false;
    }
    log_line(fmt::format("restore complete {:.3f} ms after restore/next returned", milliseconds_since(*restored_at_)));
    co_return true;
  }

  asio::awaitable<void> report(asio::awaitable<lambda::CallResult<void>> call, std::string_view what,
                               lambda::FunctionError failure) {
    log_line(fmt::format("{}: {}: {}", what, failure.type, failure.message));
    auto sent = co_await std::move(call);
    if (!sent) log_line(fmt::format("{} was not accepted: {}", what, sent.error().message));
  }

  asio::awaitable<void> answer_invocations() {
    log_line("waiting for invocations");
    for (;;) {
      auto event = co_await runtime_->next();
      if (!event) co_return finish(kExitRuntimeApiError, event.error().message);
      if (restored_at_) {
        log_line(fmt::format("first invocation after the restore arrived {:.3f} ms after restore/next returned",
                             milliseconds_since(*restored_at_)));
        restored_at_.reset();
      }
      auto answered = co_await forwarder_->serve(std::move(*event), *runtime_);
      if (!answered) co_return finish(kExitRuntimeApiError, answered.error().message);
    }
  }

  // Publishes shutting-down, gives the subscribers' hooks until the deadline (less a margin to
  // exit), and stops.
  void shut_down(std::optional<std::int64_t> deadline_ms) {
    if (stopping_) return;
    stopping_ = true;
    std::chrono::milliseconds timeout = bus_config_.ack_timeout;
    if (deadline_ms) {
      const auto now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
      const auto left = std::chrono::milliseconds(*deadline_ms) - now_ms - kShutdownExitMargin;
      timeout = std::clamp(left, std::chrono::milliseconds(0), timeout);
    }
    if (publisher_) {
      lifecycle::StepLines lines([](std::string_view line) { log_line(fmt::format("shutdown: {}", line)); });
      const auto result = lifecycle::run_step(*publisher_, lifecycle::Step::shutdown, {.ack_timeout = timeout}, lines);
      for (const AckEntry& entry : result.report.entries) {
        log_line(fmt::format("shutdown: {}", lifecycle::describe_entry(entry, timeout)));
      }
    }
    finish(kExitShutdown, "stopped");
  }

  void finish(int code, std::string_view why) {
    log_line(fmt::format("exiting ({}): {}", code, why));
    exit_code_ = code;
    io_.stop();
  }

  const AdapterConfig& config_;
  const Config& bus_config_;
  const LaunchOptions& launch_;
  // Declared before the io_context so they outlive it: coroutine frames the io_context still
  // holds when it is destroyed may refer to them.
  std::optional<Publisher> publisher_;
  std::optional<lambda::RuntimeClient> runtime_;
  std::optional<lambda::ExtensionClient> extension_;
  std::optional<AppForwarder> forwarder_;
  std::optional<Clock::time_point> restored_at_;
  bool stopping_ = false;
  int exit_code_ = kExitShutdown;
  std::exception_ptr failed_;
  asio::io_context io_{1};
};

}  // namespace

int run_web_adapter(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch) {
  WebAdapter adapter(config, bus_config, launch);
  return adapter.run();
}

}  // namespace snapbus::adapter
