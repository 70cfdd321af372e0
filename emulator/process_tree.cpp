#include "process_tree.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace snapbus::emulator {
namespace {

struct StatLine {
  char state = 0;
  pid_t ppid = 0;
};

std::optional<StatLine> read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  StatLine line;
  fields >> line.state >> line.ppid;
  if (!fields) return std::nullopt;
  return line;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    auto [ptr, err] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (err == std::errc{} && ptr == name.data() + name.size()) pids.push_back(pid);
  }
  return pids;
}

}  // namespace

std::vector<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  for (pid_t pid : all_pids()) {
    if (auto stat = read_stat(pid)) children.emplace(stat->ppid, pid);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> frontier{root};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    auto [first, last] = children.equal_range(parent);
    for (auto it = first; it != last; ++it) {
      out.push_back(it->second);
      frontier.push_back(it->second);
    }
  }
  return out;
}

char process_state(pid_t pid) {
  auto stat = read_stat(pid);
  return stat ? stat->state : '\0';
}

std::vector<pid_t> processes_with_env(const std::string& entry) {
  std::vector<pid_t> out;
  for (pid_t pid : all_pids()) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string var;
    while (std::getline(in, var, '\0')) {
      if (var == entry) {
        out.push_back(pid);
        break;
      }
    }
  }
  return out;
}

unsigned resident_mb(const std::vector<pid_t>& pids) {
  unsigned long long kib = 0;
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) {
        kib += std::stoull(line.substr(6));
        break;
      }
    }
  }
  return static_cast<unsigned>((kib + 1023) / 1024);
}

bool kill_descendants_and_reap(pid_t root, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    std::vector<pid_t> left;
    for (pid_t pid : descendants(root)) {
      if (process_state(pid) != 'Z') left.push_back(pid);
    }
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    int status = 0;
    bool reaped_any = false;
    while (::waitpid(-1, &status, WNOHANG) > 0) reaped_any = true;
    if (left.empty() && !reaped_any) {
      // Zombies of our own children are reaped above; anything else would be someone else's.
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace snapbus::emulator
