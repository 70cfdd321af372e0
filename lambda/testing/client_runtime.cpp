// A Lambda runtime built on RuntimeClient, run by the end-to-end tests under `snapbus emulate`:
//
//   client_runtime <mode>
//
// It appends one line per observation to $SNAPBUS_CLIENT_TEST_DIR/runtime.txt, so the test can check what
// the client saw. Modes:
//   echo           answers each event with its payload
//   stream         streams an http-integration response: prelude and "first;", then, once the test creates
//                  $SNAPBUS_CLIENT_TEST_DIR/go, "second;"
//   stream-error   streams "partial;", then fails with the error trailers (StreamBroke)
//   error          answers each event with post_error (HandlerError)
//   too-large      answers the first event with 7 MB (over the 6 MB limit), then echoes
//   wrong-calls    makes calls the Runtime API must refuse, then echoes
//   init-error     reports init_error and exits
//   snapstart      restore_next, records how many sockets it still holds, then echoes
//   restore-error  restore_next, then restore_error, and exits
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <boost/asio.hpp>

#include "program_main.h"
#include "snapbus/runtime_client.h"

namespace {

namespace asio = boost::asio;
using snapbus::lambda::CallError;
using snapbus::lambda::FunctionError;
using snapbus::lambda::RuntimeClient;
using namespace std::chrono_literals;

std::filesystem::path test_dir() {
  const char* dir = std::getenv("SNAPBUS_CLIENT_TEST_DIR");
  return dir != nullptr ? dir : ".";
}

void record(const std::string& line) {
  std::ofstream out(test_dir() / "runtime.txt", std::ios::app);
  out << line << '\n';
}

std::string describe(const CallError& error) {
  return fmt::format("{} {} {}", snapbus::lambda::call_errc_name(error.code), error.http_status, error.error_type);
}

template <typename T>
void record_result(const std::string& call, const snapbus::lambda::CallResult<T>& result) {
  record(fmt::format("{}: {}", call, result ? std::string("ok") : describe(result.error())));
}

// The sockets this process holds: its standard streams (the emulator may hand it sockets) and the
// client's connections.
int open_sockets() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    if (std::filesystem::read_symlink(entry.path(), error).string().rfind("socket:", 0) == 0) ++count;
  }
  return count;
}

asio::awaitable<bool> wait_for_gate() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < 2000; ++i) {
    if (std::filesystem::exists(test_dir() / "go")) co_return true;
    timer.expires_after(5ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return false;
}

asio::awaitable<void> answer(RuntimeClient& runtime, const std::string& mode,
                             const snapbus::lambda::InvocationRequest& event) {
  const std::string& id = event.request_id;
  if (mode == "error") {
    // Arguments are named first: GCC 12 miscompiles braced temporaries inside a co_await expression.
    const FunctionError error{.type = "HandlerError", .message = "it failed", .stack_trace = {"at handler"}};
    record_result("post_error", co_await runtime.post_error(id, error));
  } else if (mode == "stream") {
    // The prelude goes in the same write as the request's header (stream-error sends its pieces after it).
    const std::string prelude = R"({"statusCode":201,"headers":{"x-streamed":"yes"}})";
    auto stream = co_await runtime.begin_streaming(id, "application/vnd.awslambda.http-integration-response",
                                                   prelude + std::string(8, '\0'));
    record_result("begin_streaming", stream);
    if (!stream) co_return;
    record_result("write first", co_await stream->write("first;"));
    record(fmt::format("gate: {}", co_await wait_for_gate() ? "open" : "timed out"));
    record_result("write second", co_await stream->write("second;"));
    record_result("finish", co_await stream->finish());
  } else if (mode == "stream-error") {
    auto stream = co_await runtime.begin_streaming(id, "text/plain");
    record_result("begin_streaming", stream);
    if (!stream) co_return;
    record_result("write partial", co_await stream->write("partial;"));
    const FunctionError error{.type = "StreamBroke", .message = "broke\r\nmid-stream"};
    record_result("fail", co_await stream->fail(error));
  } else if (mode == "too-large") {
    static bool sent_too_much = false;
    if (!std::exchange(sent_too_much, true)) {
      record_result("post_response 7 MB",
                    co_await runtime.post_response(id, std::string(std::size_t{7} * 1024 * 1024, 'x'), "text/plain"));
      co_return;
    }
    record_result("post_response", co_await runtime.post_response(id, event.payload));
  } else {
    record_result("post_response", co_await runtime.post_response(id, event.payload));
  }
}

asio::awaitable<int> serve(RuntimeClient& runtime, const std::string& mode) {
  for (;;) {
    auto event = co_await runtime.next();
    if (!event) {
      record("next: " + describe(event.error()) + " " + event.error().message);
      co_return 1;
    }
    record(fmt::format("event {} {} remaining={} arn={} trace={}", event->request_id, event->payload,
                       event->remaining_time() > 0ms ? "positive" : "none", event->function_arn,
                       event->trace_id.empty() ? "missing" : "present"));
    co_await answer(runtime, mode, *event);
  }
}

asio::awaitable<int> run(std::string mode) {
  auto api = snapbus::lambda::runtime_api_from_environment();
  if (!api) {
    record("environment: " + api.error().message);
    co_return 2;
  }
  RuntimeClient runtime(co_await asio::this_coro::executor, *api);
  if (mode == "init-error") {
    const FunctionError error{.type = "Runtime.BeforeSnapshotError", .message = "hook 'db' failed"};
    record_result("init_error", co_await runtime.init_error(error));
    co_return 0;
  }
  if (mode == "wrong-calls") {
    record_result("restore_next", co_await runtime.restore_next());
    record_result("post_response unknown id", co_await runtime.post_response("no-such-request", "{}"));
    record_result("post_response bad id", co_await runtime.post_response("../init/error", "{}"));
    const FunctionError error{.type = "X", .message = "y"};
    record_result("post_error bad id", co_await runtime.post_error("a b", error));
  }
  if (mode == "snapstart" || mode == "restore-error") {
    const int sockets_before = open_sockets();
    record_result("restore_next", co_await runtime.restore_next());
    // The connection restore_next used was opened before the snapshot: it must be gone, not pooled.
    if (mode == "snapstart") record(fmt::format("sockets kept by restore_next: {}", open_sockets() - sockets_before));
  }
  if (mode == "restore-error") {
    const FunctionError error{.type = "Runtime.AfterRestoreError", .message = "hook 'reconnect' failed"};
    record_result("restore_error", co_await runtime.restore_error(error));
    co_return 0;
  }
  co_return co_await serve(runtime, mode);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: client_runtime <mode>\n";
    return 2;
  }
  return snapbus::lambda::testing::run_test_program("client_runtime", run(argv[1]), [] { record("exception"); });
}
