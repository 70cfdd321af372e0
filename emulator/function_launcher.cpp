#include "function_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <random>

#include <fmt/format.h>

#include "snapbus/unique_fd.h"

extern char** environ;

namespace snapbus::emulator {

void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L); }

pid_t spawn_process(const LaunchSpec& spec, const Freezer* freezer) {
  if (spec.argv.empty()) throw LaunchError("empty command line");
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();

  // The child reports a failed chdir or exec through this pipe; exec closes it on success.
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) throw LaunchError(fmt::format("pipe: {}", std::strerror(errno)));
  UniqueFd report_read(ends[0]);
  UniqueFd report_write(ends[1]);
  const pid_t pid = ::fork();
  if (pid < 0) throw LaunchError(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    report_read.reset();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L);
    if (::getppid() != parent) _exit(127);
    ::setpgid(0, 0);
    if (freezer != nullptr) freezer->join_from_child();
    if ((spec.output.stdout_fd >= 0 && ::dup2(spec.output.stdout_fd, STDOUT_FILENO) < 0) ||
        (spec.output.stderr_fd >= 0 && ::dup2(spec.output.stderr_fd, STDERR_FILENO) < 0)) {
      const int err = errno;
      (void)!::write(report_write.get(), &err, sizeof err);
      _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The function gets stdin, stdout and stderr only, as in Lambda: whatever else the emulator has
    // open (its listeners, its clients' sockets) closes at exec, even if it was opened without O_CLOEXEC.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
      const int err = errno;
      (void)!::write(report_write.get(), &err, sizeof err);
      _exit(127);
    }
    ::execve(argv[0], argv.data(), envp.data());
    if (errno == ENOENT && std::strchr(argv[0], '/') == nullptr) ::execvpe(argv[0], argv.data(), envp.data());
    const int err = errno;
    (void)!::write(report_write.get(), &err, sizeof err);
    _exit(127);
  }
  report_write.reset();
  int child_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw LaunchError(fmt::format("cannot start '{}': {}", spec.argv[0], std::strerror(child_errno)));
  }
  return pid;
}

namespace {

std::string log_stream_name(const std::string& version) {
  std::random_device rd;
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char date[16];
  std::strftime(date, sizeof date, "%Y/%m/%d", &utc);
  return fmt::format("{}/[{}]{:08x}{:08x}{:08x}{:08x}", date, version, rd(), rd(), rd(), rd());
}

}  // namespace

std::vector<std::string> function_environment(const Config& config, const std::string& runtime_api,
                                              const std::string& init_type, const std::string& marker) {
  std::map<std::string, std::string> vars;
  if (!config.clean_env) {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      const auto eq = entry.find('=');
      if (eq != std::string_view::npos) vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
  } else if (const char* path = std::getenv(kEnvPath)) {
    vars[kEnvPath] = path;
  }
  vars[kEnvTz] = ":UTC";
  vars[kEnvLang] = "en_US.UTF-8";
  for (const auto& [k, v] : config.user_env) vars[k] = v;
  vars[kEnvRuntimeApi] = runtime_api;
  vars[kEnvInitializationType] = init_type;
  vars[kEnvTaskRoot] = config.task_root;
  if (vars.count(kEnvRuntimeDir) == 0) vars[kEnvRuntimeDir] = config.task_root;
  vars[kEnvHandler] = config.handler;
  vars[kEnvFunctionName] = config.function_name;
  vars[kEnvFunctionVersion] = config.function_version;
  vars[kEnvMemorySize] = std::to_string(config.memory_size_mb);
  vars[kEnvRegion] = config.region;
  vars[kEnvDefaultRegion] = config.region;
  vars[kEnvLogGroup] = "/aws/lambda/" + config.function_name;
  vars[kEnvLogStream] = log_stream_name(config.function_version);
  if (!config.exec_wrapper.empty()) vars[kEnvExecWrapper] = config.exec_wrapper;
  const auto eq = marker.find('=');
  vars[marker.substr(0, eq)] = marker.substr(eq + 1);
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [k, v] : vars) out.push_back(std::string(k).append("=").append(v));
  return out;
}

std::vector<std::string> runtime_argv(const Config& config) {
  std::vector<std::string> argv;
  if (!config.exec_wrapper.empty()) argv.push_back(config.exec_wrapper);
  argv.insert(argv.end(), config.command.begin(), config.command.end());
  return argv;
}

std::vector<std::filesystem::path> find_extensions(const std::string& opt_dir) {
  std::vector<std::filesystem::path> out;
  if (opt_dir.empty()) return out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(opt_dir) / "extensions", ec)) {
    // Every entry but a directory, executable or not, a link (to a directory too) as itself: the RIE
    // starts each one, and one that cannot start fails Init with Extension.LaunchError, where
    // skipping it would hide a layer whose extension lost its mode bits.
    std::error_code type_ec;
    if (!entry.is_directory(type_ec) || entry.is_symlink(type_ec)) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace snapbus::emulator
