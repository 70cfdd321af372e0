#include "process_tree.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;

bool contains(const std::vector<pid_t>& v, pid_t pid) { return std::find(v.begin(), v.end(), pid) != v.end(); }

TEST(ProcessTree, FindsGrandchildrenAndKillsThemAll) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::pause();
      _exit(0);
    }
    (void)!::write(fds[1], &grandchild, sizeof grandchild);
    ::pause();
    _exit(0);
  }
  pid_t grandchild = 0;
  ASSERT_EQ(::read(fds[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  ::close(fds[0]);
  ::close(fds[1]);

  const auto tree = descendants(::getpid());
  EXPECT_TRUE(contains(tree, child));
  EXPECT_TRUE(contains(tree, grandchild));
  EXPECT_EQ(descendants(grandchild), std::vector<pid_t>{});
  EXPECT_NE(process_state(child), '\0');

  EXPECT_TRUE(kill_descendants_and_reap(::getpid(), 5s));
  EXPECT_EQ(process_state(child), '\0');
  EXPECT_EQ(process_state(grandchild), '\0');
  ::prctl(PR_SET_CHILD_SUBREAPER, 0L, 0L, 0L, 0L);
}

TEST(ProcessTree, FindsProcessesByEnvironmentMarker) {
  const std::string marker = "PROCESS_TREE_TEST_MARKER=" + std::to_string(::getpid());
  const pid_t child = ::fork();
  if (child == 0) {
    char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("30"), nullptr};
    char* envp[] = {const_cast<char*>(marker.c_str()), nullptr};
    ::execve(argv[0], argv, envp);
    _exit(127);
  }
  std::vector<pid_t> found;
  for (int i = 0; i < 500 && found.empty(); ++i) {
    found = processes_with_env(marker);
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(found, std::vector<pid_t>{child});
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(processes_with_env(marker).empty());
}

}  // namespace
}  // namespace snapbus::emulator
