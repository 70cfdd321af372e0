#include "function_output.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <functional>
#include <future>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace snapbus::emulator {
namespace {

namespace asio = boost::asio;

// Runs `io` until `heard` holds what is expected or 10 s, so that a pipe that is never read fails the
// test instead of hanging it. (Named apart from the other tests' helpers: CI builds them in one unit.)
void run_until_heard(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
}

// One stream, in the order the child wrote it, as in CloudWatch: two pipes read in turn could put
// the stderr line anywhere.
TEST(FunctionOutput, AChildsStdoutAndStderrReachTheSinkAsOneStreamInOrder) {
  asio::io_context io;
  std::string heard;
  FunctionOutput output(io, [&heard](std::string_view bytes) { heard.append(bytes); });
  const pid_t pid = spawn_process({.argv = {"/bin/sh", "-c", "echo to-out; echo to-err >&2; echo more-out"},
                                   .env = {"PATH=/usr/bin:/bin"},
                                   .cwd = {},
                                   .output = output.launch_output()},
                                  nullptr);
  int status = -1;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(status, 0);
  run_until_heard(io, [&] { return heard.size() == 23; });
  EXPECT_EQ(heard, "to-out\nto-err\nmore-out\n");
}

TEST(FunctionOutput, DrainPassesOnWhatWasWrittenWithoutRunningTheLoop) {
  asio::io_context io;
  std::string heard;
  FunctionOutput output(io, [&heard](std::string_view bytes) { heard.append(bytes); });
  const LaunchOutput ends = output.launch_output();
  output.drain();  // nothing there: returns at once
  EXPECT_EQ(heard, "");
  ASSERT_EQ(::write(ends.stdout_fd, "line\n", 5), 5);
  ASSERT_EQ(::write(ends.stderr_fd, "warn\n", 5), 5);
  output.drain();
  EXPECT_EQ(heard, "line\nwarn\n");
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
  EXPECT_EQ(heard, "line\nwarn\n" + big);
  // The loop finds nothing left over.
  io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(heard, "line\nwarn\n" + big);
}

// A reader of the emulator's output that stops: what the function writes waits in its pipe and then
// in its own write(), not in the emulator's memory; when the reader comes back, every byte comes.
TEST(FunctionOutput, ItsPipeWaitsWhileTheWriterHasNoRoom) {
  asio::io_context io;
  std::array<int, 2> emulator_stdout{};
  ASSERT_EQ(::pipe2(emulator_stdout.data(), O_CLOEXEC), 0);
  ASSERT_EQ(::fcntl(emulator_stdout[0], F_SETFL, O_NONBLOCK), 0);  // the test's end only
  const UniqueFd reader(emulator_stdout[0]);
  const UniqueFd stdout_end(emulator_stdout[1]);
  OutputWriter writer(stdout_end.get(), stdout_end.get(), std::size_t{64} * 1024);
  FunctionOutput output(
      io, [&writer](std::string_view bytes) { writer.write(OutputStream::out, bytes); }, &writer);

  // Far more than the pipe and the writer's room hold together.
  std::string said;
  for (int i = 0; said.size() < std::size_t{2} << 20; ++i) said += std::to_string(i) + '\n';
  auto function = std::async(std::launch::async, [fd = output.launch_output().stdout_fd, &said] {
    for (std::string_view rest = said; !rest.empty();) {
      const ssize_t wrote = ::write(fd, rest.data(), rest.size());
      if (wrote <= 0) return false;
      rest.remove_prefix(static_cast<std::size_t>(wrote));
    }
    return true;
  });
  const auto held_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < held_until) io.run_for(std::chrono::milliseconds(10));
  EXPECT_EQ(function.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the emulator took all of the function's output while nobody read it";

  std::string heard;
  std::array<char, 65536> buffer{};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (heard.size() < said.size() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(1));
    for (ssize_t got = 0; (got = ::read(reader.get(), buffer.data(), buffer.size())) > 0;) {
      heard.append(buffer.data(), static_cast<std::size_t>(got));
    }
  }
  ASSERT_EQ(function.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(function.get());
  EXPECT_EQ(heard.size(), said.size());
  EXPECT_TRUE(heard == said) << "the bytes came, but not as they were written";
  EXPECT_TRUE(writer.finish(std::chrono::seconds(10)));
}

}  // namespace
}  // namespace snapbus::emulator
