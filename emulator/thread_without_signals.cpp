#include "thread_without_signals.h"

#include <pthread.h>
#include <signal.h>

#include <utility>

namespace snapbus::emulator {
namespace {

sigset_t blocked_signals() {
  sigset_t set;
  ::sigfillset(&set);
  for (const int raised_by_the_thread : {SIGPIPE, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    ::sigdelset(&set, raised_by_the_thread);
  }
  return set;
}

// The calling thread's signal mask, put back when this ends.
class MaskRestorer {
 public:
  explicit MaskRestorer(const sigset_t& mask) { ::pthread_sigmask(SIG_SETMASK, &mask, &before_); }
  ~MaskRestorer() { ::pthread_sigmask(SIG_SETMASK, &before_, nullptr); }
  MaskRestorer(const MaskRestorer&) = delete;
  MaskRestorer& operator=(const MaskRestorer&) = delete;

 private:
  sigset_t before_{};
};

}  // namespace

std::thread thread_without_signals(std::function<void()> body) {
  const MaskRestorer masked(blocked_signals());
  return std::thread(std::move(body));
}

}  // namespace snapbus::emulator
