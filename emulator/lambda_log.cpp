#include "lambda_log.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

namespace snapbus::emulator {
namespace {

std::atomic<OutputWriter*> diagnostics_writer{nullptr};
constexpr int kDirectDiagnosticPatienceMs = 1000;

}  // namespace

void route_diagnostics(OutputWriter* writer) { diagnostics_writer.store(writer); }

void diagnostic(const std::string& text) {
  const std::string line = fmt::format("snapbus emulate: {}\n", text);
  if (OutputWriter* writer = diagnostics_writer.load()) {
    writer->write(OutputStream::err, line);
    return;
  }
  // Best effort: a diagnostic that cannot be written has nobody to tell, and a reader that has
  // stopped must not keep the emulator from ending.
  for (std::string_view rest = line; !rest.empty();) {
    pollfd writable{.fd = STDERR_FILENO, .events = POLLOUT, .revents = 0};
    if (::poll(&writable, 1, kDirectDiagnosticPatienceMs) <= 0 || (writable.revents & POLLOUT) == 0) break;
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string LambdaLog::format_ms(double ms) { return fmt::format("{:.2f} ms", ms); }

void LambdaLog::line(const std::string& text) {
  if (before_line_) before_line_();
  write_line(text);
}

void LambdaLog::write_line(const std::string& text) {
  // The function's output goes to the same stream, through the same writer: in the order things happened.
  write_(text + "\n");
  record(text);
  record("\n");
}

void LambdaLog::relay(std::string_view bytes) {
  write_(bytes);
  record(bytes);
}

void LambdaLog::record(std::string_view bytes) {
  if (!tail_) return;
  tail_->append(bytes);
  if (tail_->size() > 2 * kLogTailLimit) tail_->erase(0, tail_->size() - kLogTailLimit);
}

std::string LambdaLog::take_tail() {
  std::string tail = std::move(tail_).value_or(std::string());
  tail_.reset();
  if (tail.size() > kLogTailLimit) tail.erase(0, tail.size() - kLogTailLimit);
  return tail;
}

boost::json::object LambdaLog::outcome_json(double ms, const PhaseOutcome& outcome) {
  boost::json::object o;
  o["durationMs"] = ms;
  o["status"] = outcome.status;
  if (outcome.error_type.empty()) {
    o["errorType"] = nullptr;
  } else {
    o["errorType"] = outcome.error_type;
  }
  return o;
}

namespace {
std::string status_suffix(const PhaseOutcome& outcome) {
  if (outcome.status == "success") return {};
  std::string s = fmt::format("\tStatus: {}", outcome.status);
  if (!outcome.error_type.empty()) s += fmt::format("\tError Type: {}", outcome.error_type);
  return s;
}
}  // namespace

void LambdaLog::begin_environment() {
  environments_.push_back(boost::json::object{{"init", nullptr}, {"restore", nullptr}});
}

std::size_t LambdaLog::environment_index() {
  if (environments_.empty()) begin_environment();
  return environments_.size() - 1;
}

void LambdaLog::init_start(const std::string& runtime_version) {
  begin_environment();
  line(fmt::format("INIT_START Runtime Version: {}\tRuntime Version ARN: none", runtime_version));
}

void LambdaLog::init_report(double ms, const PhaseOutcome& outcome, std::string_view phase) {
  const std::string shown_phase = outcome.status == "success" ? std::string() : fmt::format("\tPhase: {}", phase);
  line(fmt::format("INIT_REPORT Init Duration: {}{}{}", format_ms(ms), shown_phase, status_suffix(outcome)));
  environment()["init"] = outcome_json(ms, outcome);
}

void LambdaLog::init_recorded(double ms) { environment()["init"] = outcome_json(ms, PhaseOutcome{}); }

void LambdaLog::restore_start(const std::string& runtime_version) {
  line(fmt::format("RESTORE_START Runtime Version: {}\tRuntime Version ARN: none", runtime_version));
}

void LambdaLog::restore_report(double ms, const PhaseOutcome& outcome) {
  line(fmt::format("RESTORE_REPORT Restore Duration: {}{}", format_ms(ms), status_suffix(outcome)));
  environment()["restore"] = outcome_json(ms, outcome);
}

void LambdaLog::start(const std::string& request_id, const std::string& version) {
  if (before_line_) before_line_();  // what came before START is not this invocation's
  tail_.emplace();
  write_line(fmt::format("START RequestId: {} Version: {}", request_id, version));
}

void LambdaLog::end(const std::string& request_id) { line(fmt::format("END RequestId: {}", request_id)); }

void LambdaLog::report(const InvocationReport& r) {
  // Every field ends with a tab, the last one too, as in Lambda's and the RIE's REPORT lines. An
  // on-demand cold start bills its Init with the invocation (custom runtimes always, every runtime
  // since August 2025); a restore is billed on its own line.
  const double billed_ms = std::ceil(r.duration_ms + r.init_ms.value_or(0.0));
  std::string text = fmt::format(
      "REPORT RequestId: {}\tDuration: {}\tBilled Duration: {:.0f} ms\tMemory Size: {} MB\tMax Memory Used: "
      "{} MB\t",
      r.request_id, format_ms(r.duration_ms), billed_ms, r.memory_size_mb, r.max_memory_used_mb);
  if (r.init_ms) text += fmt::format("Init Duration: {}\t", format_ms(*r.init_ms));
  if (r.restore_ms) {
    text += fmt::format("Restore Duration: {}\tBilled Restore Duration: {:.0f} ms\t", format_ms(*r.restore_ms),
                        std::ceil(*r.restore_ms));
  }
  if (!r.function_error && r.outcome.status != "success") {
    text += fmt::format("Status: {}\t", r.outcome.status);
    if (!r.outcome.error_type.empty()) text += fmt::format("Error Type: {}\t", r.outcome.error_type);
  }
  line(text);
  boost::json::object o = outcome_json(r.duration_ms, r.outcome);
  o["requestId"] = r.request_id;
  o["maxMemoryUsedMb"] = r.max_memory_used_mb;
  o["started"] = true;
  o["environment"] = environment_index();
  invocations_.push_back(std::move(o));
}

void LambdaLog::unreported(const std::string& request_id, const PhaseOutcome& outcome, std::optional<double> ran_ms) {
  boost::json::object o = outcome_json(ran_ms.value_or(0.0), outcome);
  o["requestId"] = request_id;
  o["maxMemoryUsedMb"] = 0;
  o["started"] = ran_ms.has_value();
  o["environment"] = environment_index();
  invocations_.push_back(std::move(o));
}

void LambdaLog::error(const std::string& request_id, const std::string& message, const std::string& error_type) {
  if (request_id.empty()) {
    line(fmt::format("Error: {}\n{}", message, error_type));
  } else {
    line(fmt::format("RequestId: {} Error: {}\n{}", request_id, message, error_type));
  }
}

boost::json::object LambdaLog::json(int exit_code) const {
  boost::json::object o = extra_;
  // The last environment's, which every earlier reader of the report knew as the only one.
  const bool none = environments_.empty();
  o["init"] = none ? boost::json::value(nullptr) : environments_.back().at("init");
  o["restore"] = none ? boost::json::value(nullptr) : environments_.back().at("restore");
  o["environments"] = environments_;
  o["invocations"] = invocations_;
  o["exitCode"] = exit_code;
  return o;
}

void LambdaLog::write_json(const std::string& path, int exit_code) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << boost::json::serialize(json(exit_code)) << '\n';
    out.flush();
    if (!out) {
      diagnostic(fmt::format("cannot write the JSON report to {}: {}", tmp, std::generic_category().message(errno)));
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    diagnostic(fmt::format("cannot write the JSON report to {}: {}", path, ec.message()));
  }
}

}  // namespace snapbus::emulator
