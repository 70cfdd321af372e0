#include "function_output.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace snapbus::emulator {
namespace {

namespace asio = boost::asio;

// Both ends close at exec; the child's dup2 onto 1 and 2 makes copies that stay open. The read end
// never blocks: drain() must not wait for a function that has nothing to say.
std::array<int, 2> output_pipe(const char* name) {
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), std::string("pipe2 for the function's ") + name);
  }
  ::fcntl(ends[0], F_SETFL, ::fcntl(ends[0], F_GETFL) | O_NONBLOCK);
  return ends;
}

}  // namespace

FunctionOutput::FunctionOutput(asio::io_context& io, Sink sink, OutputWriter* paced_by)
    : io_(io),
      sink_(std::move(sink)),
      paced_by_(paced_by),
      out_{.write = {},
           .read = asio::posix::stream_descriptor(io),
           .stream = OutputStream::out,
           .room = asio::steady_timer(io)},
      err_{.write = {},
           .read = asio::posix::stream_descriptor(io),
           .stream = OutputStream::err,
           .room = asio::steady_timer(io)} {
  for (Pipe* pipe : {&out_, &err_}) {
    const auto ends = output_pipe(pipe->stream == OutputStream::out ? "stdout" : "stderr");
    pipe->read.assign(ends[0]);
    pipe->write.reset(ends[1]);
    asio::co_spawn(io, pump(*pipe), asio::detached);
  }
}

FunctionOutput::~FunctionOutput() {
  if (paced_by_ != nullptr) paced_by_->when_room(nullptr);
  boost::system::error_code ignored;
  out_.read.close(ignored);
  err_.read.close(ignored);
}

asio::awaitable<void> FunctionOutput::pump(Pipe& pipe) {
  for (;;) {
    co_await wait_for_room(pipe);
    boost::system::error_code ec;
    co_await pipe.read.async_wait(asio::posix::descriptor_base::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !pipe.read.is_open()) co_return;  // closed: the emulator is ending
    while (has_room() && read_available(pipe)) {
    }
  }
}

asio::awaitable<void> FunctionOutput::wait_for_room(Pipe& pipe) {
  while (!has_room()) {
    pipe.room.expires_at(asio::steady_timer::time_point::max());
    // Runs on the writer's thread: it only hands the wake-up to the event loop, where the wait
    // below is already pending (the post runs after this coroutine has suspended).
    paced_by_->when_room([this] {
      asio::post(io_, [this] {
        out_.room.cancel();
        err_.room.cancel();
      });
    });
    boost::system::error_code ec;
    co_await pipe.room.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!pipe.read.is_open()) co_return;  // the emulator is ending
  }
}

bool FunctionOutput::read_available(Pipe& pipe) {
  const ssize_t got = ::read(pipe.read.native_handle(), buffer_.data(), buffer_.size());
  if (got <= 0) return false;  // EAGAIN: nothing now (0, the end, cannot come while the write end is ours)
  sink_(std::string_view(buffer_.data(), static_cast<std::size_t>(got)), pipe.stream);
  // A read short of the buffer emptied the pipe: asking again would only hear EAGAIN.
  return static_cast<std::size_t>(got) == buffer_.size();
}

void FunctionOutput::drain() {
  std::array<pollfd, 2> fds{pollfd{.fd = out_.read.native_handle(), .events = POLLIN, .revents = 0},
                            pollfd{.fd = err_.read.native_handle(), .events = POLLIN, .revents = 0}};
  if (::poll(fds.data(), fds.size(), 0) <= 0) return;
  if ((fds[0].revents & POLLIN) != 0) {
    while (read_available(out_)) {
    }
  }
  if ((fds[1].revents & POLLIN) != 0) {
    while (read_available(err_)) {
    }
  }
}

}  // namespace snapbus::emulator
