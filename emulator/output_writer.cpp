#include "output_writer.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "snapbus/unique_fd.h"
#include "thread_without_signals.h"

namespace snapbus::emulator {
namespace {

// Queued pieces of one stream are joined up to this size, so a chatty function's many small
// writes cost a few large write() calls, not one each.
constexpr std::size_t kJoinLimit = std::size_t{64} * 1024;

std::size_t index_of(OutputStream stream) { return stream == OutputStream::out ? 0 : 1; }

// The writer's own descriptor for a stream: the caller may close or reuse its number while a
// write is still under way here. Empty when there is no such descriptor (`snapbus emulate >&-`).
UniqueFd own_copy(int fd) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!copy && errno != EBADF) {
    throw std::system_error(errno, std::generic_category(), "dup of the emulator's output descriptor");
  }
  return copy;
}

}  // namespace

struct OutputWriter::Shared {
  struct Piece {
    OutputStream stream;
    std::string bytes;
  };

  std::array<UniqueFd, 2> fds;
  std::size_t room = 0;

  std::mutex mutex;
  std::condition_variable work;     // the thread waits here for pieces
  std::condition_variable settled;  // finish() waits here for an empty queue
  std::deque<Piece> queue;
  std::size_t pending = 0;  // bytes queued or being written
  std::array<bool, 2> reader_gone{false, false};
  bool stopping = false;
  std::function<void()> resume;
  // Bytes the kernel took so far: finish() reads it to tell a slow reader from one that stopped.
  std::atomic<std::uint64_t> written{0};

  void run();
  // write() until all of `bytes` is out; false when the reader has gone (EPIPE).
  bool write_all(int fd, std::string_view bytes);
};

void OutputWriter::Shared::run() {
  std::unique_lock lock(mutex);
  for (;;) {
    work.wait(lock, [this] { return !queue.empty() || stopping; });
    if (queue.empty()) return;
    Piece piece = std::move(queue.front());
    queue.pop_front();
    while (!queue.empty() && queue.front().stream == piece.stream && piece.bytes.size() < kJoinLimit) {
      piece.bytes += queue.front().bytes;
      queue.pop_front();
    }
    const std::size_t stream = index_of(piece.stream);
    if (!reader_gone[stream]) {
      lock.unlock();
      const bool reader_still_there = write_all(fds[stream].get(), piece.bytes);
      lock.lock();
      if (!reader_still_there) reader_gone[stream] = true;
    }
    pending -= piece.bytes.size();
    // Called under the lock: the owner clears `resume` under it too before it lets go of what
    // `resume` refers to.
    if (resume && pending < room / 2) std::exchange(resume, nullptr)();
    settled.notify_all();
  }
}

bool OutputWriter::Shared::write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        // A descriptor someone else made non-blocking (a parent that shares it): wait as a
        // blocking write would have.
        pollfd writable{.fd = fd, .events = POLLOUT, .revents = 0};
        ::poll(&writable, 1, -1);
        continue;
      }
      // Any other failure (a full disk, a terminal hung up) costs this piece, not the stream.
      return errno != EPIPE;
    }
    written.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

OutputWriter::OutputWriter(int out_fd, int err_fd, std::size_t room) : shared_(std::make_shared<Shared>()) {
  shared_->fds = {own_copy(out_fd), own_copy(err_fd)};
  shared_->reader_gone = {!shared_->fds[0], !shared_->fds[1]};
  shared_->room = room;
  // A signal would only interrupt its writes. SIGPIPE stays deliverable: a write to a pipe whose
  // reader has gone raises it on this thread, and that is how the emulator hears that its output went away.
  thread_without_signals([shared = shared_] { shared->run(); }).detach();
}

OutputWriter::~OutputWriter() {
  const std::lock_guard lock(shared_->mutex);
  shared_->resume = nullptr;
  shared_->stopping = true;
  shared_->work.notify_one();
}

void OutputWriter::write(OutputStream stream, std::string_view bytes) {
  if (bytes.empty()) return;
  {
    const std::lock_guard lock(shared_->mutex);
    if (shared_->reader_gone[index_of(stream)]) return;
    shared_->pending += bytes.size();
    shared_->queue.push_back({stream, std::string(bytes)});
  }
  // Woken after the lock is let go: a writer woken under it would at once sleep again on the
  // mutex, and be woken a second time when the caller unlocks (three futex calls a piece, not one).
  // Nothing is missed: the writer looks at the queue under the lock before it waits.
  shared_->work.notify_one();
}

bool OutputWriter::has_room() const {
  const std::lock_guard lock(shared_->mutex);
  return shared_->pending < shared_->room;
}

void OutputWriter::when_room(std::function<void()> resume) {
  std::unique_lock lock(shared_->mutex);
  if (resume && shared_->pending < shared_->room) {
    lock.unlock();
    resume();
    return;
  }
  shared_->resume = std::move(resume);
}

bool OutputWriter::finish(std::chrono::milliseconds patience) {
  std::unique_lock lock(shared_->mutex);
  std::uint64_t seen = shared_->written.load(std::memory_order_relaxed);
  for (;;) {
    if (shared_->settled.wait_for(lock, patience, [this] { return shared_->pending == 0; })) return true;
    const std::uint64_t now = shared_->written.load(std::memory_order_relaxed);
    if (now == seen) return false;
    seen = now;
  }
}

}  // namespace snapbus::emulator
