#include "snapbus/error.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace snapbus {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::not_found: return "not_found";
    case Errc::permission_denied: return "permission_denied";
    case Errc::invalid_segment: return "invalid_segment";
    case Errc::version_mismatch: return "version_mismatch";
    case Errc::busy: return "busy";
    case Errc::no_free_slot: return "no_free_slot";
    case Errc::timed_out: return "timed_out";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::system: return "system";
    case Errc::interrupted: return "interrupted";
    case Errc::closed: return "closed";
  }
  return "unknown";
}

Error::Error(Errc code, const std::string& message, int sys_errno)
    : std::runtime_error(message), code_(code), errno_(sys_errno) {}

Errc errc_from_errno(int sys_errno) noexcept {
  switch (sys_errno) {
    case ENOENT: return Errc::not_found;
    case EACCES:
    case EPERM:
    case EROFS:
    // ELOOP is what O_NOFOLLOW gives for a symlink: treated as a hostile path, not a lookup miss.
    case ELOOP: return Errc::permission_denied;
    case ETIMEDOUT: return Errc::timed_out;
    case EINTR: return Errc::interrupted;
    case EWOULDBLOCK: return Errc::busy;
    default: return Errc::system;
  }
}

void throw_system_error(int sys_errno, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += std::strerror(sys_errno);
  throw Error(errc_from_errno(sys_errno), message, sys_errno);
}

void report_bug(const char* expression, const char* file, int line) noexcept {
  std::fprintf(stderr, "snapbus bug: %s at %s:%d\n", expression, file, line);
  std::abort();
}

}  // namespace snapbus
