// The function's stdout and stderr, read by the emulator through one pipe, as Lambda reads a
// function's output into its log: every byte goes on to a sink (the emulator's own stdout, and the
// log tail of the invocation in progress), in the order the function's processes wrote it and in
// order with the platform lines that drain() precedes. One pipe for both, as AWS's Runtime Interface
// Emulator gives the runtime one writer for both: a line on stderr and one on stdout keep their
// order, as they do in CloudWatch, which two pipes read in turn cannot promise.
// While the writer of the emulator's output has no room (its reader is slow or has stopped), the
// pipe is not read: the function's output waits there, and then in the function's own write().
//
//   FunctionOutput output(io, [&log](std::string_view bytes) { log.relay(bytes); }, &writer);
//   spawn_process({.argv = ..., .output = output.launch_output()}, nullptr);  // the child's 1 and 2
//   output.drain();                   // what the function wrote so far has reached the sink
//   log.start(request_id, version);   // so START comes after it
#pragma once

#include <array>
#include <functional>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "function_launcher.h"
#include "lambda_log.h"
#include "output_writer.h"
#include "snapbus/unique_fd.h"

namespace snapbus::emulator {

class FunctionOutput {
 public:
  using Sink = std::function<void(std::string_view bytes)>;

  // `paced_by`, when given, is where the sink's bytes end up: its room decides when the pipe is
  // read. Throws std::system_error when the pipe cannot be made.
  FunctionOutput(boost::asio::io_context& io, Sink sink, OutputWriter* paced_by = nullptr);
  FunctionOutput(const FunctionOutput&) = delete;
  FunctionOutput& operator=(const FunctionOutput&) = delete;
  ~FunctionOutput();

  // The pipe's write end, as stdout and stderr of every process of the function. The emulator keeps
  // it open, so a read never ends: a function's processes come and go with its environments, the
  // pipe stays.
  [[nodiscard]] LaunchOutput launch_output() const {
    return {.stdout_fd = write_end_.get(), .stderr_fd = write_end_.get()};
  }

  // Passes on at once whatever the pipe holds, without waiting for more: whatever the function
  // wrote before this call reaches the sink before it returns, room or not (a pipe holds little).
  // One poll() when nothing is there.
  void drain();

 private:
  boost::asio::awaitable<void> pump();
  // Resolves once `paced_by_` has room (at once when it is absent or has room).
  boost::asio::awaitable<void> wait_for_room();
  [[nodiscard]] bool has_room() const { return paced_by_ == nullptr || paced_by_->has_room(); }
  // Reads what the pipe holds now into the sink; false once it has nothing more.
  bool read_available();

  boost::asio::io_context& io_;
  Sink sink_;
  OutputWriter* paced_by_;
  UniqueFd write_end_;
  boost::asio::posix::stream_descriptor read_end_;
  // Never expires: cancelled when `paced_by` has room again, it ends the pump's wait for that.
  boost::asio::steady_timer room_;
  std::array<char, 65536> buffer_{};
};

}  // namespace snapbus::emulator
