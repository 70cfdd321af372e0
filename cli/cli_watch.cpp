#include "cli_watch.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <ostream>

#include <boost/json.hpp>

#include "output_reader.h"
#include "snapbus/error.h"
#include "snapbus/futex.h"
#include "snapbus/segment.h"
#include "snapbus/seqlock.h"
#include "state_json.h"
#include "state_text.h"

namespace snapbus::cli {

WatchRequest parse_watch_command(std::span<const std::string> words, const Config& config) {
  const auto app =
      command_app("snapbus watch",
                  "Prints the current lifecycle state, then one line per change as it happens (futex wait on a\n"
                  "read-only mapping; no slot is claimed, so nobody waits for a watcher). If there is no\n"
                  "segment yet, waits for a publisher to create it.",
                  "exit codes: 0 ok, 2 bad usage, 3 no segment appeared before --timeout-ms, 5 other error", 20);
  WatchRequest request;
  std::optional<std::filesystem::path> segment;
  std::optional<std::int64_t> timeout_ms;
  add_json_flag(*app, request.format,
                "one JSON object per line (the \"state\" object of status --json, plus\n"
                "\"skipped_changes\" when changes came faster than the watch woke)");
  add_segment_option(*app, segment);
  add_number_option(*app, "--count", request.count, "exit 0 after N lines (the first line counts)", 1);
  add_number_option(*app, "--timeout-ms", timeout_ms,
                    "exit 0 after N milliseconds; exit 3 if no segment appeared by then");
  parse_command_line(*app, words);
  request.segment_path = segment.value_or(config.segment_path);
  if (timeout_ms) request.timeout = std::chrono::milliseconds(*timeout_ms);
  return request;
}

namespace {

using namespace std::chrono_literals;

// How often the watch checks whether a new publisher replaced the segment file.
constexpr auto kReplacementCheckInterval = 1s;

enum class SegmentFile { same, replaced, deleted };

// What the path names now, against the file mapped: a publisher may have created a fresh segment,
// or someone deleted this one.
SegmentFile segment_file(const Segment& segment) {
  struct stat now {};
  if (::stat(segment.path().c_str(), &now) != 0) return SegmentFile::deleted;
  return now.st_dev != segment.device() || now.st_ino != segment.inode() ? SegmentFile::replaced : SegmentFile::same;
}

// Whether a file exists at path, a symbolic link included (one that dangles too: the open then
// says snapbus refuses links, where waiting would wait for ever); a path that cannot even be
// looked at (a directory we may not search) is an error that names it.
bool segment_exists(const std::filesystem::path& path) {
  std::error_code error;
  const bool exists = std::filesystem::exists(std::filesystem::symlink_status(path, error));
  // No such file, or a file where a directory on the way should be: check_segment_directory says which.
  if (error && error != std::errc::no_such_file_or_directory && error != std::errc::not_a_directory) {
    throw Error(Errc::system, "cannot look at " + path.string() + ": " + error.message(), error.value());
  }
  return exists;
}

// A watch whose reader has gone (`snapbus watch | head -1`) ends: an error, as its next line would be.
void end_if_reader_gone(int out_fd) {
  if (out_fd >= 0 && output_reader_gone(out_fd)) {
    throw Error(Errc::system, "cannot write to stdout: " + std::string(std::strerror(EPIPE)) + " (its reader has gone)",
                EPIPE);
  }
}

// wait_until_segment_exists() a slice at a time, looking for a reader that has gone between them.
bool wait_for_segment(const std::filesystem::path& path, FutexDeadline deadline, int out_fd) {
  for (;;) {
    const WaitSlice slice = next_wait_slice(deadline, kReplacementCheckInterval);
    if (wait_until_segment_exists(path, slice.until)) return true;
    if (slice.last) return false;
    end_if_reader_gone(out_fd);
  }
}

class ChangePrinter {
 public:
  ChangePrinter(std::ostream& out, OutputFormat format) : out_(out), format_(format) {}

  void print(const StateSnapshot& state, std::uint32_t skipped_changes) {
    if (format_ == OutputFormat::json) {
      boost::json::object line = state_to_json(state);
      if (skipped_changes != 0) line["skipped_changes"] = skipped_changes;
      out_ << boost::json::serialize(line) << std::endl;
    } else {
      out_ << wall_time_text(state.changed_wall_ns) << "  " << state_line(state);
      if (skipped_changes != 0) out_ << "  (skipped " << skipped_changes << " changes)";
      out_ << std::endl;
    }
    // A watch that runs for hours must not go on printing into a full disk or a closed pipe.
    if (!out_) {
      const int error = errno;
      throw Error(Errc::system, std::string("cannot write to stdout: ") + std::strerror(error), error);
    }
    ++printed_;
  }
  std::int64_t printed() const noexcept { return printed_; }

 private:
  std::ostream& out_;
  OutputFormat format_;
  std::int64_t printed_ = 0;
};

}  // namespace

ExitCode run_watch(const WatchRequest& request, const Config& config, std::ostream& out, std::ostream& err,
                   int out_fd) {
  const std::filesystem::path& path = request.segment_path;
  FutexDeadline deadline;
  if (request.timeout) deadline = deadline_after(*request.timeout);
  auto finished = [&](const ChangePrinter& printer) {
    return (request.count && printer.printed() >= *request.count) || (deadline && FutexClock::now() >= *deadline);
  };

  if (!segment_exists(path)) {
    if (auto missing = check_segment_directory(path)) throw *missing;
    err << "snapbus watch: waiting for a segment at " << path.string() << std::endl;
    if (!wait_for_segment(path, deadline, out_fd)) {
      throw Error(Errc::not_found, "no segment appeared at " + path.string() + " before the timeout");
    }
  }
  Segment segment = Segment::open(path, SegmentAccess::observe, config.segment_group);
  ChangePrinter printer(out, request.format);
  StateSnapshot seen = read_state(segment.state());
  printer.print(seen, 0);
  while (!finished(printer)) {
    FutexResult result = FutexResult::woken;
    try {
      result = futex_wait(&segment.state().seq, seen.seq, next_wait_slice(deadline, kReplacementCheckInterval).until);
    } catch (const Error&) {
      // The kernel cannot wait on a page past the end of a truncated file (EFAULT): say that.
      if (auto damage = segment.damage()) throw *damage;
      throw;
    }
    if (result == FutexResult::timed_out) {
      end_if_reader_gone(out_fd);
      const SegmentFile file = segment_file(segment);
      if (file == SegmentFile::deleted) {
        err << "snapbus watch: " << path.string() << " was deleted; waiting for a publisher to create it again"
            << std::endl;
        if (!wait_for_segment(path, deadline, out_fd)) return ExitCode::ok;  // the watch's time is up
      }
      if (file != SegmentFile::same) {
        segment = Segment::open(path, SegmentAccess::observe, config.segment_group);
        seen = read_state(segment.state());
        printer.print(seen, 0);
        continue;
      }
    }
    const StateSnapshot now = read_state(segment.state());
    // Checked after the read: a file truncated under the mapping reads as zeros, which is an
    // error, never a state to print.
    if (auto damage = segment.damage()) throw *damage;
    if (now.seq == seen.seq) continue;
    // Each change moves seq by two; a bigger step means changes this watch slept through (none
    // counted for a step back, which only a segment made afresh in place could show).
    const auto step = static_cast<std::int32_t>(now.seq - seen.seq);
    const std::uint32_t skipped = step > 2 ? static_cast<std::uint32_t>(step) / 2 - 1 : 0;
    seen = now;
    printer.print(seen, skipped);
  }
  return ExitCode::ok;
}

}  // namespace snapbus::cli
