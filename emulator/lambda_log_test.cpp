#include "lambda_log.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

// What a LambdaLog wrote, by stream.
struct Written {
  std::string out;
  LambdaLog::Writer writer() {
    return [this](std::string_view bytes) { out.append(bytes); };
  }
};

std::string capture(const std::function<void(LambdaLog&)>& body) {
  Written written;
  LambdaLog log(written.writer());
  body(log);
  return written.out;
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
                      "Max Memory Used: 20 MB\tRestore Duration: 3.20 ms\tBilled Restore Duration: 4 ms\t\n"),
            std::string::npos)
      << text;
}

TEST(LambdaLog, AnOnDemandColdStartBillsItsInitWithTheInvocation) {
  const std::string text = capture([](LambdaLog& log) {
    log.report({.request_id = "id-1", .duration_ms = 1.43, .max_memory_used_mb = 20, .init_ms = 89.37});
    log.report({.request_id = "id-2",
                .duration_ms = 3000.0,
                .max_memory_used_mb = 20,
                .outcome = {"timeout", "Sandbox.Timedout"}});
  });
  EXPECT_NE(text.find("REPORT RequestId: id-1\tDuration: 1.43 ms\tBilled Duration: 91 ms\tMemory Size: 128 MB\t"
                      "Max Memory Used: 20 MB\tInit Duration: 89.37 ms\t\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("REPORT RequestId: id-2\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
                      "Max Memory Used: 20 MB\tStatus: timeout\tError Type: Sandbox.Timedout\t\n"),
            std::string::npos)
      << text;
}

TEST(LambdaLog, TheFunctionsOutputGoesInOrderWithThePlatformLines) {
  Written written;
  LambdaLog log(written.writer());
  // What the function wrote before a platform line was written comes first.
  std::string pending = "before START\n";
  log.set_before_line([&] {
    if (!pending.empty()) log.relay(std::exchange(pending, {}));
  });
  log.start("id-1", "$LATEST");
  log.relay("while running\n");
  pending = "before END\n";
  log.end("id-1");
  EXPECT_EQ(written.out,
            "before START\nSTART RequestId: id-1 Version: $LATEST\nwhile running\nbefore END\nEND RequestId: id-1\n");
}

TEST(LambdaLog, TheTailIsTheInvocationsLogFromStartToReport) {
  Written streams;
  LambdaLog log(streams.writer());
  log.relay("between invocations\n");
  EXPECT_EQ(log.take_tail(), "");  // no invocation: nothing kept
  log.start("id-1", "$LATEST");
  log.relay("hello\n");
  log.relay("oops\n");
  log.end("id-1");
  log.report({.request_id = "id-1", .duration_ms = 1.5, .max_memory_used_mb = 20});
  const std::string tail = log.take_tail();
  EXPECT_EQ(tail.substr(0, tail.find("REPORT")),
            "START RequestId: id-1 Version: $LATEST\nhello\noops\nEND RequestId: id-1\n");
  const std::string report = tail.substr(tail.find("REPORT"));
  EXPECT_TRUE(report.starts_with("REPORT RequestId: id-1\tDuration: 1.50 ms\t")) << tail;
  EXPECT_EQ(report.find('\n'), report.size() - 1) << tail;  // the last line
  EXPECT_EQ(log.take_tail(), "");                           // taken
  log.relay("after the invocation\n");
  EXPECT_EQ(log.take_tail(), "");

  // A chatty invocation: the last 4 KB, in whatever pieces the output came.
  log.start("id-2", "$LATEST");
  std::string written = "START RequestId: id-2 Version: $LATEST\n";
  for (int i = 0; i < 3000; ++i) {
    const std::string piece = std::to_string(i) + (i % 7 == 0 ? "\n" : " ");
    log.relay(piece);
    written += piece;
  }
  log.end("id-2");
  written += "END RequestId: id-2\n";
  EXPECT_EQ(log.take_tail(), written.substr(written.size() - kLogTailLimit));
}

TEST(LambdaLog, FunctionErrorIsAnErrorInTheJsonReportOnly) {
  Written written;
  LambdaLog log(written.writer());
  log.report({.request_id = "id-2", .outcome = {"error", "KeyError"}, .function_error = true});
  auto json = log.json(0);
  EXPECT_EQ(written.out.find("Status"), std::string::npos) << written.out;
  const auto& invocation = json.at("invocations").as_array().at(0);
  EXPECT_EQ(invocation.at("status"), "error");
  EXPECT_EQ(invocation.at("errorType"), "KeyError");
}

TEST(LambdaLog, JsonReportKeepsEveryInitAndTheInvocationsThatNeverStarted) {
  Written written;
  LambdaLog log(written.writer());
  log.init_start("v1");
  log.init_report(5, {});
  log.restore_start("v1");
  log.restore_report(2, {"error", "Runtime.AfterRestoreError"});
  log.unreported("id-1", {"error", "SnapStartException"}, std::nullopt);
  log.init_start("v1");
  log.init_report(6, {});
  log.restore_start("v1");
  log.restore_report(3, {});
  log.report({.request_id = "id-2", .duration_ms = 1.5});
  const std::string text = written.out;
  EXPECT_EQ(text.find("id-1"), std::string::npos) << "no log line for an invocation that never started: " << text;

  auto json = log.json(0);
  const auto& environments = json.at("environments").as_array();
  ASSERT_EQ(environments.size(), 2U);
  EXPECT_EQ(environments.at(0).at("restore").at("errorType"), "Runtime.AfterRestoreError");
  EXPECT_EQ(environments.at(1).at("init").at("durationMs"), 6.0);
  EXPECT_EQ(environments.at(1).at("restore").at("status"), "success");
  // The top-level init and restore are the last environment's.
  EXPECT_EQ(json.at("restore"), environments.at(1).at("restore"));
  const auto& invocations = json.at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 2U);
  EXPECT_EQ(invocations.at(0).at("requestId"), "id-1");
  EXPECT_EQ(invocations.at(0).at("started"), false);
  EXPECT_EQ(invocations.at(0).at("status"), "error");
  EXPECT_EQ(invocations.at(0).at("errorType"), "SnapStartException");
  EXPECT_EQ(invocations.at(0).at("environment"), 0);
  EXPECT_EQ(invocations.at(1).at("started"), true);
  EXPECT_EQ(invocations.at(1).at("environment"), 1);

  // Cut off by a stop after it started: no REPORT line, and in the report how long it had run.
  log.unreported("id-3", {"error", "Emulator.ShuttingDown"}, 7.5);
  EXPECT_EQ(written.out.find("id-3"), std::string::npos) << written.out;
  const auto cut_off = log.json(0).at("invocations").as_array().at(2);
  EXPECT_EQ(cut_off.at("started"), true);
  EXPECT_EQ(cut_off.at("durationMs"), 7.5);
}

TEST(LambdaLog, JsonReport) {
  Written written;
  LambdaLog log(written.writer());
  log.init_report(5, {"error", "Runtime.ExitError"});
  log.note("freezer", "signal");
  auto json = log.json(3);
  EXPECT_EQ(json.at("exitCode"), 3);
  EXPECT_EQ(json.at("init").at("errorType"), "Runtime.ExitError");
  EXPECT_TRUE(json.at("restore").is_null());
  EXPECT_EQ(json.at("freezer"), "signal");
}

}  // namespace
}  // namespace snapbus::emulator
