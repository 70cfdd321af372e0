// Descriptors 0, 1 and 2 held open for the whole run. Started with one of them closed (`snapbus
// publish >&-`), a process's next open() takes its number: the segment's lock file would become
// stdout, and what publish prints would land in it. A closed one is pointed at /dev/null instead;
// the caller learns whether stdout was, so that output meant for a closed stdout is still an error.
//
//   const bool stdout_was_closed = snapbus::cli::hold_standard_streams_open();
//   if (stdout_was_closed) ...  // what is printed goes nowhere: report EBADF
#pragma once

namespace snapbus::cli {

// Opens /dev/null on each of descriptors 0-2 that is not open, and says whether 1 (stdout) was one
// of them. Call it first thing in main, before anything opens a file. Should /dev/null itself not
// open, that descriptor stays closed.
[[nodiscard]] bool hold_standard_streams_open() noexcept;

}  // namespace snapbus::cli
