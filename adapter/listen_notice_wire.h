/* What the library /opt/bootstrap preloads into the app's processes (listen_notice_preload.c) and
 * the adapter that listens for it (listen_notice.cpp) must agree on, in one place, in C so that the
 * library needs nothing but libc:
 *
 *   char name[SNAPBUS_LISTEN_NOTICE_NAME_SIZE];
 *   snapbus_listen_notice_name("/tmp/snapbus.seg", name);   // "snapbus-listen-" + 16 hex digits
 *
 * The name is that of an abstract Unix datagram socket (no file: Lambda's /tmp is the only writable
 * place, and an abstract name is gone with its process). It is derived from the segment's path, so
 * every process of one function finds the adapter of that function's segment, and two adapters of
 * two segments on one machine (tests, local runs) never hear each other. The datagrams are text:
 *   "hello <pid>"          a process started with the library loaded: its listen() will be heard
 *   "unheard <pid>"        the same, but a Go program: its runtime makes the system call itself
 *   "listen <pid> <port>"  a listen() on an IPv4 or IPv6 socket succeeded
 *   "exec <pid>"           the process is about to run another program (execve and the rest of the
 *                          family): a hello follows from it only if the library reaches that program
 *   "spawn <pid>"          posix_spawn() started this process; its hello may come before this */
#ifndef SNAPBUS_ADAPTER_LISTEN_NOTICE_WIRE_H
#define SNAPBUS_ADAPTER_LISTEN_NOTICE_WIRE_H

#ifdef __cplusplus
extern "C" {
#endif

/* "snapbus-listen-", 16 hex digits, the terminating NUL. */
#define SNAPBUS_LISTEN_NOTICE_NAME_SIZE 32

void snapbus_listen_notice_name(const char* segment_path, char name[SNAPBUS_LISTEN_NOTICE_NAME_SIZE]);

#ifdef __cplusplus
}
#endif

#endif
