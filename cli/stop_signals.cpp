#include "stop_signals.h"

#include <cerrno>

#include "snapbus/error.h"

namespace snapbus::cli {
namespace {

// Written by the handler: lock-free atomics are safe to store from one (a plain bool is not).
std::atomic<bool> signalled_stop{false};
std::atomic<int> signalled_number{0};
std::atomic<bool> stop_signals_installed{false};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal_number) {
  signalled_number.store(signal_number);
  signalled_stop.store(true);
}

void install(int signal_number, struct sigaction& previous) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a write to stdout that the signal interrupts goes on rather than failing. The wait
  // for acks is restarted too, and sees the flag at its next liveness check, within 20 ms. Every
  // signal only sets the flag: a wrapper that passes on the Ctrl-C its process group also got
  // (timeout, npm) delivers two at once, and the second must not cost the report.
  action.sa_flags = SA_RESTART;
  if (sigaction(signal_number, &action, &previous) != 0) throw_system_error(errno, "sigaction");
}

}  // namespace

StopSignals::StopSignals() {
  SNAPBUS_REQUIRE(!stop_signals_installed.exchange(true), "one StopSignals at a time");
  signalled_stop.store(false);
  signalled_number.store(0);
  install(SIGINT, previous_int_);
  install(SIGTERM, previous_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
  stop_signals_installed.store(false);
}

const std::atomic<bool>* StopSignals::flag() const noexcept { return &signalled_stop; }

std::string_view StopSignals::caught_name() const noexcept {
  switch (signalled_number.load()) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "";
  }
}

}  // namespace snapbus::cli
