// Notices, as it happens, that the file at a segment's path is no longer the mapped segment:
// deleted, replaced (renamed over), or truncated.
//
//   SegmentMonitor monitor(path, [&] { if (segment_lost()) wake_the_watcher(); });
//   ...                        // after fork, in the child:
//   monitor.restart();
//
// A background thread blocks in poll() on inotify and an eventfd that stops it; nothing polls on a
// timer. Two watches: the segment's directory for names (create, delete, moves) and the directory
// itself going, and the segment file for modify (which truncation raises) and attribute changes, so
// writes to other files of the directory (/tmp by default) wake nobody. For every event that names
// the file, or concerns the file or the directory itself, it calls `on_event`, which decides
// whether anything changed. Threads do not survive fork(): restart() starts a new
// one in the child, and a monitor destroyed in a process that did not start its thread only
// closes its descriptors.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

namespace snapbus {

class SegmentMonitor {
 public:
  SegmentMonitor(std::filesystem::path path, std::function<void()> on_event);
  SegmentMonitor(const SegmentMonitor&) = delete;
  SegmentMonitor& operator=(const SegmentMonitor&) = delete;
  ~SegmentMonitor();

  // In a forked child: watch again from this process.
  void restart();

 private:
  void start();
  void stop() noexcept;
  void run(int inotify_fd, int stop_fd);

  std::filesystem::path path_;
  std::function<void()> on_event_;
  int inotify_fd_ = -1;
  int file_watch_ = -1;  // -1: the file could not be watched (gone already)
  int stop_fd_ = -1;
  pid_t owner_ = 0;  // the process whose thread thread_ is
  std::unique_ptr<std::thread> thread_;
};

}  // namespace snapbus
