// The function's stdout and stderr, read by the emulator through pipes, as Lambda reads a function's
// output into its log: every byte goes on to a sink (the emulator's own stdout or stderr, and the
// log tail of the invocation in progress), in order with the platform lines that drain() precedes.
// While the writer of the emulator's output has no room (its reader is slow or has stopped), the
// pipes are not read: the function's output waits there, and then in the function's own write().
//
//   FunctionOutput output(io, [&log](std::string_view bytes, OutputStream stream) { log.relay(bytes, stream); },
//                         &writer);
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
  using Sink = std::function<void(std::string_view bytes, OutputStream stream)>;

  // `paced_by`, when given, is where the sink's bytes end up: its room decides when the pipes are
  // read. Throws std::system_error when the pipes cannot be made.
  FunctionOutput(boost::asio::io_context& io, Sink sink, OutputWriter* paced_by = nullptr);
  FunctionOutput(const FunctionOutput&) = delete;
  FunctionOutput& operator=(const FunctionOutput&) = delete;
  ~FunctionOutput();

  // The pipes' write ends, for every process of the function. The emulator keeps them open, so a
  // read never ends: a function's processes come and go with its environments, the pipes stay.
  [[nodiscard]] LaunchOutput launch_output() const {
    return {.stdout_fd = out_.write.get(), .stderr_fd = err_.write.get()};
  }

  // Passes on at once whatever the pipes hold, without waiting for more: whatever the function
  // wrote before this call reaches the sink before it returns, room or not (a pipe holds little).
  // One poll() when nothing is there.
  void drain();

 private:
  struct Pipe {
    UniqueFd write;
    boost::asio::posix::stream_descriptor read;
    OutputStream stream;
    // Never expires: cancelled when `paced_by` has room again, it ends the pump's wait for that.
    boost::asio::steady_timer room;
  };
  boost::asio::awaitable<void> pump(Pipe& pipe);
  // Resolves once `paced_by_` has room (at once when it is absent or has room).
  boost::asio::awaitable<void> wait_for_room(Pipe& pipe);
  [[nodiscard]] bool has_room() const { return paced_by_ == nullptr || paced_by_->has_room(); }
  // Reads what `pipe` holds now into the sink; false once it has nothing more.
  bool read_available(Pipe& pipe);

  boost::asio::io_context& io_;
  Sink sink_;
  OutputWriter* paced_by_;
  Pipe out_;
  Pipe err_;
  std::array<char, 65536> buffer_{};
};

}  // namespace snapbus::emulator
