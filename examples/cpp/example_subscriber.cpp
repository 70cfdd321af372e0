// example_subscriber: a process that subscribes to the snapbus lifecycle and says what its hooks do.
//
//   snapbus publish running &                     # or any publisher: creates the segment
//   example_subscriber --name api --ready-file /tmp/api.ready &
//   snapbus publish restore
//   # [example pid 4242 api] after-restore: regenerated token 9f3a61c0d2e4b857 (generation 1)
//
// Used by the README and by the multi-process tests, hence the knobs: a hook that fails, a hook
// that is slow (so a test can kill the process mid-hook), forked children that run their own
// hooks, a ready file written once every process has its slot, and an exit after N restores.
// Every line is flushed as it is printed, so a reader on a pipe sees it at once.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "snapbus/client.h"
#include "snapbus/config.h"
#include "snapbus/segment.h"

namespace {

using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: example_subscriber [--name NAME] [--segment PATH] [--fail-after-restore]\n"
    "                          [--slow-hook-ms N] [--fork N] [--ready-file PATH]\n"
    "                          [--exit-after-restores N]\n"
    "\n"
    "  --name NAME               the name `snapbus status` shows (default: example)\n"
    "  --segment PATH            the segment (default: $SNAPBUS_SEGMENT, else /tmp/snapbus.seg)\n"
    "  --fail-after-restore      add an after-restore hook 'reconnect-db' that throws\n"
    "  --slow-hook-ms N          add an after-restore hook 'warm-cache' that takes N ms\n"
    "  --fork N                  after subscribing, fork N children; each runs its own hooks\n"
    "  --ready-file PATH         once every process is subscribed, write their pids there\n"
    "  --exit-after-restores N   exit once N restores have been handled (each process counts)\n"
    "Runs until SIGTERM or SIGINT otherwise. Waits for the segment if there is none yet.\n";

struct Options {
  std::string name = "example";
  std::filesystem::path segment_path;
  bool fail_after_restore = false;
  int slow_hook_ms = 0;
  int fork_children = 0;
  std::filesystem::path ready_file;
  int exit_after_restores = 0;
};

[[noreturn]] void usage_error(const std::string& problem) {
  std::fprintf(stderr, "example_subscriber: %s\n%s", problem.c_str(), kUsage);
  std::exit(2);
}

int parse_count(std::string_view flag, std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    usage_error(std::string(flag) + " needs a non-negative integer");
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage_error(std::string(flag) + " needs a value");
      return argv[++i];
    };
    if (flag == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (flag == "--name") {
      options.name = value();
    } else if (flag == "--segment") {
      options.segment_path = value();
    } else if (flag == "--fail-after-restore") {
      options.fail_after_restore = true;
    } else if (flag == "--slow-hook-ms") {
      options.slow_hook_ms = parse_count(flag, value());
    } else if (flag == "--fork") {
      options.fork_children = parse_count(flag, value());
    } else if (flag == "--ready-file") {
      options.ready_file = value();
    } else if (flag == "--exit-after-restores") {
      options.exit_after_restores = parse_count(flag, value());
    } else {
      usage_error("unknown option '" + std::string(flag) + "'");
    }
  }
  if (options.segment_path.empty()) options.segment_path = snapbus::config_from_environment().segment_path;
  return options;
}

// One flushed line per event, prefixed with who says it; hooks print from the watcher thread.
class Say {
 public:
  explicit Say(std::string name) : name_(std::move(name)) {}
  void operator()(const std::string& text) const {
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    std::printf("[example pid %d %s] %s\n", static_cast<int>(::getpid()), name_.c_str(), text.c_str());
    std::fflush(stdout);
  }

 private:
  std::string name_;
};

std::string fresh_token() {
  std::random_device random;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", random(), random());
  return text;
}

void register_hooks(snapbus::Client& client, const Options& options, const Say& say) {
  client.before_snapshot("close-connections", [say](const snapbus::StateSnapshot& state) {
    say("before-snapshot: closed connections (seq " + std::to_string(state.seq) + ")");
  });
  client.after_restore("regenerate-token", [say](const snapbus::StateSnapshot& state) {
    say("after-restore: regenerated token " + fresh_token() + " (generation " + std::to_string(state.generation) + ")");
  });
  if (options.slow_hook_ms > 0) {
    client.after_restore("warm-cache", [say, ms = options.slow_hook_ms] {
      say("after-restore: warm-cache started, taking " + std::to_string(ms) + " ms");
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      say("after-restore: warm-cache done");
    });
  }
  if (options.fail_after_restore) {
    client.after_restore("reconnect-db", [say] {
      say("after-restore: reconnect-db failing on purpose");
      throw std::runtime_error("database unreachable");
    });
  }
  client.on_shutdown("flush-logs", [say] { say("shutdown: flushed logs"); });
  if (options.exit_after_restores > 0) {
    // Registered last, so it runs after every other after-restore hook; the ack follows before
    // main, woken by the signal, stops the watcher.
    client.after_restore("count-restores", [say, limit = options.exit_after_restores, restores = 0]() mutable {
      if (++restores == limit) {
        say("handled " + std::to_string(limit) + " restores, exiting");
        ::kill(::getpid(), SIGUSR1);
      }
    });
  }
}

void attach_when_the_segment_exists(snapbus::Client& client, const Options& options, const Say& say) {
  if (client.try_attach()) return;
  say("waiting for a segment at " + options.segment_path.string());
  while (!client.try_attach()) snapbus::wait_until_segment_exists(options.segment_path, std::nullopt);
}

// Forks the children; in each child returns an empty list, in the parent the children's pids once
// each has its own slot (told through a pipe).
std::vector<pid_t> fork_children(const snapbus::Client& client, int count, const Say& say) {
  std::vector<pid_t> children;
  if (count == 0) return children;
  int ready[2];
  if (::pipe(ready) != 0) throw std::runtime_error("pipe failed");
  for (int i = 0; i < count; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::close(ready[0]);
      say("forked child, own slot " + std::to_string(client.slot_index().value_or(0)));
      const char byte = 1;
      if (::write(ready[1], &byte, 1) != 1) std::_Exit(1);
      ::close(ready[1]);
      return {};
    }
    children.push_back(pid);
  }
  ::close(ready[1]);
  for (int received = 0; received < count;) {
    pollfd descriptor{.fd = ready[0], .events = POLLIN, .revents = 0};
    char byte = 0;
    if (::poll(&descriptor, 1, 10'000) <= 0 || ::read(ready[0], &byte, 1) != 1) {
      throw std::runtime_error("a forked child did not report its slot");
    }
    ++received;
  }
  ::close(ready[0]);
  return children;
}

// Written to a temporary name and renamed, so a reader never sees half the pids.
void write_ready_file(const std::filesystem::path& path, const std::vector<pid_t>& children) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary);
    out << ::getpid() << '\n';
    for (pid_t child : children) out << child << '\n';
  }
  std::filesystem::rename(temporary, path);
}

int wait_for_exit_signal() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, signal);
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    // 1. Options; signals are blocked before any thread starts so that only sigwait sees them.
    const Options options = parse_options(argc, argv);
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, signal);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    const Say say(options.name);

    // 2. Subscribe: hooks, watcher, slot.
    snapbus::Client client({.segment_path = options.segment_path, .name = options.name});
    register_hooks(client, options, say);
    client.start();
    attach_when_the_segment_exists(client, options, say);
    say("subscribed, slot " + std::to_string(client.slot_index().value_or(0)) + ", generation " +
        std::to_string(client.handled_generation()));

    // 3. Children, each with its own slot and watcher; then tell the test we are all ready.
    const std::vector<pid_t> children = fork_children(client, options.fork_children, say);
    const bool is_parent = options.fork_children == 0 || !children.empty();
    if (is_parent && !options.ready_file.empty()) write_ready_file(options.ready_file, children);

    // 4. Run until told to stop (or the restores are done), then stop cleanly.
    const int signal = wait_for_exit_signal();
    // On the way out (SIGTERM above all: Lambda sends it to the runtime before the adapter hears
    // SHUTDOWN), the shutdown hooks run here unless the bus already ran them.
    client.exiting();
    for (pid_t child : children) ::kill(child, SIGTERM);
    for (pid_t child : children) ::waitpid(child, nullptr, 0);
    say(std::string("exiting on ") + (signal == SIGUSR1 ? "restore count" : "signal"));
  } catch (const std::exception& error) {
    // snapbus::Error (no segment, no free slot, ...) and whatever else: one line, not a terminate.
    std::fprintf(stderr, "example_subscriber: %s\n", error.what());
    return 1;
  }
  return 0;
}
