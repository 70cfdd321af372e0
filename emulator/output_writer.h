// The emulator's own stdout and stderr, written by a thread of their own. A reader that stops
// reading (a pager left open, a terminal paused with Ctrl-S, a slow log shipper) then holds up only
// the bytes bound for it: the Runtime API, the invocation timeouts and the signals go on, as they
// do in Lambda, whose log pipe never stops a function's invocations. Nothing queued is dropped, and
// the two streams are written in the order the bytes were handed over.
//
//   OutputWriter writer(STDOUT_FILENO, STDERR_FILENO);
//   writer.write(OutputStream::out, "START RequestId: ...\n");   // queued: never blocks
//   if (!writer.has_room()) writer.when_room([&] { post(io, resume_reading); });
//   writer.finish(std::chrono::seconds(5));                        // before the process ends
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace snapbus::emulator {

enum class OutputStream { out, err };

class OutputWriter {
 public:
  // How many bytes may wait for a slow reader before has_room() says no. The function's output
  // beyond it waits in its pipe, and then in the function's own write(), as it would on a
  // terminal it wrote to directly.
  static constexpr std::size_t kDefaultRoom = std::size_t{1} << 20;

  // `out_fd` and `err_fd` stay the caller's (the writer works on copies) and are left in their
  // blocking mode: a terminal shared with the shell must not be switched to non-blocking under it.
  // A descriptor that is not open (`snapbus emulate >&-`) is a reader gone. Throws
  // std::system_error when a copy or the thread cannot be made.
  OutputWriter(int out_fd, int err_fd, std::size_t room = kDefaultRoom);
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;
  // Returns at once. The thread writes what is queued and then ends; one stuck in a write to a
  // reader that stopped ends with the process. What it touches is its own (the queue, copies of
  // the descriptors), so nothing goes away under it. Call finish() first to wait for it.
  ~OutputWriter();

  // Queues `bytes` for `stream`, even past the room: a platform line must not wait, and the caller
  // that can wait (the function's pipes) asks has_room() first. Bytes for a stream whose reader
  // has gone (EPIPE; the write raised SIGPIPE once, which stops the emulator) are dropped.
  void write(OutputStream stream, std::string_view bytes);
  [[nodiscard]] bool has_room() const;
  // Calls `resume` once there is room again: at once on this thread if there is, else on the
  // writer's thread when the queue has gone below half the room, so it must only hand work to
  // another thread (an asio::post). A second call before then replaces the first; an empty
  // `resume` forgets it, for an owner about to go.
  void when_room(std::function<void()> resume);
  // Waits until everything queued has been written, or no byte could be written for `patience`
  // (a reader that has stopped for good): true when it was all written, or dropped because its
  // reader had gone.
  bool finish(std::chrono::milliseconds patience);

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace snapbus::emulator
