#include "thread_without_signals.h"

#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

sigset_t mask_of_this_thread() {
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return mask;
}

TEST(ThreadWithoutSignals, BlocksProcessSignalsButNotThoseTheThreadRaises) {
  const sigset_t callers_before = mask_of_this_thread();
  sigset_t in_thread;
  std::thread thread = thread_without_signals([&in_thread] { in_thread = mask_of_this_thread(); });
  thread.join();
  for (const int process_directed : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
    EXPECT_EQ(::sigismember(&in_thread, process_directed), 1) << ::strsignal(process_directed);
  }
  for (const int raised_by_the_thread : {SIGPIPE, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    EXPECT_EQ(::sigismember(&in_thread, raised_by_the_thread), 0) << ::strsignal(raised_by_the_thread);
  }
  // The caller's own mask is as it was.
  const sigset_t callers_after = mask_of_this_thread();
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    EXPECT_EQ(::sigismember(&callers_before, signal_number), ::sigismember(&callers_after, signal_number))
        << signal_number;
  }
}

}  // namespace
}  // namespace snapbus::emulator
