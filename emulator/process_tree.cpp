#include "process_tree.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include "snapbus/file_contents.h"
#include "snapbus/text.h"

namespace snapbus::emulator {
namespace {

struct StatLine {
  char state = 0;
  pid_t ppid = 0;
};

std::string proc_path(pid_t pid, const char* entry) { return "/proc/" + std::to_string(pid) + "/" + entry; }

std::optional<StatLine> read_stat(pid_t pid) {
  const auto contents = try_read_file_contents(proc_path(pid, "stat"));
  if (!contents) return std::nullopt;
  const std::string text = contents->substr(0, contents->find('\n'));
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
    if (auto pid = parse_number<pid_t>(entry.path().filename().string(), 1, std::numeric_limits<pid_t>::max())) {
      pids.push_back(*pid);
    }
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

bool has_env(pid_t pid, std::string_view entry) {
  const auto variables = try_read_file_contents(proc_path(pid, "environ"));
  if (!variables) return false;
  std::string_view rest = *variables;
  while (!rest.empty()) {
    const auto end = rest.find('\0');
    if (rest.substr(0, end) == entry) return true;
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  return false;
}

std::vector<pid_t> processes_with_env(const std::string& entry) {
  std::vector<pid_t> out;
  for (pid_t pid : all_pids()) {
    if (has_env(pid, entry)) out.push_back(pid);
  }
  return out;
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
