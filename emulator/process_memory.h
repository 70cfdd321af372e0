// The memory of the function's processes, read from /proc for REPORT's Max Memory Used.
//
//   ProcessMemory memory;
//   unsigned now = memory.current_mb(pids);   // when an event goes out: what is resident now
//   unsigned peak = memory.peak_mb(pids);     // at REPORT: the peak of each process, summed
//
// Both are read at every invocation, for every process of the function. Opened by path, read and
// closed, /proc/PID/status cost 10.2 us and /proc/PID/statm 7.9 us on a 2-vCPU VM (five system
// calls, and the path's lookup); read again from the start of a file kept open, 3.5 and 1.6 us. So
// each process's two files stay open here, and each read is one pread. An open /proc file also
// stays with the process it was opened for: once that process is gone it reads nothing (ESRCH), even
// if its pid has been given to another process meanwhile, where a path would reach the newcomer.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <string_view>
#include <vector>

#include "snapbus/unique_fd.h"

namespace snapbus::emulator {

class ProcessMemory {
 public:
  // Sum of the peak resident set (VmHWM, /proc/PID/status) of the processes, in MiB: Lambda's
  // "Max Memory Used". The kernel formats the whole file: about 3.5 us per process.
  unsigned peak_mb(const std::vector<pid_t>& pids);
  // Sum of the resident set now (/proc/PID/statm), in MiB: a lower bound of peak_mb() for a process
  // that may not live to be asked again, at about half its cost.
  unsigned current_mb(const std::vector<pid_t>& pids);

  // How many processes have their files open here: those of the last list asked about that are alive.
  [[nodiscard]] std::size_t open_processes() const { return files_.size(); }

 private:
  struct Files {
    UniqueFd status;
    UniqueFd statm;
  };
  enum class Kind { status, statm };

  // The text of `kind` for `pid`, read from the start of its open file (opened on first use); empty
  // when the process is gone (its files are then closed).
  std::string_view read(pid_t pid, Kind kind);
  // Closes the files of the processes not in `pids`: they have ended, or are no longer the function's.
  void keep_only(const std::vector<pid_t>& pids);

  std::map<pid_t, Files> files_;
  std::vector<char> buffer_;
};

}  // namespace snapbus::emulator
