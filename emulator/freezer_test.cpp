#include "freezer.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "process_tree.h"

namespace snapbus::emulator {
namespace {

pid_t spawn_spinner(const Freezer& freezer) {
  // Returns once the child has joined the freezer, as spawn_process does (it waits for exec).
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    freezer.join_from_child();
    ::close(ready[1]);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  (void)!::read(ready[0], &byte, 1);
  ::close(ready[0]);
  return pid;
}

void end(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST(Freezer, SignalBackendStopsAndResumesTheTree) {
  std::string note;
  auto freezer = Freezer::create(FreezerMode::signal, "unused", note);
  EXPECT_EQ(freezer->backend(), "signal");
  const pid_t pid = spawn_spinner(*freezer);
  freezer->freeze();
  EXPECT_EQ(process_state(pid), 'T');
  freezer->thaw();
  for (int i = 0; i < 1000 && process_state(pid) == 'T'; ++i) ::usleep(1000);
  EXPECT_NE(process_state(pid), 'T');
  end(pid);
}

TEST(Freezer, CgroupBackendWhenAvailable) {
  std::string note;
  std::unique_ptr<Freezer> freezer;
  try {
    freezer = Freezer::create(FreezerMode::cgroup, "snapbus-freezer-test-" + std::to_string(::getpid()), note);
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  EXPECT_EQ(freezer->backend(), "cgroup");
  const pid_t pid = spawn_spinner(*freezer);
  freezer->freeze();  // returns once cgroup.events says frozen
  freezer->thaw();
  freezer->kill_all();
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
}

TEST(Freezer, AutoExplainsItsChoice) {
  std::string note;
  auto freezer = Freezer::create(FreezerMode::automatic, "snapbus-freezer-auto-" + std::to_string(::getpid()), note);
  EXPECT_FALSE(note.empty());
}

}  // namespace
}  // namespace snapbus::emulator
