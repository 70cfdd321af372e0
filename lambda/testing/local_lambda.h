// Test support: a local Lambda, that is one run of the real `snapbus emulate` (the executable CTest names
// in SNAPBUS_CLI) in its own process group, with a ready file that gives the ports it bound.
//
//   snapbus::lambda::testing::LocalLambda emu(dir.path(), {"--snapstart", "--", runtime, "echo"});
//   ASSERT_TRUE(emu.ready()) << emu.diagnostics();
//   // ... talk to 127.0.0.1:emu.front_door_port() ...
//   EXPECT_EQ(emu.stop(), 0);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "snapbus/http_client.h"

namespace snapbus::lambda::testing {

// co_spawn needs a default-constructible result; results of move-only values are stored instead.
template <typename T>
boost::asio::awaitable<void> store_result(boost::asio::awaitable<T> task, std::optional<T>& out) {
  out.emplace(co_await std::move(task));
}

// Runs `task` on `io` until it completes; throws std::runtime_error after `timeout`.
template <typename T>
T run_until_done(boost::asio::io_context& io, boost::asio::awaitable<T> task,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  std::optional<T> result;
  std::exception_ptr thrown;
  bool done = false;
  boost::asio::co_spawn(io, store_result(std::move(task), result), [&](std::exception_ptr e) {
    done = true;
    thrown = std::move(e);
  });
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done) {
    if (std::chrono::steady_clock::now() >= deadline) throw std::runtime_error("the task did not finish in time");
    io.run_one_for(std::chrono::milliseconds(50));
  }
  if (thrown) std::rethrow_exception(thrown);
  return std::move(*result);
}

// One request to the emulator's front door (127.0.0.1:port), answered in full.
net::NetResult<net::Response> front_door_call(std::uint16_t port, boost::beast::http::verb method,
                                              const std::string& target, const std::string& body = {});

// POST to the RIE invoke path, as `aws lambda invoke` would.
net::NetResult<net::Response> invoke(std::uint16_t port, const std::string& payload);

// The lines of a file the test programs append to (none when it does not exist yet).
std::vector<std::string> read_lines(const std::filesystem::path& path);

// Polls `path` until it has at least `count` lines; false after `timeout`.
bool wait_for_line_count(const std::filesystem::path& path, std::size_t count,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Polls `path` until one of its lines starts with `prefix`; that line, or nullopt after `timeout`.
std::optional<std::string> wait_for_line(const std::filesystem::path& path, const std::string& prefix,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The path in environment variable `name` (set by CTest), or an empty string.
std::string executable_from_environment(const char* name);

class LocalLambda {
 public:
  // Starts `snapbus emulate --port 0 --runtime-api-port 0 --ready-file ... --json ... <args>` with stdout
  // and stderr in `dir`, and waits up to 20 s for the ready file (or for the emulator to exit).
  LocalLambda(const std::filesystem::path& dir, const std::vector<std::string>& args);
  ~LocalLambda();
  LocalLambda(const LocalLambda&) = delete;
  LocalLambda& operator=(const LocalLambda&) = delete;

  [[nodiscard]] bool ready() const { return front_door_port_ != 0; }
  [[nodiscard]] std::uint16_t front_door_port() const { return front_door_port_; }

  // The exit code once the emulator exited by itself within `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM, then the exit code (-1 if it had to be killed after 20 s).
  int stop();

  [[nodiscard]] std::string log() const;          // stdout: the Lambda log lines
  [[nodiscard]] std::string diagnostics() const;  // stderr
  [[nodiscard]] std::string report() const;       // the --json report, written at exit

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::uint16_t front_door_port_ = 0;
};

}  // namespace snapbus::lambda::testing
