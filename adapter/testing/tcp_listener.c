/* A program that listens on 127.0.0.1 with libc's listen() and prints "port <n>", then waits to be
 * killed. listen_notice_test builds it two ways the listen notice library cannot hear: statically
 * linked (the library does not load into it), and marked as Go (SNAPBUS_TEST_GO_NOTE).
 *
 *   tcp_listener_static 8080     # or 0 for a port of the kernel's choosing */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef SNAPBUS_TEST_GO_NOTE
/* What Go's linker puts in every executable, in a PT_NOTE segment: a note named "Go" (written
 * padded, and counted so) of type 4, the build id. */
struct GoBuildIdNote {
  unsigned name_size;
  unsigned description_size;
  unsigned type;
  char name[4];
  char description[8];
};
__attribute__((section(".note.go.buildid"), used, aligned(4))) static const struct GoBuildIdNote go_build_id = {
    4, 8, 4, "Go", "testtest"};
#endif

int main(int argc, char** argv) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in address = {.sin_family = AF_INET,
                                .sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 0)),
                                .sin_addr = {.s_addr = htonl(INADDR_LOOPBACK)}};
  const int one = 1;
  socklen_t size = sizeof address;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, (struct sockaddr*)&address, sizeof address) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr*)&address, &size) != 0) {
    perror("tcp_listener");
    return 1;
  }
  printf("port %u\n", ntohs(address.sin_port));
  fflush(stdout);
  for (;;) pause();
}
