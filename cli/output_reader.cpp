#include "output_reader.h"

#include <poll.h>

namespace snapbus::cli {

bool output_reader_gone(int fd) noexcept {
  pollfd output{.fd = fd, .events = POLLOUT, .revents = 0};
  if (::poll(&output, 1, 0) != 1) return false;
  // A pipe with no reader left reports POLLERR to its writer; a socket whose peer closed, POLLHUP.
  return (output.revents & (POLLERR | POLLHUP)) != 0 && (output.revents & POLLNVAL) == 0;
}

}  // namespace snapbus::cli
