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
std::array<int, 2> output_pipe() {
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2 for the function's output");
  }
  ::fcntl(ends[0], F_SETFL, ::fcntl(ends[0], F_GETFL) | O_NONBLOCK);
  return ends;
}

}  // namespace

FunctionOutput::FunctionOutput(asio::io_context& io, Sink sink, OutputWriter* paced_by)
    : io_(io), sink_(std::move(sink)), paced_by_(paced_by), read_end_(io), room_(io) {
  const auto ends = output_pipe();
  read_end_.assign(ends[0]);
  write_end_.reset(ends[1]);
  asio::co_spawn(io, pump(), asio::detached);
}

FunctionOutput::~FunctionOutput() {
  if (paced_by_ != nullptr) paced_by_->when_room(nullptr);
  boost::system::error_code ignored;
  read_end_.close(ignored);
}

asio::awaitable<void> FunctionOutput::pump() {
  for (;;) {
    co_await wait_for_room();
    boost::system::error_code ec;
    co_await read_end_.async_wait(asio::posix::descriptor_base::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !read_end_.is_open()) co_return;  // closed: the emulator is ending
    while (has_room() && read_available()) {
    }
  }
}

asio::awaitable<void> FunctionOutput::wait_for_room() {
  while (!has_room()) {
    room_.expires_at(asio::steady_timer::time_point::max());
    // Runs on the writer's thread: it only hands the wake-up to the event loop, where the wait
    // below is already pending (the post runs after this coroutine has suspended).
    paced_by_->when_room([this] { asio::post(io_, [this] { room_.cancel(); }); });
    boost::system::error_code ec;
    co_await room_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!read_end_.is_open()) co_return;  // the emulator is ending
  }
}

bool FunctionOutput::read_available() {
  const ssize_t got = ::read(read_end_.native_handle(), buffer_.data(), buffer_.size());
  if (got <= 0) return false;  // EAGAIN: nothing now (0, the end, cannot come while the write end is ours)
  sink_(std::string_view(buffer_.data(), static_cast<std::size_t>(got)));
  // A read short of the buffer emptied the pipe: asking again would only hear EAGAIN.
  return static_cast<std::size_t>(got) == buffer_.size();
}

void FunctionOutput::drain() {
  pollfd readable{.fd = read_end_.native_handle(), .events = POLLIN, .revents = 0};
  if (::poll(&readable, 1, 0) <= 0 || (readable.revents & POLLIN) == 0) return;
  while (read_available()) {
  }
}

}  // namespace snapbus::emulator
