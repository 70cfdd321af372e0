#include "freezer.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "process_tree.h"
#include "snapbus/file_contents.h"
#include "snapbus/unique_fd.h"

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool write_text(const fs::path& path, std::string_view text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

std::string read_text(const fs::path& path) { return try_read_file_contents(path).value_or(""); }

// A parent waiting for its vfork child to exec (dash runs commands this way) sleeps
// uninterruptibly and does not stop on SIGSTOP until the child has exec'd or exited; with that
// child stopped too it never would. It runs no code of its own while it waits, so it counts as
// frozen.
bool in_vfork_wait(pid_t pid) { return read_text(fs::path("/proc") / std::to_string(pid) / "wchan") == "kernel_clone"; }

class SignalFreezer final : public Freezer {
 public:
  [[nodiscard]] std::string_view backend() const override { return "signal"; }

  void freeze() override {
    // A process may fork while we stop its siblings: rescan until a pass finds nobody new.
    const pid_t self = ::getpid();
    for (int pass = 0; pass < 100; ++pass) {
      bool found_new = false;
      for (pid_t pid : descendants(self)) {
        if (stopped_.insert(pid).second) {
          ::kill(pid, SIGSTOP);
          found_new = true;
        }
      }
      if (!found_new) break;
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (pid_t pid : stopped_) {
      for (;;) {
        const char state = process_state(pid);
        if (state == 'T' || state == 't' || state == 'Z' || state == 'X' || state == '\0') break;
        if (state == 'D' && in_vfork_wait(pid)) break;
        if (std::chrono::steady_clock::now() > deadline) {
          const std::string status = read_text(fs::path("/proc") / std::to_string(pid) / "status");
          throw std::runtime_error(fmt::format("process {} did not stop on SIGSTOP within 5 s (state {}): {}", pid,
                                               state, status.substr(0, 600)));
        }
        std::this_thread::sleep_for(1ms);
      }
    }
  }

  void thaw() override {
    for (pid_t pid : stopped_) ::kill(pid, SIGCONT);
    stopped_.clear();
  }

 private:
  std::set<pid_t> stopped_;
};

class CgroupFreezer final : public Freezer {
 public:
  CgroupFreezer(fs::path dir, UniqueFd procs_fd) : dir_(std::move(dir)), procs_fd_(std::move(procs_fd)) {}

  ~CgroupFreezer() override {
    procs_fd_.reset();
    // Only an empty cgroup can be removed; give the kernel a moment to notice the last exit.
    for (int i = 0; i < 200; ++i) {
      if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
      std::this_thread::sleep_for(5ms);
    }
  }

  [[nodiscard]] std::string_view backend() const override { return "cgroup"; }

  void join_from_child() const override {
    // "0" means "the writing process"; a failure leaves the child outside but still in the tree.
    (void)!::write(procs_fd_.get(), "0", 1);
  }

  void freeze() override { set_frozen(true); }
  void thaw() override { set_frozen(false); }

  void kill_all() override {
    if (fs::exists(dir_ / "cgroup.kill")) {
      write_text(dir_ / "cgroup.kill", "1");
    } else {
      std::istringstream pids(read_text(dir_ / "cgroup.procs"));
      pid_t pid = 0;
      while (pids >> pid) ::kill(pid, SIGKILL);
    }
  }

 private:
  void set_frozen(bool frozen) {
    if (!write_text(dir_ / "cgroup.freeze", frozen ? "1" : "0")) {
      throw std::runtime_error(fmt::format("cannot write {}", (dir_ / "cgroup.freeze").string()));
    }
    const std::string want = frozen ? "frozen 1" : "frozen 0";
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (read_text(dir_ / "cgroup.events").find(want) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(fmt::format("{} did not report '{}' within 5 s", dir_.string(), want));
      }
      std::this_thread::sleep_for(1ms);
    }
  }

  fs::path dir_;
  UniqueFd procs_fd_;
};

std::optional<fs::path> own_cgroup2_dir() {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  std::optional<fs::path> mount_point;
  while (std::getline(mounts, line)) {
    // Fields: id parent major:minor root mount-point options ... - fstype source super-options
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (root == "/") mount_point = point;
  }
  if (!mount_point) return std::nullopt;
  std::ifstream cgroups("/proc/self/cgroup");
  while (std::getline(cgroups, line)) {
    if (line.rfind("0::", 0) == 0) return *mount_point / fs::path(line.substr(3)).relative_path();
  }
  return std::nullopt;
}

std::unique_ptr<Freezer> try_cgroup(const std::string& name, std::string& why_not) {
  auto parent = own_cgroup2_dir();
  if (!parent) {
    why_not = "no cgroup2 hierarchy is mounted";
    return nullptr;
  }
  const fs::path dir = *parent / name;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    why_not = fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno));
    return nullptr;
  }
  auto give_up = [&](std::string reason) -> std::unique_ptr<Freezer> {
    ::rmdir(dir.c_str());
    why_not = std::move(reason);
    return nullptr;
  };
  if (!fs::exists(dir / "cgroup.freeze")) return give_up(fmt::format("{} has no cgroup.freeze", dir.string()));
  UniqueFd fd(::open((dir / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return give_up(fmt::format("cannot open {}/cgroup.procs: {}", dir.string(), std::strerror(errno)));
  // Moving a process in needs write access to the common ancestor too: prove it with a throwaway child.
  const pid_t probe = ::fork();
  if (probe == 0) _exit(::write(fd.get(), "0", 1) == 1 ? 0 : 1);
  int status = 0;
  if (probe < 0 || ::waitpid(probe, &status, 0) != probe || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fd.reset();
    return give_up(fmt::format("cannot move processes into {}", dir.string()));
  }
  return std::make_unique<CgroupFreezer>(dir, std::move(fd));
}

}  // namespace

std::string freezer_cgroup_name(pid_t emulator_pid) { return fmt::format("snapbus-emulate-{}", emulator_pid); }

std::optional<std::string> freezer_cgroup_path(const std::string& name) {
  auto parent = own_cgroup2_dir();
  if (!parent) return std::nullopt;
  return (*parent / name).string();
}

void remove_freezer_cgroup(const std::string& name) {
  auto path = freezer_cgroup_path(name);
  if (!path) return;
  const fs::path dir = *path;
  for (int i = 0; i < 100; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(10ms);
  }
}

std::unique_ptr<Freezer> Freezer::create(FreezerMode mode, const std::string& name, std::string& note) {
  if (mode == FreezerMode::signal) {
    note = "SIGSTOP/SIGCONT of the process tree (asked for)";
    return std::make_unique<SignalFreezer>();
  }
  std::string why_not;
  if (auto cgroup = try_cgroup(name, why_not)) {
    note = "cgroup v2 freezer";
    return cgroup;
  }
  if (mode == FreezerMode::cgroup) throw std::runtime_error("--freezer cgroup: " + why_not);
  note = "SIGSTOP/SIGCONT of the process tree (" + why_not + ")";
  return std::make_unique<SignalFreezer>();
}

}  // namespace snapbus::emulator
