#include "snapbus/emulator.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>
#include <boost/system/system_error.hpp>

#include "environment.h"
#include "front_door.h"
#include "function_output.h"
#include "lambda_log.h"
#include "orphan_guard.h"
#include "output_writer.h"
#include "process_tree.h"
#include "runtime_api.h"
#include "snapbus/emulate_config.h"
#include "snapbus/error_body.h"
#include "snapbus/http_server.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::emulator {
namespace {

using net::HttpExchange;
using tcp = boost::asio::ip::tcp;

// How long the emulator, once stopped, waits for a reader that takes none of its remaining output.
// A reader that keeps taking some, however slowly, gets all of it.
constexpr std::chrono::seconds kOutputPatience{5};

// Both listeners answer the way Lambda's APIs do: errors as {"errorMessage","errorType"} JSON.
const net::HttpServerOptions kLambdaServer{
    .error_format = {.content_type = lambda::kContentTypeJson, .body = lambda::json_error}};

// The Runtime API takes headers as large as Lambda's does, and keeps a runtime's idle connection
// open for as long as it likes, as the RIE does: a handler may run 15 minutes between its
// invocation/next and its response on the same connection, and a connection idle across a snapshot
// is used again after the restore. A field too long to hold is left out, and said so.
net::HttpServerOptions runtime_api_server() {
  net::HttpServerOptions options = kLambdaServer;
  options.header_limit = lambda::kRuntimeApiHeaderLimit;
  options.header_timeout = net::kNoTimeout;
  options.idle_timeout = net::kNoTimeout;
  options.on_dropped_field = [](std::string_view name, std::size_t size) {
    diagnostic(
        fmt::format("a Runtime API request's {} header ({} bytes) is longer than the 65,533 bytes snapbus "
                    "can hold in a field: it was left out",
                    name, size));
  };
  return options;
}

// Why a port could not be had: the system's words ("Address already in use"), without Boost's
// source location.
std::string listen_failure(const std::exception& error) {
  if (const auto* system = dynamic_cast<const boost::system::system_error*>(&error)) return system->code().message();
  return error.what();
}

bool write_ready_file(const std::string& path, const std::string& runtime_api, const std::string& front_door) {
  boost::json::object ready;
  ready["runtimeApi"] = runtime_api;
  ready["frontDoor"] = front_door;
  ready["pid"] = ::getpid();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << boost::json::serialize(ready) << '\n';
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    diagnostic(fmt::format("cannot write the ready file {}: {}", path, ec.message()));
    return false;
  }
  return true;
}

// "127.0.0.1:9001", "[::1]:9001": an IPv6 address in brackets, or its last group reads as the port.
std::string host_port(const tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6()) return fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port());
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

// Runs environments one after another: after a failure (unless --exit-on-failure) a fresh one
// takes over the queue, as Lambda replaces a failed execution environment. `current` is where the
// listeners send new requests. Ended environments are kept: handlers may still be suspended in them.
// `runtime_api` is taken by value: the coroutine outlives the expression that starts it, and a
// reference to the caller's temporary read freed memory when a fresh environment started (its runtime
// got an empty AWS_LAMBDA_RUNTIME_API and failed its Init).
asio::awaitable<int> run_environments(asio::io_context& io, const Config& config, LambdaLog& log,
                                      const std::string& marker, LaunchOutput output, std::string runtime_api,
                                      std::vector<std::unique_ptr<Environment>>& environments, Environment*& current) {
  for (;;) {
    const int code = co_await current->run();
    if (!current->wants_fresh_environment()) co_return code;
    auto fresh = std::make_unique<Environment>(io, config, log, marker, output, /*fresh=*/true);
    fresh->set_runtime_api(runtime_api);
    fresh->adopt(current->take_queue());
    current->retire(*fresh);
    current = fresh.get();
    environments.push_back(std::move(fresh));
  }
}

// With AWS_LAMBDA_LOG_FORMAT=JSON, Lambda writes its platform lines as JSON records (platform.start,
// platform.report, ...) and runtime clients switch their own lines to JSON; the emulator writes
// only the text lines, so a log that mixes both would pass for Lambda's without this warning.
void warn_of_json_log_format(const Config& config) {
  std::string format;
  if (const auto given = config.user_env.find("AWS_LAMBDA_LOG_FORMAT"); given != config.user_env.end()) {
    format = given->second;
  } else if (const char* inherited = std::getenv("AWS_LAMBDA_LOG_FORMAT"); inherited != nullptr && !config.clean_env) {
    format = inherited;
  }
  if (boost::algorithm::iequals(format, "JSON")) {
    diagnostic(
        "AWS_LAMBDA_LOG_FORMAT=JSON reaches the function, whose runtime client may log JSON; the emulator's "
        "platform lines (START, END, REPORT, ...) stay text, where Lambda would write JSON records");
  }
}

// The emulator itself, its output written by `writer`.
int run_with_output(const Config& config, const std::string& marker, OutputWriter& writer) {
  warn_of_json_log_format(config);
  asio::io_context io;
  LambdaLog log([&writer](std::string_view bytes) { writer.write(OutputStream::out, bytes); });
  // The function's output reaches the log through the emulator, as in Lambda: in order with the
  // platform lines, and kept for a caller that asks for the invocation's log.
  std::optional<FunctionOutput> output;
  try {
    output.emplace(
        io, [&log](std::string_view bytes) { log.relay(bytes); }, &writer);
  } catch (const std::system_error& e) {
    diagnostic(e.what());
    return kExitInternalError;
  }
  log.set_before_line([&output] { output->drain(); });
  std::vector<std::unique_ptr<Environment>> environments;
  environments.push_back(std::make_unique<Environment>(io, config, log, marker, output->launch_output()));
  Environment* current = environments.back().get();
  tcp::endpoint runtime_api;
  tcp::endpoint front_door;
  try {
    runtime_api = net::http_listen(
        io, config.host, config.runtime_api_port,
        [&current](HttpExchange& ex) { return serve_runtime_api(*current, ex); }, runtime_api_server());
  } catch (const std::exception& e) {
    diagnostic(fmt::format("cannot listen on {}:{} for the Runtime API: {} (use --runtime-api-port)", config.host,
                           config.runtime_api_port, listen_failure(e)));
    return kExitInternalError;
  }
  try {
    front_door = net::http_listen(
        io, config.host, config.port, [&current](HttpExchange& ex) { return serve_front_door(current, ex); },
        kLambdaServer);
  } catch (const std::exception& e) {
    diagnostic(fmt::format("cannot listen on {}:{} for the front door: {} (use --port)", config.host, config.port,
                           listen_failure(e)));
    return kExitInternalError;
  }
  current->set_runtime_api(host_port(runtime_api));
  diagnostic(fmt::format("Runtime API on {}, front door on http://{} (RIE path POST {})", host_port(runtime_api),
                         host_port(front_door), kRiePath));
  if (!config.ready_file.empty() &&
      !write_ready_file(config.ready_file, host_port(runtime_api), host_port(front_door))) {
    return kExitInternalError;
  }

  int exit_code = kExitInternalError;
  asio::co_spawn(
      io,
      run_environments(io, config, log, marker, output->launch_output(), host_port(runtime_api), environments, current),
      [&](const std::exception_ptr& error, int code) {
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            diagnostic(fmt::format("internal error: {}", e.what()));
          }
          // Whatever went wrong, the function must not outlive us.
          kill_descendants_and_reap(::getpid(), std::chrono::seconds(5));
          exit_code = kExitInternalError;
        } else {
          exit_code = code;
        }
        io.stop();
      });
  io.run();
  output->drain();  // the function's last words, written before it was stopped
  diagnostic(fmt::format("stopped (exit code {})", exit_code));
  return exit_code;
}

}  // namespace

int run_emulator(const Config& config) {
  // The guard is forked first, while this process has no threads, sockets or signal handlers.
  const std::string marker = new_marker();
  start_orphan_guard(marker);

  std::optional<OutputWriter> writer;
  try {
    writer.emplace(STDOUT_FILENO, STDERR_FILENO);
  } catch (const std::system_error& e) {
    diagnostic(e.what());
    return kExitInternalError;
  }
  int exit_code = kExitInternalError;
  {
    const DiagnosticsRoute diagnostics(*writer);
    exit_code = run_with_output(config, marker, *writer);
  }
  // On every way out, what is queued is written before the process ends with its writer. The
  // function is gone and the supervisor with it: a reader that leaves now only ends the writing
  // (EPIPE), rather than the process by SIGPIPE's default, whose exit status would hide exit_code.
  ::signal(SIGPIPE, SIG_IGN);
  if (!writer->finish(kOutputPatience)) {
    diagnostic(fmt::format("the reader of the emulator's output took nothing for {} s: what is left unwritten is lost",
                           kOutputPatience.count()));
  }
  return exit_code;
}

}  // namespace snapbus::emulator
