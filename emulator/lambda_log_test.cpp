#include "lambda_log.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

std::string capture(const std::function<void(LambdaLog&)>& body) {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* out = ::open_memstream(&buffer, &size);
  {
    LambdaLog log(out);
    body(log);
  }
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST(LambdaLog, LinesLookLikeLambdas) {
  const std::string text = capture([](LambdaLog& log) {
    log.init_start("v1");
    log.init_report(12.345, {});
    log.restore_start("v1");
    log.restore_report(3.2, {"timeout", "SnapStartTimeoutException"});
    log.start("id-1", "$LATEST");
    log.end("id-1");
    InvocationReport report;
    report.request_id = "id-1";
    report.duration_ms = 1.2;
    report.max_memory_used_mb = 20;
    report.restore_ms = 3.2;
    log.report(report);
  });
  EXPECT_NE(text.find("INIT_START Runtime Version: v1\t"), std::string::npos);
  EXPECT_NE(text.find("INIT_REPORT Init Duration: 12.35 ms\n"), std::string::npos);
  EXPECT_NE(text.find("RESTORE_REPORT Restore Duration: 3.20 ms\tStatus: timeout\tError Type: "
                      "SnapStartTimeoutException\n"),
            std::string::npos);
  EXPECT_NE(text.find("START RequestId: id-1 Version: $LATEST\n"), std::string::npos);
  EXPECT_NE(text.find("END RequestId: id-1\n"), std::string::npos);
  EXPECT_NE(text.find("REPORT RequestId: id-1\tDuration: 1.20 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
                      "Max Memory Used: 20 MB\tRestore Duration: 3.20 ms\tBilled Restore Duration: 4 ms\n"),
            std::string::npos)
      << text;
}

TEST(LambdaLog, TheFunctionsOutputGoesToItsStreamInOrderWithThePlatformLines) {
  char* out_buffer = nullptr;
  std::size_t out_size = 0;
  char* err_buffer = nullptr;
  std::size_t err_size = 0;
  std::FILE* out = ::open_memstream(&out_buffer, &out_size);
  std::FILE* err = ::open_memstream(&err_buffer, &err_size);
  {
    LambdaLog log(out, err);
    // What the function wrote before a platform line was written comes first.
    std::string pending = "before START\n";
    log.set_before_line([&] {
      if (!pending.empty()) log.relay(std::exchange(pending, {}), OutputStream::out);
    });
    log.start("id-1", "$LATEST");
    log.relay("to stderr\n", OutputStream::err);
    pending = "before END\n";
    log.end("id-1");
  }
  std::fclose(out);
  std::fclose(err);
  EXPECT_EQ(std::string(out_buffer, out_size),
            "before START\nSTART RequestId: id-1 Version: $LATEST\nbefore END\nEND RequestId: id-1\n");
  EXPECT_EQ(std::string(err_buffer, err_size), "to stderr\n");
  std::free(out_buffer);
  std::free(err_buffer);
}

TEST(LambdaLog, TheTailIsTheInvocationsLogFromStartToReport) {
  std::FILE* sink = std::fopen("/dev/null", "w");
  ASSERT_NE(sink, nullptr);
  LambdaLog log(sink, sink);
  log.relay("between invocations\n", OutputStream::out);
  EXPECT_EQ(log.take_tail(), "");  // no invocation: nothing kept
  log.start("id-1", "$LATEST");
  log.relay("hello\n", OutputStream::out);
  log.relay("oops\n", OutputStream::err);
  log.end("id-1");
  log.report({.request_id = "id-1", .duration_ms = 1.5, .max_memory_used_mb = 20});
  const std::string tail = log.take_tail();
  EXPECT_EQ(tail.substr(0, tail.find("REPORT")),
            "START RequestId: id-1 Version: $LATEST\nhello\noops\nEND RequestId: id-1\n");
  const std::string report = tail.substr(tail.find("REPORT"));
  EXPECT_TRUE(report.starts_with("REPORT RequestId: id-1\tDuration: 1.50 ms\t")) << tail;
  EXPECT_EQ(report.find('\n'), report.size() - 1) << tail;  // the last line
  EXPECT_EQ(log.take_tail(), "");                           // taken
  log.relay("after the invocation\n", OutputStream::out);
  EXPECT_EQ(log.take_tail(), "");

  // A chatty invocation: the last 4 KB, in whatever pieces the output came.
  log.start("id-2", "$LATEST");
  std::string written = "START RequestId: id-2 Version: $LATEST\n";
  for (int i = 0; i < 3000; ++i) {
    const std::string piece = std::to_string(i) + (i % 7 == 0 ? "\n" : " ");
    log.relay(piece, OutputStream::out);
    written += piece;
  }
  log.end("id-2");
  written += "END RequestId: id-2\n";
  EXPECT_EQ(log.take_tail(), written.substr(written.size() - kLogTailLimit));
  std::fclose(sink);
}

TEST(LambdaLog, FunctionErrorIsAnErrorInTheJsonReportOnly) {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* out = ::open_memstream(&buffer, &size);
  LambdaLog log(out);
  log.report({.request_id = "id-2", .outcome = {"error", "KeyError"}, .function_error = true});
  auto json = log.json(0);
  std::fclose(out);
  const std::string text(buffer, size);
  std::free(buffer);
  EXPECT_EQ(text.find("Status"), std::string::npos) << text;
  const auto& invocation = json.at("invocations").as_array().at(0);
  EXPECT_EQ(invocation.at("status"), "error");
  EXPECT_EQ(invocation.at("errorType"), "KeyError");
}

TEST(LambdaLog, JsonReport) {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* out = ::open_memstream(&buffer, &size);
  LambdaLog log(out);
  log.init_report(5, {"error", "Runtime.ExitError"});
  log.note("freezer", "signal");
  auto json = log.json(3);
  std::fclose(out);
  std::free(buffer);
  EXPECT_EQ(json.at("exitCode"), 3);
  EXPECT_EQ(json.at("init").at("errorType"), "Runtime.ExitError");
  EXPECT_TRUE(json.at("restore").is_null());
  EXPECT_EQ(json.at("freezer"), "signal");
}

// Counts SIGPIPEs while it lives; the disposition before it is put back after.
class SigpipeCounter {
 public:
  SigpipeCounter() {
    count = 0;
    struct sigaction counting {};
    counting.sa_handler = [](int) { count = count + 1; };
    ::sigemptyset(&counting.sa_mask);
    ::sigaction(SIGPIPE, &counting, &before_);
  }
  ~SigpipeCounter() { ::sigaction(SIGPIPE, &before_, nullptr); }
  SigpipeCounter(const SigpipeCounter&) = delete;
  SigpipeCounter& operator=(const SigpipeCounter&) = delete;

  static inline volatile std::sig_atomic_t count = 0;

 private:
  struct sigaction before_ {};
};

// `snapbus emulate | head`: once the reader has gone, the log stops writing to that stream, so the
// emulator hears one SIGPIPE (which stops it gracefully), not one per line; the other stream goes on.
TEST(LambdaLog, AStreamWhoseReaderWentAwayIsWrittenNoMore) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  std::FILE* closed = ::fdopen(fds[1], "w");
  ASSERT_NE(closed, nullptr);
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* err = ::open_memstream(&buffer, &size);
  {
    const SigpipeCounter sigpipes;
    LambdaLog log(closed, err);
    log.init_start("v1");
    log.start("id-1", "$LATEST");
    log.relay("the function's stdout\n", OutputStream::out);
    log.relay("the function's stderr\n", OutputStream::err);
    log.end("id-1");
    EXPECT_EQ(SigpipeCounter::count, 1);
  }
  std::fclose(closed);
  std::fclose(err);
  EXPECT_EQ(std::string(buffer, size), "the function's stderr\n");
  std::free(buffer);
}

}  // namespace
}  // namespace snapbus::emulator
