// Descriptors 0, 1 and 2 held open for the whole run. Started with one of them closed (`snapbus
// publish >&-`), a process's next open() takes its number: the segment's lock file would become
// stdout, and what publish prints would land in it. A closed one is pointed at /dev/null instead,
// and the caller is told which were closed, so that output meant for a closed stdout is still an error.
//
//   const snapbus::cli::ClosedStandardStreams closed = snapbus::cli::hold_standard_streams_open();
//   if (closed.stdout_closed) ...  // what is printed goes nowhere: report EBADF
#pragma once

namespace snapbus::cli {

struct ClosedStandardStreams {
  bool stdin_closed = false;
  bool stdout_closed = false;
  bool stderr_closed = false;
};

// Opens /dev/null on each of descriptors 0-2 that is not open. Call it first thing in main, before
// anything opens a file. Should /dev/null itself not open, that descriptor stays closed.
ClosedStandardStreams hold_standard_streams_open() noexcept;

}  // namespace snapbus::cli
