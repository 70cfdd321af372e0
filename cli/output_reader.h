// Whether the reader of a command's output has gone: `snapbus watch | head -1` must end once head
// has, not at the next change, which may never come; and a write that failed before must still
// be named ("Broken pipe") after errno was overwritten.
//
//   ::signal(SIGPIPE, SIG_IGN);                    // a write then fails with EPIPE instead
//   if (snapbus::cli::output_reader_gone(STDOUT_FILENO)) return ExitCode::error;
#pragma once

namespace snapbus::cli {

// True when `fd` is the write end of a pipe or socket whose reader has closed it (poll's POLLERR or
// POLLHUP); false for anything else, files and terminals included, and for a descriptor that
// cannot be polled.
bool output_reader_gone(int fd) noexcept;

}  // namespace snapbus::cli
