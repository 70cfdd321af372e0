#include "lambda_log.h"

#include <cstdio>

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

}  // namespace
}  // namespace snapbus::emulator
