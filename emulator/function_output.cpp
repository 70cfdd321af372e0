#include "function_output.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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

FunctionOutput::FunctionOutput(asio::io_context& io, Sink sink)
    : sink_(std::move(sink)),
      out_{.write = {}, .read = asio::posix::stream_descriptor(io), .stream = OutputStream::out},
      err_{.write = {}, .read = asio::posix::stream_descriptor(io), .stream = OutputStream::err} {
  for (Pipe* pipe : {&out_, &err_}) {
    const auto ends = output_pipe(pipe->stream == OutputStream::out ? "stdout" : "stderr");
    pipe->read.assign(ends[0]);
    pipe->write.reset(ends[1]);
    asio::co_spawn(io, pump(*pipe), asio::detached);
  }
}

FunctionOutput::~FunctionOutput() {
  boost::system::error_code ignored;
  out_.read.close(ignored);
  err_.read.close(ignored);
}

asio::awaitable<void> FunctionOutput::pump(Pipe& pipe) {
  for (;;) {
    boost::system::error_code ec;
    co_await pipe.read.async_wait(asio::posix::descriptor_base::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !pipe.read.is_open()) co_return;  // closed: the emulator is ending
    while (read_available(pipe)) {
    }
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
