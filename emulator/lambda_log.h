// Lambda-style platform log lines (INIT_START ... REPORT) with measured durations, and the --json report.
//
//   OutputWriter writer(STDOUT_FILENO, STDERR_FILENO);
//   LambdaLog log([&writer](std::string_view bytes) { writer.write(OutputStream::out, bytes); });
//   log.init_start("snapbus-emulator");
//   log.init_report(12.5, PhaseOutcome{});                 // INIT_REPORT Init Duration: 12.50 ms
//   log.init_recorded(12.5);                                // no line: an on-demand Init that succeeded
//   log.start("id", "$LATEST"); log.end("id");
//   log.report({.request_id = "id", .duration_ms = 1.2, .memory_size_mb = 128});
//   log.write_json("report.json", 0);
//
// The function's own output reaches the same stream through relay(), and an invocation's log, from
// START to REPORT, is kept for a caller of `aws lambda invoke --log-type Tail`:
//   log.set_before_line([&output] { output.drain(); });
//   log.relay("hello\n");
//   std::string tail = log.take_tail();                      // after REPORT: its last 4 KB
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "output_writer.h"

namespace snapbus::emulator {

struct PhaseOutcome {
  std::string status = "success";  // success | error | timeout
  std::string error_type;          // e.g. Runtime.ExitError, empty on success
};

struct InvocationReport {
  std::string request_id;
  double duration_ms = 0;
  unsigned memory_size_mb = 128;
  unsigned max_memory_used_mb = 0;
  std::optional<double> init_ms;     // only on the first invocation of an on-demand environment
  std::optional<double> restore_ms;  // only on the first invocation after a restore
  PhaseOutcome outcome;
  // The function's own error (invocation/error, an error trailer): the JSON report gives its status
  // and type; Lambda's REPORT line shows neither, only platform failures (crash, timeout).
  bool function_error = false;
};

// One line of the emulator's own diagnostics ("snapbus emulate: <text>") on stderr: what the
// emulator itself did, kept apart from the Lambda log on stdout (the platform lines and everything
// the function writes). It goes through the writer route_diagnostics() names, never blocking the
// event loop; until then (a listen that failed at the start), straight to stderr.
void diagnostic(const std::string& text);
// `writer` carries diagnostic() from now on; nullptr, straight to stderr again, where a line waits
// at most a second for a reader that has stopped. The caller keeps `writer` alive until it routes
// them elsewhere: DiagnosticsRoute does that.
void route_diagnostics(OutputWriter* writer);

class DiagnosticsRoute {
 public:
  explicit DiagnosticsRoute(OutputWriter& writer) { route_diagnostics(&writer); }
  ~DiagnosticsRoute() { route_diagnostics(nullptr); }
  DiagnosticsRoute(const DiagnosticsRoute&) = delete;
  DiagnosticsRoute& operator=(const DiagnosticsRoute&) = delete;
};

// How much of an invocation's log the Invoke API's X-Amz-Log-Result carries: its last 4 KB, as Lambda's.
inline constexpr std::size_t kLogTailLimit = 4096;

class LambdaLog {
 public:
  // Where the log's bytes go, in order: the platform lines and everything the function writes, as
  // one stream (the emulator's stdout). It must not block: the event loop calls it.
  using Writer = std::function<void(std::string_view bytes)>;

  explicit LambdaLog(Writer write) : write_(std::move(write)) {}

  // Called before each platform line, so that what the function wrote before it comes first.
  void set_before_line(std::function<void()> hook) { before_line_ = std::move(hook); }
  // The function's own bytes, passed on as they are; part of the log tail during an invocation.
  void relay(std::string_view bytes);
  // The log of the invocation since its START line, REPORT included when written: its last
  // kLogTailLimit bytes. Nothing more is kept until the next START.
  std::string take_tail();

  // INIT_START, and a new entry of the JSON report's "environments": each Init (a fresh environment,
  // or an Init run again for an invocation) with its restore, and the invocations it ran.
  void init_start(const std::string& runtime_version);
  // INIT_REPORT, and the JSON report's "init". `phase`, shown on a failure, is where Init ran:
  // "init", or "invoke" for an Init run again for the invocation that waits for it.
  void init_report(double ms, const PhaseOutcome& outcome, std::string_view phase = "init");
  // The JSON report's "init" alone. Lambda writes no INIT_REPORT for an on-demand Init that
  // succeeded (only SnapStart's and provisioned concurrency's, and failures): its duration is in
  // the first REPORT.
  void init_recorded(double ms);
  void restore_start(const std::string& runtime_version);
  void restore_report(double ms, const PhaseOutcome& outcome);
  void start(const std::string& request_id, const std::string& version);
  void end(const std::string& request_id);
  void report(const InvocationReport& report);
  // The JSON report's entry for an invocation that ended with no REPORT line: one that failed before
  // it started (the one a failed Init or restore was for, one queued when the emulator stopped or
  // whose caller left), or one in progress when the emulator stopped, `ran_ms` after its START.
  // The outcome's error type is what its caller got.
  void unreported(const std::string& request_id, const PhaseOutcome& outcome, std::optional<double> ran_ms);
  void error(const std::string& request_id, const std::string& message, const std::string& error_type);
  // A platform error as Lambda prints it, e.g. "RequestId: x Error: Runtime exited ... Runtime.ExitError".

  void note(const std::string& key, boost::json::value value) { extra_[key] = std::move(value); }
  // Adds a top-level field to the JSON report (freezer backend, frozen time, ...).

  [[nodiscard]] boost::json::object json(int exit_code) const;
  void write_json(const std::string& path, int exit_code) const;
  // Atomic (temp file + rename), so a reader never sees half a report.

  static std::string format_ms(double ms);

 private:
  void line(const std::string& text);
  void write_line(const std::string& text);  // line() without draining the function's output first
  static boost::json::object outcome_json(double ms, const PhaseOutcome& outcome);

  void record(std::string_view bytes);

  Writer write_;
  std::function<void()> before_line_;
  // From START until take_tail(): the latest bytes of the invocation's log, at most twice the limit
  // (trimmed in halves, so that a chatty function costs no copy per write).
  std::optional<std::string> tail_;
  // A new entry of environments_, as yet with no init or restore.
  void begin_environment();
  // The current environment's entry of environments_ (begun when none is), and its index.
  std::size_t environment_index();
  boost::json::object& environment() { return environments_.at(environment_index()).as_object(); }

  boost::json::array environments_;
  boost::json::array invocations_;
  boost::json::object extra_;
};

}  // namespace snapbus::emulator
