#include "adapter_process.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "snapbus/lambda_protocol.h"
#include "snapbus/lifecycle_step.h"
#include "snapbus/step_progress.h"

namespace snapbus::adapter {

namespace asio = boost::asio;

namespace {
// What is kept back from a SHUTDOWN deadline for exiting after the subscribers' shutdown hooks.
constexpr std::chrono::milliseconds kShutdownExitMargin{200};
}  // namespace

void log_line(std::string_view line) {
  std::string text;
  for (std::size_t start = 0; start <= line.size();) {
    const std::size_t end = std::min(line.find('\n', start), line.size());
    fmt::format_to(std::back_inserter(text), "[snapbus] {}\n", line.substr(start, end - start));
    start = end + 1;
  }
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

AdapterProcess::AdapterProcess(const AdapterConfig& config, const Config& bus_config, const LaunchOptions& launch,
                               std::optional<TransitionSource> segment_source)
    : config_(config), bus_config_(bus_config), launch_(launch), segment_source_(segment_source) {}

AdapterProcess::~AdapterProcess() { stop_step_ = true; }

bool AdapterProcess::snap_start() const { return bus_config_.lambda_init_type == lambda::kInitTypeSnapStart; }

int AdapterProcess::run(Mode mode) {
  // SIGPIPE comes only from a log line written to a pipe whose reader went away (`snapbus adapter |
  // head` run by hand; sockets send with MSG_NOSIGNAL): an orderly shutdown, as `snapbus emulate`
  // does, rather than death by the signal with the subscribers' shutdown hooks never run. Later
  // ones stay caught by the set and change nothing; the lines that follow go nowhere.
  asio::signal_set signals(io_, SIGTERM, SIGINT, SIGPIPE);
  signals.async_wait([this](const boost::system::error_code& error, int signal) {
    if (error) return;
    const std::string_view name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "SIGPIPE";
    log_line(fmt::format("{}: shutting down", name));
    shut_down(std::nullopt);
  });
  asio::co_spawn(io_, start(std::move(mode)), [this](const std::exception_ptr& failure) {
    if (failure) {
      failed_ = failure;
      io_.stop();
    }
  });
  io_.run();
  // A step still running aside (the loop was stopped under it) ends before run() returns: it may
  // call into objects of the mode that go once run() has returned.
  stop_step_ = true;
  if (step_thread_.joinable()) step_thread_.join();
  if (failed_) std::rethrow_exception(failed_);
  return exit_code_;
}

asio::awaitable<void> AdapterProcess::start(Mode mode) {
  if (config_.runtime_api.empty()) {
    finish(kExitRuntimeApiError,
           fmt::format("{} is not set: not running in Lambda or under `snapbus emulate`", lambda::kEnvRuntimeApi));
    co_return;
  }
  auto api = net::parse_host_port(config_.runtime_api);
  if (!api) {
    finish(kExitRuntimeApiError, api.error().message);
    co_return;
  }
  runtime_api_ = std::move(*api);

  // The segment exists before the app starts, so every worker finds it when it subscribes. A new
  // one each Init, generation 0, as in Lambda, where /tmp starts empty.
  if (segment_source_) {
    publisher_.emplace(Publisher::acquire({.path = bus_config_.segment_path,
                                           .slot_count = bus_config_.slot_count,
                                           .group = bus_config_.segment_group,
                                           .init_type = init_type_from_lambda(bus_config_.lambda_init_type),
                                           .source = *segment_source_,
                                           .fresh = true}));
    lifecycle::run_step(*publisher_, lifecycle::Step::starting, {.ack_timeout = bus_config_.ack_timeout});
    log_line(
        fmt::format("segment {} ({}), init type {}", bus_config_.segment_path.string(),
                    publisher_->replaced() ? "created, replacing the segment an earlier run left there" : "created",
                    bus_config_.lambda_init_type.empty() ? "unknown" : bus_config_.lambda_init_type));
  }

  if (launch_.extension_name && !(co_await register_extension())) co_return;
  co_await mode(*this);
}

// Registered for SHUTDOWN only: invocations come through the Runtime API.
asio::awaitable<bool> AdapterProcess::register_extension() {
  lambda::ExtensionClient& extension = extension_.emplace(io_.get_executor(), runtime_api_);
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

asio::awaitable<void> AdapterProcess::watch_for_shutdown() {
  auto event = co_await extension_->next();
  if (!event) {
    finish(kExitRuntimeApiError, event.error().message);
    co_return;
  }
  log_line(fmt::format("SHUTDOWN ({})", event->shutdown_reason.empty() ? "no reason given" : event->shutdown_reason));
  shut_down(event->deadline_ms);
}

asio::awaitable<lifecycle::StepResult> AdapterProcess::run_step_aside(BusStep step) {
  SNAPBUS_REQUIRE(!step_aside_running_, "one step aside at a time");
  step_aside_running_ = true;
  stop_step_ = stopping_;
  auto ran = [this, &step](auto handler) {
    step_thread_ = std::jthread([this, &step, handler = std::move(handler)]() mutable {
      std::exception_ptr failure;
      lifecycle::StepResult result;
      try {
        result = step(&stop_step_);
      } catch (...) {
        failure = std::current_exception();
      }
      // Back on the event loop's thread, which resumes the caller; the step's frame outlives this
      // thread, since run() (or, when it throws, the destructor) joins it before the io_context goes.
      // The failure is moved, not copied: a copy left here could be the last reference, freeing the
      // exception on this thread after the caller read it (a race ThreadSanitizer cannot see
      // through libstdc++'s uninstrumented reference count).
      asio::post(io_, [handler = std::move(handler), failure = std::move(failure),
                       result = std::move(result)]() mutable { std::move(handler)(failure, std::move(result)); });
    });
  };
  std::exception_ptr failure;
  lifecycle::StepResult result;
  try {
    result =
        co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, lifecycle::StepResult)>(
            ran, asio::use_awaitable);
  } catch (...) {
    failure = std::current_exception();
  }
  step_aside_running_ = false;
  // After the caller has logged how the step ended, which it does before its next wait.
  if (shutdown_after_step_) {
    asio::post(io_, [this, deadline_ms = *shutdown_after_step_] { publish_shutdown(deadline_ms); });
  }
  if (failure) std::rethrow_exception(failure);
  co_return result;
}

// Publishes shutting-down, gives the subscribers' hooks until the deadline (less a margin to exit),
// and stops; after the step running aside, if one is, has been stopped and has returned.
void AdapterProcess::shut_down(std::optional<std::int64_t> deadline_ms) {
  if (stopping_) return;
  stopping_ = true;
  if (step_aside_running_) {
    log_line("shutting down once the step under way has stopped");
    shutdown_after_step_ = deadline_ms;
    stop_step_ = true;
    return;
  }
  publish_shutdown(deadline_ms);
}

void AdapterProcess::publish_shutdown(std::optional<std::int64_t> deadline_ms) {
  std::chrono::milliseconds timeout = bus_config_.ack_timeout;
  if (deadline_ms) {
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    timeout = std::clamp(std::chrono::milliseconds(*deadline_ms) - now - kShutdownExitMargin,
                         std::chrono::milliseconds(0), timeout);
  }
  if (publisher_) {
    lifecycle::StepLines lines([](std::string_view line) { log_line(fmt::format("shutdown: {}", line)); });
    try {
      const auto result = lifecycle::run_step(*publisher_, lifecycle::Step::shutdown, {.ack_timeout = timeout}, lines);
      if (!result.report.entries.empty()) log_line(lifecycle::describe_entries(result.report, timeout, "shutdown: "));
    } catch (const Error& error) {
      log_line(fmt::format("shutdown: {}", error.what()));
    }
  }
  finish(kExitShutdown, "stopped");
}

void AdapterProcess::finish(int code, std::string_view why) {
  log_line(fmt::format("exiting ({}): {}", code, why));
  exit_code_ = code;
  io_.stop();
}

}  // namespace snapbus::adapter
