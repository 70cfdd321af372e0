// SIGINT and SIGTERM, while a StopSignals lives, set a flag instead of ending the process: a long
// wait (`snapbus publish`'s for acknowledgements) then ends early and still reports what it saw.
//
//   snapbus::cli::StopSignals signals;
//   options.stop = signals.flag();
//   const auto result = snapbus::lifecycle::run_step(publisher, step, options);
//   if (result.stopped_after) std::cerr << "interrupted by " << signals.caught_name() << '\n';
#pragma once

#include <atomic>
#include <string_view>

#include <signal.h>

namespace snapbus::cli {

class StopSignals {
 public:
  // Installs the handlers. One instance at a time: the flag is the process's.
  StopSignals();
  // Puts back the handlers that were there before.
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  const std::atomic<bool>* flag() const noexcept;
  // "SIGINT", "SIGTERM", or "" when none came.
  std::string_view caught_name() const noexcept;

 private:
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
};

}  // namespace snapbus::cli
