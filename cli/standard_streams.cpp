#include "standard_streams.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace snapbus::cli {
namespace {

bool is_closed(int fd) { return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

// open() returns the lowest free number: with every lower descriptor already open, that is `fd`.
void open_dev_null_as(int fd) {
  const int opened = ::open("/dev/null", O_RDWR);
  if (opened >= 0 && opened != fd) ::close(opened);
}

}  // namespace

bool hold_standard_streams_open() noexcept {
  bool stdout_was_closed = false;
  for (int fd = 0; fd <= 2; ++fd) {
    if (!is_closed(fd)) continue;
    if (fd == 1) stdout_was_closed = true;
    open_dev_null_as(fd);
  }
  return stdout_was_closed;
}

}  // namespace snapbus::cli
