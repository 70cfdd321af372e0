/* Preloaded into the app's processes by /opt/bootstrap (LD_PRELOAD), so that the adapter learns the
 * moment the app listens instead of finding out by polling: a 1 ms poll costs a core's 2-3% on a VM
 * for as long as the app takes to start, a wake-up it cannot avoid. Each process says when it
 * starts, after each listen() on a TCP socket that succeeded, and before it runs another program:
 * what the adapter needs to know whether every listen() of the app will be heard, and so whether it
 * may poll slowly. A datagram nobody receives is dropped: the app never depends on the adapter and
 * never sees an error of ours (listen_notice_wire.h has the datagrams).
 *
 * Only libc: the library loads into any dynamically linked program the handler script starts
 * (Python, Node, a JVM, the shell), and a statically linked one simply does not load it. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen_notice_wire.h"

/* How long a notice may wait for room in the adapter's queue (net.unix.max_dgram_qlen, 10 by
 * default) before it is dropped: a lost "exec" would let the adapter believe it hears every
 * listen() when it does not, so a burst of starting processes waits briefly rather than losing it. */
static const struct timeval kSendTimeout = {.tv_sec = 0, .tv_usec = 20000};

static void send_notice(const char* text, int length) {
  const char* segment = getenv("SNAPBUS_SEGMENT");
  if (segment == NULL || *segment == '\0' || length <= 0) return;
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  /* sun_path[0] stays NUL: an abstract name. */
  snapbus_listen_notice_name(segment, address.sun_path + 1);
  const socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(address.sun_path + 1));
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout, sizeof kSendTimeout);
  (void)sendto(fd, text, (size_t)length, MSG_NOSIGNAL, (const struct sockaddr*)&address, size);
  close(fd);
}

/* The datagrams are built by hand rather than by snprintf: exec may be called in a child forked from
 * a threaded parent, where only async-signal-safe calls are allowed. */
static char* append_text(char* out, const char* text) {
  while (*text != '\0') *out++ = *text++;
  return out;
}

static char* append_decimal(char* out, unsigned long value) {
  char digits[20];
  int count = 0;
  do {
    digits[count++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) *out++ = digits[--count];
  return out;
}

/* "<kind> <pid>", and " <port>" when port is not 0. */
static void send_pid_notice(const char* kind, pid_t pid, unsigned port) {
  const int saved_errno = errno;
  char text[48]; /* the longest kind, and two numbers of at most 20 digits: within 48 */
  char* end = append_decimal(append_text(append_text(text, kind), " "), (unsigned long)pid);
  if (port != 0) end = append_decimal(append_text(end, " "), port);
  send_notice(text, (int)(end - text));
  errno = saved_errno;
}

/* Go's runtime makes its system calls itself, so a Go program's listen() never reaches this
 * library. Its linker marks every executable with a build-id note (name "Go", type 4), which the
 * loader has mapped with the program's headers: no file to read. */
static int notes_name_go(const unsigned char* notes, size_t size, size_t align) {
  size_t at = 0;
  while (size - at >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr header;
    memcpy(&header, notes + at, sizeof header);
    const size_t name_size = (header.n_namesz + align - 1) / align * align;
    const size_t desc_size = (header.n_descsz + align - 1) / align * align;
    at += sizeof header;
    if (name_size > size - at || desc_size > size - at - name_size) return 0;
    /* Go writes the name padded, "Go\0\0", and counts the padding. */
    if (header.n_type == 4 && (header.n_namesz == 3 || header.n_namesz == 4) && memcmp(notes + at, "Go", 3) == 0) {
      return 1;
    }
    at += name_size + desc_size;
  }
  return 0;
}

/* Linkers place notes inside a loaded segment, but nothing forces an odd one to: a note outside
 * every PT_LOAD is not in memory, and reading it would crash the app. */
static int is_loaded(const struct dl_phdr_info* info, const ElfW(Phdr) * segment) {
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)* load = &info->dlpi_phdr[i];
    if (load->p_type == PT_LOAD && segment->p_vaddr >= load->p_vaddr && segment->p_memsz <= load->p_memsz &&
        segment->p_vaddr - load->p_vaddr <= load->p_memsz - segment->p_memsz) {
      return 1;
    }
  }
  return 0;
}

static int main_program_is_go(struct dl_phdr_info* info, size_t size, void* result) {
  (void)size;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)* segment = &info->dlpi_phdr[i];
    if (segment->p_type != PT_NOTE || !is_loaded(info, segment)) continue;
    const size_t align = segment->p_align == 8 ? 8 : 4;
    /* The loader gives the load address as an integer. */
    const unsigned char* notes =
        (const unsigned char*)(info->dlpi_addr + segment->p_vaddr); /* NOLINT(performance-no-int-to-ptr) */
    if (notes_name_go(notes, segment->p_memsz, align)) {
      *(int*)result = 1;
    }
  }
  return 1; /* the main program comes first: the libraries after it do not matter */
}

/* The functions wrapped below, as the next object (libc) defines them. Looked up once, as the
 * library loads: they may be called in a vfork() child, which must not take the loader's lock. */
typedef int (*ExecveFunction)(const char*, char* const[], char* const[]);
typedef int (*ExecvFunction)(const char*, char* const[]);
typedef int (*FexecveFunction)(int, char* const[], char* const[]);
typedef int (*PosixSpawnFunction)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                                  char* const[], char* const[]);
static ExecveFunction next_execve;
static ExecvFunction next_execv;
static ExecvFunction next_execvp;
static ExecveFunction next_execvpe;
static FexecveFunction next_fexecve;
static PosixSpawnFunction next_posix_spawn;
static PosixSpawnFunction next_posix_spawnp;

/* dlsym returns an object pointer, which ISO C cannot convert to a function pointer: copied. */
static void look_up_next(void* function_pointer, const char* name) {
  void* found = dlsym(RTLD_NEXT, name);
  memcpy(function_pointer, &found, sizeof found);
}

__attribute__((constructor)) static void announce_process(void) {
  const int saved_errno = errno;
  look_up_next(&next_execve, "execve");
  look_up_next(&next_execv, "execv");
  look_up_next(&next_execvp, "execvp");
  look_up_next(&next_execvpe, "execvpe");
  look_up_next(&next_fexecve, "fexecve");
  look_up_next(&next_posix_spawn, "posix_spawn");
  look_up_next(&next_posix_spawnp, "posix_spawnp");
  int go = 0;
  dl_iterate_phdr(main_program_is_go, &go);
  errno = saved_errno;
  send_pid_notice(go ? "unheard" : "hello", getpid(), 0);
}

static unsigned local_port(int fd) {
  struct sockaddr_storage local;
  socklen_t size = sizeof local;
  if (getsockname(fd, (struct sockaddr*)&local, &size) != 0) return 0;
  if (local.ss_family == AF_INET) return ntohs(((const struct sockaddr_in*)&local)->sin_port);
  if (local.ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6*)&local)->sin6_port);
  return 0; /* a Unix socket is not what the readiness check connects to */
}

/* libc's listen() is the system call and nothing else, so it is made directly. */
__attribute__((visibility("default"))) int listen(int fd, int backlog) {
  const long result = syscall(SYS_listen, fd, backlog);
  if (result == 0) {
    const int saved_errno = errno;
    const unsigned port = local_port(fd);
    if (port != 0) send_pid_notice("listen", getpid(), port);
    errno = saved_errno;
  }
  return (int)result;
}

/* The exec family: libc's own execv, execvp, execl... call its internal execve, not this one, so each
 * is wrapped. "exec" goes first: the program that follows says hello itself, or, if the library
 * does not reach it, never does, and the adapter keeps polling at LWA's pace. A failed exec leaves
 * the process as it was, which is only polled for needlessly. */
static int unavailable(void) {
  errno = ENOSYS;
  return -1;
}

__attribute__((visibility("default"))) int execve(const char* path, char* const argv[], char* const envp[]) {
  send_pid_notice("exec", getpid(), 0);
  return next_execve != NULL ? next_execve(path, argv, envp) : unavailable();
}

__attribute__((visibility("default"))) int execv(const char* path, char* const argv[]) {
  send_pid_notice("exec", getpid(), 0);
  return next_execv != NULL ? next_execv(path, argv) : unavailable();
}

__attribute__((visibility("default"))) int execvp(const char* file, char* const argv[]) {
  send_pid_notice("exec", getpid(), 0);
  return next_execvp != NULL ? next_execvp(file, argv) : unavailable();
}

__attribute__((visibility("default"))) int execvpe(const char* file, char* const argv[], char* const envp[]) {
  send_pid_notice("exec", getpid(), 0);
  return next_execvpe != NULL ? next_execvpe(file, argv, envp) : unavailable();
}

__attribute__((visibility("default"))) int fexecve(int fd, char* const argv[], char* const envp[]) {
  send_pid_notice("exec", getpid(), 0);
  return next_fexecve != NULL ? next_fexecve(fd, argv, envp) : unavailable();
}

/* execl, execlp, execle: the arguments up to the NULL become an array, as libc builds it (argc
 * counts them without the NULL, which argv[argc] holds). */
static size_t count_arguments(const char* arg0, va_list* arguments) {
  if (arg0 == NULL) return 0;
  va_list counting;
  va_copy(counting, *arguments);
  size_t count = 1; /* arg0 */
  while (va_arg(counting, char*) != NULL) ++count;
  va_end(counting);
  return count;
}

enum ListedExec { EXEC_PATH, EXEC_SEARCHING_PATH, EXEC_WITH_ENVIRONMENT };

static int exec_listed(enum ListedExec how, const char* target, const char* arg0, va_list* arguments) {
  const size_t argc = count_arguments(arg0, arguments);
  char* argv[argc + 1];
  argv[0] = (char*)arg0;
  for (size_t i = 1; i <= argc; ++i) argv[i] = va_arg(*arguments, char*); /* the NULL included */
  switch (how) {
    case EXEC_SEARCHING_PATH: return execvp(target, argv);
    case EXEC_WITH_ENVIRONMENT: return execve(target, argv, va_arg(*arguments, char* const*));
    case EXEC_PATH: break;
  }
  return execv(target, argv);
}

__attribute__((visibility("default"))) int execl(const char* path, const char* arg0, ...) {
  va_list arguments;
  va_start(arguments, arg0);
  const int result = exec_listed(EXEC_PATH, path, arg0, &arguments);
  va_end(arguments);
  return result;
}

__attribute__((visibility("default"))) int execlp(const char* file, const char* arg0, ...) {
  va_list arguments;
  va_start(arguments, arg0);
  const int result = exec_listed(EXEC_SEARCHING_PATH, file, arg0, &arguments);
  va_end(arguments);
  return result;
}

__attribute__((visibility("default"))) int execle(const char* path, const char* arg0, ...) {
  va_list arguments;
  va_start(arguments, arg0);
  const int result = exec_listed(EXEC_WITH_ENVIRONMENT, path, arg0, &arguments);
  va_end(arguments);
  return result;
}

/* posix_spawn runs its program with libc's internal execve, which no wrapper sees: the parent names
 * the child after the fact. The child's own hello may come first; the adapter orders them. */
static int spawn_and_name(PosixSpawnFunction next, pid_t* pid, const char* target,
                          const posix_spawn_file_actions_t* actions, const posix_spawnattr_t* attributes,
                          char* const argv[], char* const envp[]) {
  if (next == NULL) return ENOSYS;
  pid_t child = 0;
  const int result = next(&child, target, actions, attributes, argv, envp);
  if (result == 0) {
    send_pid_notice("spawn", child, 0);
    if (pid != NULL) *pid = child;
  }
  return result;
}

__attribute__((visibility("default"))) int posix_spawn(pid_t* pid, const char* path,
                                                       const posix_spawn_file_actions_t* actions,
                                                       const posix_spawnattr_t* attributes, char* const argv[],
                                                       char* const envp[]) {
  return spawn_and_name(next_posix_spawn, pid, path, actions, attributes, argv, envp);
}

__attribute__((visibility("default"))) int posix_spawnp(pid_t* pid, const char* file,
                                                        const posix_spawn_file_actions_t* actions,
                                                        const posix_spawnattr_t* attributes, char* const argv[],
                                                        char* const envp[]) {
  return spawn_and_name(next_posix_spawnp, pid, file, actions, attributes, argv, envp);
}
