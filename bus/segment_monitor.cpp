#include "segment_monitor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "snapbus/error.h"

namespace snapbus {
namespace {

// On the directory: names that come and go (the segment deleted, replaced, renamed) and the
// directory itself going. Not IN_MODIFY or IN_ATTRIB: on a directory those fire for a write to any
// file in it, and the default directory is /tmp, which the app writes as it likes (in a test, the
// adapter's log sat beside the segment): every write woke every process's monitor thread.
constexpr std::uint32_t kDirectoryEvents =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
// On the segment file itself: truncation (IN_MODIFY; stores through a mapping raise nothing) and a
// change of mode or links (IN_ATTRIB).
constexpr std::uint32_t kFileEvents = IN_MODIFY | IN_ATTRIB;

void close_if_open(int& fd) noexcept {
  if (fd >= 0) ::close(std::exchange(fd, -1));
}

}  // namespace

SegmentMonitor::SegmentMonitor(std::filesystem::path path, std::function<void()> on_event)
    : path_(std::move(path)), on_event_(std::move(on_event)) {
  start();
}

SegmentMonitor::~SegmentMonitor() { stop(); }

void SegmentMonitor::restart() {
  stop();
  start();
}

void SegmentMonitor::start() {
  const std::filesystem::path directory = path_.has_parent_path() ? path_.parent_path() : ".";
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ < 0) throw_system_error(errno, "inotify_init1");
  if (::inotify_add_watch(inotify_fd_, directory.c_str(), kDirectoryEvents) < 0) {
    const int err = errno;
    close_if_open(inotify_fd_);
    throw_system_error(err, "watch directory " + directory.string());
  }
  // -1 when the file is already gone or replaced by something we may not watch: the thread then
  // reports an event at once, and the owner looks at the path.
  file_watch_ = ::inotify_add_watch(inotify_fd_, path_.c_str(), kFileEvents | IN_DONT_FOLLOW);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    const int err = errno;
    close_if_open(inotify_fd_);
    throw_system_error(err, "eventfd");
  }
  owner_ = ::getpid();
  thread_ = std::make_unique<std::thread>(&SegmentMonitor::run, this, inotify_fd_, stop_fd_);
}

void SegmentMonitor::stop() noexcept {
  if (thread_) {
    if (owner_ == ::getpid()) {
      const std::uint64_t one = 1;
      static_cast<void>(::write(stop_fd_, &one, sizeof one));
      thread_->join();
      thread_.reset();
    } else {
      // Forked: that thread exists only in the parent. Joining or destroying its handle here
      // would terminate, so the handle is deliberately leaked.
      static_cast<void>(thread_.release());
    }
  }
  close_if_open(stop_fd_);
  close_if_open(inotify_fd_);
}

void SegmentMonitor::run(int inotify_fd, int stop_fd) {
  const std::string name = path_.filename().string();
  if (file_watch_ < 0) on_event_();
  for (;;) {
    pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    alignas(inotify_event) char buffer[4096];
    bool concerns_us = false;
    ssize_t got = 0;
    while ((got = ::read(inotify_fd, buffer, sizeof buffer)) > 0) {
      for (ssize_t offset = 0; offset < got;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
        if (event->wd == file_watch_) {
          concerns_us = true;
        } else {
          const bool about_directory = (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0;
          if (about_directory || (event->len > 0 && name == event->name)) concerns_us = true;
        }
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    if (concerns_us) on_event_();
  }
}

}  // namespace snapbus
