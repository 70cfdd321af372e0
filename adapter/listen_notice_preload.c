/* Preloaded into the app's processes by /opt/bootstrap (LD_PRELOAD), so that the adapter learns the
 * moment the app listens instead of finding out by polling: a 1 ms poll costs a core's 2-3% on a VM
 * for as long as the app takes to start, a wake-up it cannot avoid. Each process sends one datagram
 * when it starts (so the adapter knows a later listen() will be announced and polls slowly) and one
 * after each listen() on a TCP socket that succeeded. A datagram nobody receives is dropped: the
 * app never waits for the adapter and never sees an error of ours.
 *
 * Only libc: the library loads into any dynamically linked program the handler script starts
 * (Python, Node, a JVM, the shell), and a statically linked one simply does not load it. */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen_notice_wire.h"

static void send_notice(const char* text, int length) {
  const char* segment = getenv("SNAPBUS_SEGMENT");
  if (segment == NULL || *segment == '\0' || length <= 0) return;
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  /* sun_path[0] stays NUL: an abstract name. */
  snapbus_listen_notice_name(segment, address.sun_path + 1);
  const socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(address.sun_path + 1));
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  (void)sendto(fd, text, (size_t)length, MSG_NOSIGNAL, (const struct sockaddr*)&address, size);
  close(fd);
}

__attribute__((constructor)) static void announce_process(void) {
  const int saved_errno = errno;
  char text[32];
  send_notice(text, snprintf(text, sizeof text, "hello %d", (int)getpid()));
  errno = saved_errno;
}

static unsigned local_port(int fd) {
  struct sockaddr_storage local;
  socklen_t size = sizeof local;
  if (getsockname(fd, (struct sockaddr*)&local, &size) != 0) return 0;
  if (local.ss_family == AF_INET) return ntohs(((const struct sockaddr_in*)&local)->sin_port);
  if (local.ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6*)&local)->sin6_port);
  return 0; /* a Unix socket is not what the readiness check connects to */
}

/* libc's listen() is the system call and nothing else, so it is made directly: no dlsym, no libdl. */
__attribute__((visibility("default"))) int listen(int fd, int backlog) {
  const long result = syscall(SYS_listen, fd, backlog);
  if (result == 0) {
    const int saved_errno = errno;
    const unsigned port = local_port(fd);
    if (port != 0) {
      char text[48];
      send_notice(text, snprintf(text, sizeof text, "listen %d %u", (int)getpid(), port));
    }
    errno = saved_errno;
  }
  return (int)result;
}
