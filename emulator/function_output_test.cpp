#include "function_output.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace snapbus::emulator {
namespace {

namespace asio = boost::asio;

struct Heard {
  std::string out;
  std::string err;
  void add(std::string_view bytes, OutputStream stream) { (stream == OutputStream::out ? out : err).append(bytes); }
};

// Runs `io` until `heard` holds what is expected or 10 s, so that a pipe that is never read fails the
// test instead of hanging it. (Named apart from the other tests' helpers: CI builds them in one unit.)
void run_until_heard(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
}

TEST(FunctionOutput, AChildsStdoutAndStderrReachTheSinkApart) {
  asio::io_context io;
  Heard heard;
  FunctionOutput output(io, [&heard](std::string_view bytes, OutputStream stream) { heard.add(bytes, stream); });
  const pid_t pid = spawn_process({.argv = {"/bin/sh", "-c", "echo to-out; echo to-err >&2; echo more-out"},
                                   .env = {"PATH=/usr/bin:/bin"},
                                   .cwd = {},
                                   .output = output.launch_output()},
                                  nullptr);
  int status = -1;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 0);
  run_until_heard(io, [&] { return heard.out.size() == 16 && heard.err.size() == 7; });
  EXPECT_EQ(heard.out, "to-out\nmore-out\n");
  EXPECT_EQ(heard.err, "to-err\n");
}

TEST(FunctionOutput, DrainPassesOnWhatWasWrittenWithoutRunningTheLoop) {
  asio::io_context io;
  Heard heard;
  FunctionOutput output(io, [&heard](std::string_view bytes, OutputStream stream) { heard.add(bytes, stream); });
  const LaunchOutput ends = output.launch_output();
  output.drain();  // nothing there: returns at once
  EXPECT_EQ(heard.out, "");
  ASSERT_EQ(::write(ends.stdout_fd, "line\n", 5), 5);
  ASSERT_EQ(::write(ends.stderr_fd, "warn\n", 5), 5);
  output.drain();
  EXPECT_EQ(heard.out, "line\n");
  EXPECT_EQ(heard.err, "warn\n");
  // More than one read's worth and more than a pipe holds: written a piece at a time, each drained.
  const std::string big(std::size_t{200} * 1024, 'b');
  std::string sent;
  while (sent.size() < big.size()) {
    const ssize_t wrote =
        ::write(ends.stdout_fd, big.data() + sent.size(), std::min<std::size_t>(big.size() - sent.size(), 32768));
    ASSERT_GT(wrote, 0);
    sent.append(big, sent.size(), static_cast<std::size_t>(wrote));
    output.drain();
  }
  EXPECT_EQ(heard.out, "line\n" + big);
  // The loop finds nothing left over.
  io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(heard.out, "line\n" + big);
}

}  // namespace
}  // namespace snapbus::emulator
