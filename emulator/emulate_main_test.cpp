// End to end: the real `snapbus emulate`, real processes, real HTTP over loopback. Where the test
// needs exact control of the runtime's calls, the test itself is the runtime client (the launched
// "runtime" is then a sleeping placeholder); elsewhere a Python runtime written against the
// documented API runs under the emulator.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <kj/encoding.h>
#include <boost/json.hpp>

#include "emulator_test_harness.h"

namespace snapbus::emulator::testing {
namespace {

const std::string kNext = "/2018-06-01/runtime/invocation/next";
const std::string kRestoreNext = "/2018-06-01/runtime/restore/next";
const std::string kInitError = "/2018-06-01/runtime/init/error";
const std::string kRestoreError = "/2018-06-01/runtime/restore/error";
const std::string kRegister = "/2020-01-01/extension/register";
const std::string kEventNext = "/2020-01-01/extension/event/next";
const std::vector<std::string> kPlaceholderRuntime = {"--", "/bin/sleep", "600"};

std::string response_path(const std::string& id) { return "/2018-06-01/runtime/invocation/" + id + "/response"; }
std::string error_path(const std::string& id) { return "/2018-06-01/runtime/invocation/" + id + "/error"; }

std::vector<std::string> with(std::vector<std::string> flags, const std::vector<std::string>& runtime) {
  flags.insert(flags.end(), runtime.begin(), runtime.end());
  return flags;
}

template <typename T>
bool ready(std::future<T>& f, std::chrono::milliseconds timeout = 20s) {
  return f.wait_for(timeout) == std::future_status::ready;
}

std::string error_type(const HttpResult& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("errorType")) return {};
  return std::string(v.as_object().at("errorType").as_string());
}

// The type of an Invoke API refusal, as AWS SDKs read it: x-amzn-ErrorType, with the message in the
// body's "message" (or "Message"); empty when the answer is not shaped so.
std::string invoke_error_type(const HttpResult& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  // "Message" for the errors whose member Lambda's API model names so (invoke_api.h).
  if (ec || !v.is_object() || !(v.as_object().contains("message") || v.as_object().contains("Message"))) return {};
  return r.header("x-amzn-errortype");
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

long long count_lines(const std::string& path) {
  std::ifstream in(path);
  long long n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

TEST(EmulateMain, HelpAndBadUsage) {
  EmulatorProcess help("help", {"--help"}, false);
  EXPECT_EQ(help.wait_exit(20s), 0);
  EXPECT_NE(help.log().find("--while-frozen"), std::string::npos);
  EmulatorProcess bad("bad", {"--timeout", "soon"}, false);
  EXPECT_EQ(bad.wait_exit(20s), 2);
  EXPECT_NE(bad.diagnostics().find("--timeout expects"), std::string::npos);
}

TEST(EmulateMain, PythonRuntimeServesFunctionUrlAndRiePath) {
  EmulatorProcess emu("echo", with({"--handler", "app.handler", "--function-name", "fn"},
                                   {"--", kPython, testdata("fake_runtime.py"), "echo"}));
  ASSERT_TRUE(emu.started()) << emu.diagnostics();

  auto url = http_call(emu.front_door_port(), "GET", "/hello/world?a=1&a=2&b=x%20y", "", {{"Cookie", "c1=v1; c2=v2"}});
  ASSERT_EQ(url.status, 200) << url.error << emu.diagnostics();
  auto answer = boost::json::parse(url.body).as_object();
  EXPECT_EQ(answer.at("handler"), "app.handler");
  const auto& event = answer.at("echo").as_object();
  EXPECT_EQ(event.at("version"), "2.0");
  EXPECT_EQ(event.at("rawPath"), "/hello/world");
  EXPECT_EQ(event.at("rawQueryString"), "a=1&a=2&b=x%20y");
  EXPECT_EQ(event.at("queryStringParameters").at("a"), "1,2");
  EXPECT_EQ(event.at("queryStringParameters").at("b"), "x y");
  EXPECT_EQ(event.at("cookies").as_array().size(), 2U);
  EXPECT_EQ(event.at("requestContext").at("http").at("method"), "GET");

  auto raw = emu.invoke(R"({"k":1})");
  ASSERT_EQ(raw.status, 200) << raw.error;
  EXPECT_EQ(boost::json::parse(raw.body).at("echo").at("k"), 1);

  EXPECT_EQ(emu.stop(), 0);
  const std::string log = emu.log();
  EXPECT_NE(log.find("INIT_START"), std::string::npos);
  // As Lambda's: an on-demand Init that succeeded has no INIT_REPORT; the first REPORT bills it.
  EXPECT_EQ(log.find("INIT_REPORT"), std::string::npos) << log;
  EXPECT_NE(emu.diagnostics().find("Init done in "), std::string::npos) << emu.diagnostics();
  EXPECT_NE(log.find("START RequestId: "), std::string::npos);
  EXPECT_NE(log.find("END RequestId: "), std::string::npos);
  const auto first_report = log.find("REPORT RequestId: ");
  ASSERT_NE(first_report, std::string::npos);
  // Lambda bills Init on the first invocation of an on-demand environment.
  EXPECT_NE(log.substr(first_report, log.find('\n', first_report) - first_report).find("Init Duration: "),
            std::string::npos);
  auto report = boost::json::parse(emu.report()).as_object();
  EXPECT_EQ(report.at("invocations").as_array().size(), 2U);
  EXPECT_EQ(report.at("init").at("status"), "success");
  EXPECT_EQ(report.at("exitCode"), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, RuntimeApiEndpointsAndWrongStateCalls) {
  EmulatorProcess emu("runtime_api", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();

  // As the RIE answers: ping works in any state, and without SnapStart the restore paths do not exist.
  auto ping = emu.runtime_call("GET", "/2018-06-01/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "pong");
  auto restore = emu.runtime_call("GET", kRestoreNext);
  EXPECT_EQ(restore.status, 404);
  EXPECT_NE(restore.body.find("without SnapStart"), std::string::npos) << restore.body;
  EXPECT_EQ(emu.runtime_call("POST", kRestoreError, "{}").status, 404);
  // An answer during Init: no invocation is in progress, so its id is wrong.
  auto early = emu.runtime_call("POST", response_path("nope"), "{}");
  EXPECT_EQ(early.status, 400);
  EXPECT_EQ(error_type(early), "InvalidRequestID");
  EXPECT_EQ(emu.runtime_call("POST", error_path("nope"), "{}").status, 400);
  // Malformed input never changes state.
  EXPECT_EQ(emu.runtime_call("GET", "/2018-06-01/runtime/nothing").status, 404);
  EXPECT_EQ(emu.runtime_call("POST", kNext).status, 405);
  {
    RawConnection raw(emu.runtime_api_port());
    raw.send("THIS IS NOT HTTP\r\n\r\n");
    EXPECT_TRUE(raw.read_until("400", 10s)) << raw.received();
  }
  {
    // Over 1 MiB but within the 4 KiB Go's net/http reads past it: taken, as Lambda takes it.
    RawConnection raw(emu.runtime_api_port());
    std::string fields;
    for (int i = 0; i < 17; ++i) fields += "X-Pad-" + std::to_string(i) + ": " + std::string(61700, 'p') + "\r\n";
    ASSERT_GT(fields.size(), std::size_t{1024} * 1024);
    raw.send("GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
    EXPECT_TRUE(raw.read_until("HTTP/1.1 200", 10s)) << raw.received().substr(0, 200);
  }
  {
    // Just over the 1 MiB and 4 KiB a request's header may have: 431, as from Go's net/http.
    RawConnection raw(emu.runtime_api_port());
    std::string fields;
    for (int i = 0; i < 17; ++i) fields += "X-Pad-" + std::to_string(i) + ": " + std::string(62000, 'p') + "\r\n";
    raw.send("GET " + std::string(kNext) + " HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
    EXPECT_TRUE(raw.read_until("HTTP/1.1 431", 10s)) << raw.received().substr(0, 200);
  }

  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto invoked = std::async(std::launch::async, [&] {
    return http_call(emu.front_door_port(), "POST", "/2015-03-31/functions/function/invocations", R"({"n":1})",
                     {{"X-Amz-Client-Context", "eyJjdXN0b20iOnsiYSI6MX19"},
                      {"X-Amz-Cognito-Identity", R"({"id":"c"})"},
                      {"X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}});
  });
  ASSERT_TRUE(ready(next));
  auto event = next.get();
  ASSERT_EQ(event.status, 200) << event.error;
  EXPECT_EQ(event.body, R"({"n":1})");
  const std::string id = event.header("lambda-runtime-aws-request-id");
  EXPECT_EQ(id.size(), 36U);
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_GT(std::stoll(event.header("lambda-runtime-deadline-ms")), now_ms);
  EXPECT_EQ(event.header("lambda-runtime-invoked-function-arn"),
            "arn:aws:lambda:us-east-1:000000000000:function:function");
  EXPECT_EQ(event.header("lambda-runtime-trace-id"), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
  EXPECT_EQ(event.header("lambda-runtime-client-context"), R"({"custom":{"a":1}})");
  EXPECT_EQ(event.header("lambda-runtime-cognito-identity"), R"({"id":"c"})");

  // Wrong state while invoking. A second invocation/next is not wrong: it waits for the next event,
  // as the RIE lets it (a runtime that polls from several threads).
  auto next2 = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  EXPECT_EQ(error_type(emu.runtime_call("POST", kInitError, "{}")), "InvalidStateTransition");
  EXPECT_EQ(emu.runtime_call("POST", response_path("not-the-id"), "{}").status, 400);

  EXPECT_EQ(emu.runtime_call("POST", response_path(id), R"({"ok":true})").status, 202);
  ASSERT_TRUE(ready(invoked));
  auto answer = invoked.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, R"({"ok":true})");
  EXPECT_EQ(answer.header("x-amzn-requestid"), id);
  // Answered and ended: its id is no longer the one in progress.
  EXPECT_EQ(error_type(emu.runtime_call("POST", response_path(id), "{}")), "InvalidRequestID");
  EXPECT_EQ(next2.wait_for(100ms), std::future_status::timeout);  // no event for it yet

  // invocation/error: the RIE path flags it, a Function URL answers 502.
  auto url = std::async(std::launch::async, [&] { return http_call(emu.front_door_port(), "GET", "/x"); });
  ASSERT_TRUE(ready(next2));
  const std::string id2 = next2.get().header("lambda-runtime-aws-request-id");
  EXPECT_EQ(emu.runtime_call("POST", error_path(id2), R"({"errorMessage":"bad","errorType":"ValueError"})",
                             {{"Lambda-Runtime-Function-Error-Type", "Unhandled"}})
                .status,
            202);
  ASSERT_TRUE(ready(url));
  auto url_answer = url.get();
  EXPECT_EQ(url_answer.status, 502);
  EXPECT_EQ(url_answer.header("x-amzn-requestid"), id2);
  // As Lambda's Function URLs: the body says nothing of the error, the header gives its type.
  EXPECT_EQ(url_answer.body, "Internal Server Error");
  EXPECT_EQ(url_answer.header("x-amzn-errortype"), "Unhandled");

  auto next3 = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto raw_err = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  ASSERT_TRUE(ready(next3));
  const std::string id3 = next3.get().header("lambda-runtime-aws-request-id");
  EXPECT_EQ(emu.runtime_call("POST", error_path(id3), R"({"errorMessage":"bad","errorType":"KeyError"})").status, 202);
  ASSERT_TRUE(ready(raw_err));
  auto raw_answer = raw_err.get();
  EXPECT_EQ(raw_answer.status, 200);
  EXPECT_EQ(raw_answer.header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(error_type(raw_answer), "KeyError");
  EXPECT_EQ(raw_answer.header("x-amzn-requestid"), id3);

  // An error with its X-Ray cause in the body: the caller gets the error without it, as from the RIE.
  auto next_cause = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto cause_err = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  ASSERT_TRUE(ready(next_cause));
  const std::string id_cause = next_cause.get().header("lambda-runtime-aws-request-id");
  EXPECT_EQ(emu.runtime_call("POST", error_path(id_cause),
                             R"({"errorMessage":"m","errorType":"T","stackTrace":[],)"
                             R"("errorCause":{"paths":["/var/task/app.py"],"working_directory":"/var/task"}})",
                             {{"Content-Type", "application/vnd.aws.lambda.error.cause+json"}})
                .status,
            202);
  ASSERT_TRUE(ready(cause_err));
  auto cause_answer = cause_err.get();
  EXPECT_EQ(cause_answer.header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(cause_answer.body, R"({"errorMessage":"m","errorType":"T"})");

  // An error body need not be JSON (a hand-written runtime's): taken, as the RIE takes it, and
  // handed to the caller as it came. awslambdaric's X-Ray cause header can be far over 64 KiB (every
  // frame of a deep stack): too long for a field here, it is left out, not the error refused.
  auto next4 = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto plain_err = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  ASSERT_TRUE(ready(next4));
  const std::string id4 = next4.get().header("lambda-runtime-aws-request-id");
  {
    // Written raw: the test's own HTTP client (Beast) cannot hold such a field either.
    RawConnection raw(emu.runtime_api_port());
    const std::string body = "plain text failure";
    raw.send("POST " + error_path(id4) +
             " HTTP/1.1\r\nHost: api\r\nLambda-Runtime-Function-Error-Type: MyError\r\n"
             "Lambda-Runtime-Function-XRay-Error-Cause: " +
             std::string(std::size_t{80} * 1024, 'f') + "\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + body);
    EXPECT_TRUE(raw.read_until("HTTP/1.1 202", 10s)) << raw.received();
  }
  ASSERT_TRUE(ready(plain_err));
  auto plain_answer = plain_err.get();
  EXPECT_EQ(plain_answer.header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(plain_answer.body, "plain text failure");
  // Diagnostics are written apart from the answers: wait for the line.
  EXPECT_TRUE(emu.wait_for_diagnostic("Lambda-Runtime-Function-XRay-Error-Cause header (81920 bytes)"))
      << emu.diagnostics();

  // A client context that is not base64 of a JSON object never reaches the runtime.
  for (const char* bad : {"not base64!", "Y3R4"}) {
    auto refused = http_call(emu.front_door_port(), "POST", "/2015-03-31/functions/function/invocations", "{}",
                             {{"X-Amz-Client-Context", bad}});
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(invoke_error_type(refused), "InvalidRequestContentException");
    EXPECT_EQ(refused.header("x-amzn-requestid").size(), 36U);
  }

  // Park the runtime in invocation/next so shutdown meets a long poll, as in Lambda.
  auto parked = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext, {}, {}, 20s); });
  ASSERT_TRUE(emu.wait_for_log("REPORT RequestId: " + id4));
  EXPECT_EQ(emu.stop(), 0);
  EXPECT_TRUE(ready(parked));
  emu.expect_no_survivors();
  // The report marks function errors as errors.
  const boost::json::value report = boost::json::parse(emu.report());
  for (const auto& inv : report.at("invocations").as_array()) {
    const auto& o = inv.as_object();
    if (o.at("requestId").as_string() == id) {
      EXPECT_EQ(o.at("status"), "success");
      EXPECT_TRUE(o.at("errorType").is_null());
    } else {
      EXPECT_EQ(o.at("status"), "error") << boost::json::serialize(o);
      EXPECT_FALSE(o.at("errorType").is_null());
    }
  }
}

TEST(EmulateMain, StreamingRelaysChunkByChunkWithMidStreamErrorTrailer) {
  EmulatorProcess emu("streaming", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();

  // Function URL with the http-integration prelude.
  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  RawConnection client(emu.front_door_port());
  ASSERT_TRUE(client.connected());
  client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(ready(next));
  const std::string id = next.get().header("lambda-runtime-aws-request-id");
  RawConnection runtime(emu.runtime_api_port());
  runtime.send("POST " + response_path(id) +
               " HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
               "Content-Type: application/vnd.awslambda.http-integration-response\r\n"
               "Transfer-Encoding: chunked\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n");
  const std::string prelude = R"({"statusCode":201,"headers":{"x-from-prelude":"yes"},"cookies":["s=1"]})";
  std::string first = prelude + std::string(8, '\0') + "first-piece;";
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", first.size());
  runtime.send(size + first + "\r\n");
  // The first piece reaches the client while the function is still streaming, in the head's write.
  ASSERT_TRUE(client.read_until("first-piece;", 10s)) << client.received();
  EXPECT_EQ(client.reads(), 1);
  EXPECT_NE(client.received().find("HTTP/1.1 201"), std::string::npos);
  EXPECT_NE(client.received().find("x-from-prelude: yes"), std::string::npos);
  EXPECT_NE(client.received().find("Set-Cookie: s=1"), std::string::npos);
  EXPECT_EQ(client.received().find("second-piece;"), std::string::npos);
  runtime.send("d\r\nsecond-piece;\r\n0\r\n\r\n");
  ASSERT_TRUE(client.read_until("second-piece;\r\n0\r\n\r\n", 10s)) << client.received();
  ASSERT_TRUE(runtime.read_until("202", 10s));

  // RIE path, mid-stream error: the client sees the bytes, then the error in the trailers.
  auto next2 = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  RawConnection raw_client(emu.front_door_port());
  raw_client.send("POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(ready(next2));
  const std::string id2 = next2.get().header("lambda-runtime-aws-request-id");
  RawConnection runtime2(emu.runtime_api_port());
  runtime2.send("POST " + response_path(id2) +
                " HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
                "Transfer-Encoding: chunked\r\n"
                "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
                "6\r\nhello;\r\n");
  ASSERT_TRUE(raw_client.read_until("hello;", 10s)) << raw_client.received();
  // A long error (a message that quotes its input, say): its base64 is more than Beast's fields hold
  // (65,533 bytes), and it reaches the client whole.
  const std::string error_json =
      R"({"errorMessage":"broke: )" + std::string(std::size_t{100} * 1024, 'x') + R"(","errorType":"StreamBroke"})";
  const std::string error_base64(kj::encodeBase64(kj::StringPtr(error_json.c_str()).asBytes()).cStr());
  runtime2.send("0\r\nLambda-Runtime-Function-Error-Type: StreamBroke\r\nLambda-Runtime-Function-Error-Body: " +
                error_base64 + "\r\n\r\n");
  ASSERT_TRUE(raw_client.read_until("Lambda-Runtime-Function-Error-Body: " + error_base64 + "\r\n\r\n", 10s))
      << raw_client.received().substr(0, 400);
  EXPECT_NE(raw_client.received().find("Lambda-Runtime-Function-Error-Type: StreamBroke"), std::string::npos);
  ASSERT_TRUE(runtime2.read_until("202", 10s));
  EXPECT_TRUE(emu.wait_for_log("REPORT RequestId: " + id2));

  // InvokeWithResponseStream: what came with the runtime's head leaves as the first PayloadChunk, in
  // the answer's head's write.
  auto next3 = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  RawConnection event_client(emu.front_door_port());
  event_client.send(
      "POST /2021-11-15/functions/function/response-streaming-invocations HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(ready(next3));
  const std::string id3 = next3.get().header("lambda-runtime-aws-request-id");
  RawConnection runtime3(emu.runtime_api_port());
  runtime3.send("POST " + response_path(id3) +
                " HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
                "Transfer-Encoding: chunked\r\n\r\nc\r\nevent-piece;\r\n");
  ASSERT_TRUE(event_client.read_until("event-piece;", 10s)) << event_client.received();
  EXPECT_EQ(event_client.reads(), 1);
  EXPECT_EQ(event_client.received().rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << event_client.received();
  EXPECT_LT(event_client.received().find("PayloadChunk"), event_client.received().find("event-piece;"));
  EXPECT_EQ(event_client.received().find("InvokeComplete"), std::string::npos);
  runtime3.send("0\r\n\r\n");
  ASSERT_TRUE(event_client.read_until("InvokeComplete", 10s)) << event_client.received();
  ASSERT_TRUE(runtime3.read_until("202", 10s));
  EXPECT_TRUE(emu.wait_for_log("REPORT RequestId: " + id3));
  EXPECT_EQ(emu.stop(), 0);
  auto report = boost::json::parse(emu.report()).as_object();
  EXPECT_EQ(report.at("invocations").as_array().at(1).at("errorType"), "StreamBroke");
  emu.expect_no_survivors();
}

// The RIE takes exactly "streaming" as a response mode: any other value fails the call (400) and the
// invocation (Runtime.InvalidResponseModeHeader), rather than passing as a buffered answer.
TEST(EmulateMain, AResponseModeOtherThanStreamingFailsTheInvocation) {
  EmulatorProcess emu("bad_response_mode", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  for (const std::string mode : {"Streaming", "buffered"}) {
    auto invoked = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
    const auto event = emu.runtime_call("GET", kNext);
    ASSERT_EQ(event.status, 200) << event.error;
    const auto refused = emu.runtime_call("POST", response_path(event.header("lambda-runtime-aws-request-id")),
                                          R"({"ok":true})", {{"Lambda-Runtime-Function-Response-Mode", mode}});
    EXPECT_EQ(refused.status, 400) << mode;
    EXPECT_EQ(error_type(refused), "InvalidFunctionResponseMode") << refused.body;
    ASSERT_TRUE(ready(invoked));
    const auto answer = invoked.get();
    EXPECT_EQ(answer.header("x-amz-function-error"), "Unhandled") << mode;
    EXPECT_EQ(error_type(answer), "Runtime.InvalidResponseModeHeader") << answer.body;
  }
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, PythonRuntimeStreamingErrorTrailer) {
  EmulatorProcess emu("py_stream", {"--", kPython, testdata("fake_runtime.py"), "stream-error"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  RawConnection client(emu.front_door_port());
  client.send("POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(client.read_until("Lambda-Runtime-Function-Error-Type: StreamBroke", 20s)) << client.received();
  EXPECT_NE(client.received().find("first;"), std::string::npos);
  EXPECT_NE(client.received().find("second;"), std::string::npos);
  // A streamed answer names the version that ran, as a buffered one does.
  EXPECT_NE(client.received().find("X-Amz-Executed-Version: $LATEST\r\n"), std::string::npos) << client.received();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, EventInvocationsRunWithNobodyWaitingAndStreamsBecomeEvents) {
  EmulatorProcess emu("event_stream", {"--", kPython, testdata("fake_runtime.py"), "stream-error"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  // Event: 202 at once; the run (a streamed answer that fails mid-stream) goes on with nobody to read it.
  auto accepted = http_call(emu.front_door_port(), "POST", "/2015-03-31/functions/function/invocations", "{}",
                            {{"X-Amz-Invocation-Type", "Event"}});
  EXPECT_EQ(accepted.status, 202) << accepted.error;
  EXPECT_EQ(accepted.body, "");
  const std::string event_id = accepted.header("x-amzn-requestid");
  EXPECT_TRUE(emu.wait_for_log("REPORT RequestId: " + event_id)) << emu.log();

  // InvokeWithResponseStream: the echo that follows, as PayloadChunk events, then InvokeComplete.
  RawConnection client(emu.front_door_port());
  client.send(
      "POST /2021-11-15/functions/function/response-streaming-invocations HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 9\r\n\r\n{\"k\":\"v\"}");
  ASSERT_TRUE(client.read_until("InvokeComplete", 20s)) << client.received();
  ASSERT_TRUE(client.read_until("\r\n0\r\n\r\n", 10s)) << client.received();
  const std::string& got = client.received();
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << got;
  EXPECT_NE(got.find("Content-Type: application/vnd.amazon.eventstream\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("X-Amz-Executed-Version: $LATEST\r\n"), std::string::npos) << got;
  EXPECT_LT(got.find("PayloadChunk"), got.find(R"({"echo": {"k": "v"})")) << got;
  EXPECT_LT(got.find(R"({"echo": {"k": "v"})"), got.find("InvokeComplete")) << got;
  EXPECT_EQ(got.find("ErrorCode"), std::string::npos) << got;

  EXPECT_EQ(emu.stop(), 0);
  auto report = boost::json::parse(emu.report()).as_object();
  EXPECT_EQ(report.at("invocations").as_array().at(0).at("errorType"), "StreamBroke");
  emu.expect_no_survivors();
}

TEST(EmulateMain, RuntimeCrashDuringInvokeIsRuntimeExitError) {
  EmulatorProcess emu("crash_invoke",
                      {"--exit-on-failure", "--", kPython, testdata("fake_runtime.py"), "crash-invoke"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  auto answer = emu.invoke("{}");
  EXPECT_EQ(answer.status, 200) << answer.error;
  EXPECT_EQ(answer.header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(error_type(answer), "Runtime.ExitError");
  EXPECT_EQ(emu.wait_exit(20s), 5);
  EXPECT_NE(emu.log().find("Error Type: Runtime.ExitError"), std::string::npos) << emu.log();
  // The memory figure was sampled while the runtime lived.
  EXPECT_EQ(emu.log().find("Max Memory Used: 0 MB"), std::string::npos) << emu.log();
  EXPECT_EQ(answer.header("x-amzn-requestid").size(), 36U);
  EXPECT_NE(emu.log().find("Runtime exited with error: exit status 3"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

// Lambda counts the whole sandbox: a server's workers, which hold most of its memory, count as
// much as the process Lambda started, and so does one whose parent has exited (this one's has).
// Above the memory size (128 MB here), the log says that Lambda would stop the function, once.
TEST(EmulateMain, MaxMemoryUsedCountsTheProcessesTheRuntimeStarted) {
  constexpr int kWorkerMib = 150;
  EmulatorProcess emu("worker_memory",
                      {"--", kPython, testdata("fake_runtime.py"), "worker-memory", std::to_string(kWorkerMib)});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  for (int i = 0; i < 2; ++i) {
    auto answer = emu.invoke("{}");
    EXPECT_EQ(answer.status, 200) << answer.error;
  }
  EXPECT_EQ(emu.stop(), 0);
  const auto invocations = boost::json::parse(emu.report()).as_object().at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 2U);
  EXPECT_GE(invocations.at(0).at("maxMemoryUsedMb").to_number<int>(), kWorkerMib) << emu.log();
  const std::string warning = "is above Memory Size 128 MB: Lambda would stop this function";
  const auto first = emu.diagnostics().find(warning);
  EXPECT_NE(first, std::string::npos) << emu.diagnostics();
  EXPECT_EQ(emu.diagnostics().find(warning, first + 1), std::string::npos) << emu.diagnostics();
  emu.expect_no_survivors();
}

TEST(EmulateMain, RuntimeCrashDuringInitFailsInit) {
  EmulatorProcess emu("crash_init", {"--exit-on-failure", "--", kPython, testdata("fake_runtime.py"), "crash-init"},
                      false);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  EXPECT_NE(emu.log().find("INIT_REPORT Init Duration: "), std::string::npos);
  EXPECT_NE(emu.log().find("Status: error\tError Type: Runtime.ExitError"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, MissingRuntimeIsInvalidEntrypoint) {
  EmulatorProcess emu("no_runtime", {"--exit-on-failure", "--", "/nonexistent/bootstrap"}, false);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  EXPECT_NE(emu.log().find("Runtime.InvalidEntrypoint"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, InitErrorTearsTheEnvironmentDown) {
  EmulatorProcess emu("init_error", with({"--exit-on-failure"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto r = emu.runtime_call("POST", kInitError, R"({"errorMessage":"no config","errorType":"ConfigError"})",
                            {{"Lambda-Runtime-Function-Error-Type", "Runtime.BeforeSnapshotError"}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  EXPECT_NE(emu.log().find("Error Type: Runtime.BeforeSnapshotError"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

// Lambda records Runtime.X or Function.X as posted in the header, anything else as Runtime.Unknown,
// and never reads the body for it (RAPID's GetValidRuntimeOrFunctionErrorType).
TEST(EmulateMain, AnInitErrorTypeThatIsNoRuntimeErrorIsRecordedAsRuntimeUnknown) {
  for (const auto& [header, recorded] : std::vector<std::pair<std::string, std::string>>{
           {"ConfigError", "Runtime.Unknown"}, {"", "Runtime.Unknown"}, {"Function.x", "Function.Unknown"}}) {
    EmulatorProcess emu("init_error_type", with({"--exit-on-failure"}, kPlaceholderRuntime));
    ASSERT_TRUE(emu.started());
    std::map<std::string, std::string> headers;
    if (!header.empty()) headers["Lambda-Runtime-Function-Error-Type"] = header;
    auto r =
        emu.runtime_call("POST", kInitError, R"({"errorMessage":"no config","errorType":"Runtime.FromBody"})", headers);
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(emu.wait_exit(20s), 3);
    EXPECT_NE(emu.log().find("Error Type: " + recorded), std::string::npos) << header << "\n" << emu.log();
    EXPECT_EQ(emu.log().find("Runtime.FromBody"), std::string::npos) << header << "\n" << emu.log();
    emu.expect_no_survivors();
  }
}

TEST(EmulateMain, ExtensionThatNeverRegistersFailsInit) {
  const std::string opt = test_dir("opt_lazy");
  write_script(opt + "/extensions/lazy-extension", "#!/bin/sh\nexec /bin/sleep 600\n");
  EmulatorProcess emu("lazy_extension",
                      with({"--opt", opt, "--init-timeout", "1", "--exit-on-failure"}, kPlaceholderRuntime), false);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  EXPECT_NE(emu.log().find("Status: timeout\tError Type: Sandbox.Timedout"), std::string::npos) << emu.log();
  EXPECT_NE(emu.log().find("lazy-extension never registered"), std::string::npos) << emu.log();
  // The runtime starts only after every extension registered: it never started.
  EXPECT_EQ(emu.diagnostics().find("started runtime"), std::string::npos);
  emu.expect_no_survivors();
}

TEST(EmulateMain, InitTimeoutSaysWhatInitWaitedFor) {
  EmulatorProcess emu("quiet_runtime", with({"--init-timeout", "1", "--exit-on-failure"}, kPlaceholderRuntime), false);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  EXPECT_NE(emu.log().find("Error: Init did not complete within 1.00 seconds: the runtime never called "
                           "invocation/next"),
            std::string::npos)
      << emu.log();
  emu.expect_no_survivors();
}

// An external extension that subscribes to the Telemetry API during Init, as Datadog's or an
// OpenTelemetry collector's do: the emulator accepts (202, as the RIE does) and delivers nothing.
std::string telemetry_extension(const std::string& opt, const std::string& name = "telemetry-ext",
                                const std::string& mode = "") {
  return write_script(opt + "/extensions/" + name, "#!/bin/sh\nexec " + std::string(kPython) + " " +
                                                       testdata("fake_extension.py") + " " + name + " " + mode + "\n");
}

TEST(EmulateMain, AFreshEnvironmentStartsItsExtensionsBeforeItsRuntime) {
  const std::string opt = test_dir("opt_fresh_ext");
  telemetry_extension(opt);
  EmulatorProcess emu("fresh_ext", {"--opt", opt, "--", kPython, testdata("fake_runtime.py"), "crash-invoke"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  EXPECT_EQ(error_type(emu.invoke("{}")), "Runtime.ExitError");
  // The next invocation comes once the failed environment is gone: a fresh one starts for it.
  ASSERT_TRUE(emu.wait_for_diagnostic("the failed environment stopped")) << emu.diagnostics();
  const auto second = emu.invoke("{}");
  EXPECT_EQ(error_type(second), "Runtime.ExitError");
  // The log and the diagnostics are written apart from the answer, by one thread in the order they
  // came: once the fresh environment's REPORT is out, so are its INIT_START and its Init's diagnostics.
  const std::string second_id = second.header("x-amzn-requestid");
  ASSERT_FALSE(second_id.empty()) << second.body;
  ASSERT_TRUE(emu.wait_for_log("REPORT RequestId: " + second_id)) << emu.log();
  const std::string diagnostics = emu.diagnostics();
  const auto fresh = diagnostics.find("starting a fresh environment");
  ASSERT_NE(fresh, std::string::npos) << diagnostics;
  const auto extension = diagnostics.find("started extension telemetry-ext", fresh);
  const auto runtime = diagnostics.find("started runtime", fresh);
  ASSERT_NE(extension, std::string::npos) << diagnostics;
  ASSERT_NE(runtime, std::string::npos) << diagnostics;
  EXPECT_LT(extension, runtime) << diagnostics;
  EXPECT_EQ(emu.log().find("answered 4"), std::string::npos) << "the extension was refused:\n" << emu.log();
  EXPECT_EQ(count_of(emu.log(), "INIT_START"), 2U) << emu.log();
  EXPECT_EQ(count_of(emu.diagnostics(), "Init done in "), 2U) << emu.diagnostics();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

// Lambda's order: SIGTERM to the runtime, which gets its share of the time (300 ms of 2 s) to exit,
// and only then SHUTDOWN to the extensions; without any extension, SIGKILL at once.
TEST(EmulateMain, ShutdownStopsTheRuntimeBeforeTheExtensionsHearOfIt) {
  const std::string opt = test_dir("opt_shutdown_order");
  telemetry_extension(opt, "order-ext");
  // 10 s: the runtime's share (1.5 s) is time enough to print on a loaded machine.
  EmulatorProcess emu("shutdown_order", {"--opt", opt, "--shutdown-timeout", "10", "--", kPython,
                                         testdata("fake_runtime.py"), "echo-sigterm"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_EQ(emu.invoke("{}").status, 200);
  EXPECT_EQ(emu.stop(), 0);
  const std::string log = emu.log();
  const auto runtime_stopped = log.find("runtime: SIGTERM");
  const auto extension_told = log.find("order-ext: SHUTDOWN");
  ASSERT_NE(runtime_stopped, std::string::npos) << log;
  ASSERT_NE(extension_told, std::string::npos) << log;
  EXPECT_LT(runtime_stopped, extension_told) << log;
  emu.expect_no_survivors();
}

TEST(EmulateMain, ShutdownWithoutExtensionsKillsTheRuntimeAtOnce) {
  EmulatorProcess emu("shutdown_no_extensions", {"--", kPython, testdata("fake_runtime.py"), "echo-sigterm"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_EQ(emu.invoke("{}").status, 200);
  EXPECT_EQ(emu.stop(), 0);
  EXPECT_EQ(emu.log().find("runtime: SIGTERM"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, ARuntimeThatIgnoresSigtermIsKilledAtTheEndOfItsShareAndTheExtensionsStillHearOfIt) {
  const std::string opt = test_dir("opt_shutdown_stubborn");
  telemetry_extension(opt, "patient-ext");
  EmulatorProcess emu("shutdown_stubborn",
                      {"--opt", opt, "--", kPython, testdata("fake_runtime.py"), "init-error-linger"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_TRUE(emu.wait_for_log("Error Type: Runtime.ImportModuleError")) << emu.log();
  EXPECT_EQ(emu.stop(), 0) << emu.diagnostics();
  EXPECT_NE(emu.diagnostics().find("did not exit within its share of the shutdown time"), std::string::npos)
      << emu.diagnostics();
  EXPECT_NE(emu.log().find("patient-ext: SHUTDOWN"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, TelemetryAndLogsSubscriptionsAreAcceptedAndDeliverNothing) {
  EmulatorProcess emu("telemetry", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started());
  auto telemetry = emu.runtime_call("PUT", "/2022-07-01/telemetry", R"({"schemaVersion":"2022-12-13"})");
  EXPECT_EQ(telemetry.status, 202);
  EXPECT_EQ(error_type(telemetry), "Telemetry.NotSupported");
  auto logs = emu.runtime_call("PUT", "/2020-08-15/logs", R"({"types":["platform"]})");
  EXPECT_EQ(logs.status, 202);
  EXPECT_EQ(error_type(logs), "Logs.NotSupported");
  EXPECT_EQ(emu.runtime_call("GET", "/2022-07-01/telemetry").status, 405);
  EXPECT_EQ(emu.stop(), 0);
}

TEST(EmulateMain, AnInvokeExtensionThatNeverComesBackTimesTheInvocationOut) {
  const std::string opt = test_dir("opt_stalled_ext");
  write_script(opt + "/extensions/stalled", "#!/bin/sh\nexec /bin/sleep 600\n");
  EmulatorProcess emu("stalled_ext",
                      {"--opt", opt, "--timeout", "1", "--", kPython, testdata("fake_runtime.py"), "echo"});
  ASSERT_TRUE(emu.started());
  auto reg = emu.runtime_call("POST", kRegister, R"({"events":["INVOKE"]})", {{"Lambda-Extension-Name", "stalled"}});
  ASSERT_EQ(reg.status, 200) << reg.body;
  const std::string ext_id = reg.header("lambda-extension-identifier");
  // Its one event/next returns the INVOKE; it never asks again.
  auto invoke_event = std::async(std::launch::async, [&] {
    return emu.runtime_call("GET", kEventNext, {}, {{"Lambda-Extension-Identifier", ext_id}});
  });
  auto answer = emu.invoke(R"({"n":1})");
  EXPECT_EQ(answer.status, 200) << answer.error;
  EXPECT_NE(answer.body.find("echo"), std::string::npos) << "the caller has the runtime's answer";
  ASSERT_TRUE(ready(invoke_event));
  const std::string id = answer.header("x-amzn-requestid");
  ASSERT_TRUE(emu.wait_for_log("REPORT RequestId: " + id)) << emu.log();
  const std::string log = emu.log();
  EXPECT_NE(log.find("RequestId: " + id + " Error: Task timed out after 1.00 seconds"), std::string::npos) << log;
  EXPECT_NE(log.find("END RequestId: " + id), std::string::npos) << log;
  EXPECT_NE(log.find("Status: timeout"), std::string::npos) << log;
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, ExtensionsApiLifecycle) {
  const std::string opt = test_dir("opt_ext");
  write_script(opt + "/extensions/watcher", "#!/bin/sh\nexec /bin/sleep 600\n");
  EmulatorProcess emu("extensions", with({"--opt", opt}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());

  // Refusals are 403 with the RIE's error types.
  const auto refused_register = [&](const std::string& body, const std::string& name) {
    std::map<std::string, std::string> headers;
    if (!name.empty()) headers.emplace("Lambda-Extension-Name", name);
    auto answer = emu.runtime_call("POST", kRegister, body, headers);
    EXPECT_EQ(answer.status, 403) << body;
    return error_type(answer);
  };
  EXPECT_EQ(refused_register(R"({"events":["INVOKE"]})", ""), "Extension.InvalidExtensionName");
  EXPECT_EQ(refused_register(R"({"events":["LUNCH"]})", "watcher"), "Extension.InvalidEventType");
  EXPECT_EQ(refused_register(R"({"events":[1]})", "watcher"), "InvalidRequestFormat");
  EXPECT_EQ(refused_register(R"({"events":"INVOKE"})", "watcher"), "InvalidRequestFormat");
  EXPECT_EQ(refused_register("{nope", "watcher"), "InvalidRequestFormat");
  EXPECT_EQ(refused_register("", "watcher"), "InvalidRequestFormat");
  EXPECT_EQ(refused_register(R"({"events":["INVOKE"],"configurationKeys":["k"]})", "watcher"), "InvalidRequestFormat");
  EXPECT_EQ(emu.runtime_call("GET", kEventNext).status, 403);  // no identifier
  EXPECT_EQ(emu.runtime_call("GET", kEventNext, {}, {{"Lambda-Extension-Identifier", "bogus"}}).status, 403);

  auto reg = emu.runtime_call("POST", kRegister, R"({"events":["INVOKE","SHUTDOWN"]})",
                              {{"Lambda-Extension-Name", "watcher"}});
  ASSERT_EQ(reg.status, 200) << reg.body;
  const std::string ext_id = reg.header("lambda-extension-identifier");
  ASSERT_FALSE(ext_id.empty());
  EXPECT_EQ(boost::json::parse(reg.body).at("functionName"), "function");
  EXPECT_FALSE(boost::json::parse(reg.body).as_object().contains("accountId")) << "only when asked for";
  EXPECT_EQ(refused_register("{}", "watcher"), "Extension.InvalidExtensionState");  // registered already
  ASSERT_TRUE(std::filesystem::exists(emu.dir() + "/stdout.log"));

  // Init ends only when the runtime and the extension both wait.
  auto runtime_next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(emu.diagnostics().find("Init done in "), std::string::npos);
  auto ext_next = std::async(std::launch::async, [&] {
    return emu.runtime_call("GET", kEventNext, {}, {{"Lambda-Extension-Identifier", ext_id}});
  });
  ASSERT_TRUE(emu.wait_for_diagnostic("Init done in "));
  EXPECT_EQ(refused_register("{}", "late"), "Extension.RegistrationClosed");
  // The error type is required (Lambda's Extensions API; the RIE answers the same).
  EXPECT_EQ(error_type(emu.runtime_call("POST", "/2020-01-01/extension/init/error", "{}",
                                        {{"Lambda-Extension-Identifier", ext_id}})),
            "Extension.MissingHeader");
  EXPECT_EQ(error_type(emu.runtime_call(
                "POST", "/2020-01-01/extension/init/error", "{}",
                {{"Lambda-Extension-Identifier", ext_id}, {"Lambda-Extension-Function-Error-Type", "Extension.Late"}})),
            "InvalidStateTransition");

  auto invoked = std::async(std::launch::async, [&] { return emu.invoke(R"({"x":2})"); });
  ASSERT_TRUE(ready(runtime_next));
  const std::string id = runtime_next.get().header("lambda-runtime-aws-request-id");
  ASSERT_TRUE(ready(ext_next));
  const auto invoke_answer = ext_next.get();
  EXPECT_EQ(invoke_answer.header("lambda-extension-event-identifier").size(), 36U) << "a UUID, as the RIE gives";
  auto invoke_event = boost::json::parse(invoke_answer.body).as_object();
  EXPECT_EQ(invoke_event.at("eventType"), "INVOKE");
  EXPECT_EQ(std::string(invoke_event.at("requestId").as_string()), id);
  EXPECT_EQ(emu.runtime_call("POST", response_path(id), "\"done\"").status, 202);
  ASSERT_TRUE(ready(invoked));
  EXPECT_EQ(invoked.get().body, "\"done\"");
  // END/REPORT wait for the extension to finish its INVOKE work.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(emu.log().find("END RequestId"), std::string::npos);
  auto shutdown_event = std::async(std::launch::async, [&] {
    return emu.runtime_call("GET", kEventNext, {}, {{"Lambda-Extension-Identifier", ext_id}});
  });
  ASSERT_TRUE(emu.wait_for_log("REPORT RequestId: " + id));

  ::kill(emu.pid(), SIGTERM);
  ASSERT_TRUE(ready(shutdown_event));
  auto shutdown = boost::json::parse(shutdown_event.get().body).as_object();
  EXPECT_EQ(shutdown.at("eventType"), "SHUTDOWN");
  EXPECT_EQ(shutdown.at("shutdownReason"), "spindown");
  EXPECT_EQ(emu.wait_exit(20s), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, ExtensionExitErrorFailsTheInvokePhase) {
  const std::string opt = test_dir("opt_exit");
  write_script(opt + "/extensions/quitter", "#!/bin/sh\nexec /bin/sleep 600\n");
  EmulatorProcess emu("ext_exit_error", with({"--opt", opt, "--exit-on-failure"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto reg = emu.runtime_call(
      "POST", kRegister, R"({"events":[]})",
      {{"Lambda-Extension-Name", "quitter"}, {"Lambda-Extension-Accept-Feature", "somethingElse, accountId"}});
  ASSERT_EQ(reg.status, 200);
  EXPECT_EQ(boost::json::parse(reg.body).at("accountId"), "000000000000") << reg.body;
  const std::string ext_id = reg.header("lambda-extension-identifier");
  auto r = emu.runtime_call(
      "POST", "/2020-01-01/extension/exit/error", R"({"errorMessage":"bye"})",
      {{"Lambda-Extension-Identifier", ext_id}, {"Lambda-Extension-Function-Error-Type", "Extension.Bye"}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  // Lambda's type, whatever the extension said; what it said is in the message.
  EXPECT_NE(emu.log().find("Extension quitter is exiting (Extension.Bye): bye\nExtension.ExitError"), std::string::npos)
      << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, ExtensionInitErrorFailsInitWithExtensionInitError) {
  const std::string opt = test_dir("opt_init_error");
  write_script(opt + "/extensions/unready", "#!/bin/sh\nexec /bin/sleep 600\n");
  EmulatorProcess emu("ext_init_error", with({"--opt", opt, "--exit-on-failure"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto reg = emu.runtime_call("POST", kRegister, R"({"events":[]})", {{"Lambda-Extension-Name", "unready"}});
  ASSERT_EQ(reg.status, 200);
  const std::string ext_id = reg.header("lambda-extension-identifier");
  auto r = emu.runtime_call(
      "POST", "/2020-01-01/extension/init/error", R"({"errorMessage":"no config"})",
      {{"Lambda-Extension-Identifier", ext_id}, {"Lambda-Extension-Function-Error-Type", "Extension.ConfigMissing"}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  EXPECT_NE(emu.log().find("Status: error\tError Type: Extension.InitError"), std::string::npos) << emu.log();
  EXPECT_NE(emu.log().find("Extension unready failed to initialize (Extension.ConfigMissing): no config"),
            std::string::npos)
      << emu.log();
  emu.expect_no_survivors();
}

// A file in extensions/ that cannot be run fails Init at once, as in Lambda, rather than being
// skipped (a layer zipped without its mode bits would then seem to work here, or time out).
TEST(EmulateMain, AnExtensionThatCannotStartFailsInitWithExtensionLaunchError) {
  const std::string opt = test_dir("opt_not_executable");
  write_script(opt + "/extensions/plain-file", "#!/bin/sh\nexec /bin/sleep 600\n");
  ::chmod((opt + "/extensions/plain-file").c_str(), 0644);
  EmulatorProcess emu("ext_not_executable", with({"--opt", opt, "--exit-on-failure"}, kPlaceholderRuntime), false);
  EXPECT_EQ(emu.wait_exit(20s), 3);
  EXPECT_NE(emu.log().find("Error Type: Extension.LaunchError"), std::string::npos) << emu.log();
  EXPECT_NE(emu.log().find("plain-file"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, SnapStartRestoreNextAndWhileFrozen) {
  const std::string marker_file = test_dir("while_frozen") + "/ran";
  EmulatorProcess emu("snapstart",
                      with({"--snapstart", "--while-frozen", "touch " + marker_file}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto restore = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kRestoreNext); });
  ASSERT_TRUE(ready(restore));
  EXPECT_EQ(restore.get().status, 200);
  EXPECT_TRUE(std::filesystem::exists(marker_file));
  // The log lines come before the answer, but the emulator's output thread writes them: waited for.
  EXPECT_TRUE(emu.wait_for_log("INIT_REPORT"));
  EXPECT_TRUE(emu.wait_for_log("RESTORE_START"));
  EXPECT_EQ(emu.log().find("RESTORE_REPORT"), std::string::npos);  // the restore ends with the next call
  EXPECT_EQ(error_type(emu.runtime_call("GET", kRestoreNext)), "InvalidStateTransition");

  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  ASSERT_TRUE(emu.wait_for_log("RESTORE_REPORT Restore Duration: "));
  auto invoked = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  ASSERT_TRUE(ready(next));
  const std::string id = next.get().header("lambda-runtime-aws-request-id");
  EXPECT_EQ(emu.runtime_call("POST", response_path(id), "1").status, 202);
  ASSERT_TRUE(ready(invoked));
  ASSERT_TRUE(emu.wait_for_log("Restore Duration: ", 10s));
  EXPECT_TRUE(emu.wait_for_log("Billed Restore Duration"));
  EXPECT_EQ(emu.stop(), 0);
  EXPECT_NE(emu.report().find("\"restore\":{"), std::string::npos);
  emu.expect_no_survivors();
}

// What the --while-frozen command leaves running is adopted by the emulator, not started by the
// function: a helper holding 150 MB is no part of Max Memory Used.
TEST(EmulateMain, WhatTheWhileFrozenCommandLeavesRunningIsNotTheFunctionsMemory) {
  const std::string dir = test_dir("while_frozen_memory");
  const std::string held = dir + "/held";
  const std::string helper = std::string(kPython) + " -c \"import time; b = b'x' * (150 << 20); open('" + held +
                             "', 'w').close(); time.sleep(60)\" >/dev/null 2>&1 &";
  const std::string command = helper + " while [ ! -f " + held + " ]; do sleep 0.05; done";
  EmulatorProcess emu("while_frozen_memory", with({"--snapstart", "--while-frozen", command}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto restore = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kRestoreNext); });
  ASSERT_TRUE(ready(restore));
  ASSERT_TRUE(std::filesystem::exists(held)) << "the helper holds its memory before the restore";
  // Past the age at which the function's process list is walked anew (1 s), so the helper is seen.
  std::this_thread::sleep_for(1500ms);
  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto invoked = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  ASSERT_TRUE(ready(next));
  const std::string id = next.get().header("lambda-runtime-aws-request-id");
  EXPECT_EQ(emu.runtime_call("POST", response_path(id), "1").status, 202);
  ASSERT_TRUE(ready(invoked));
  ASSERT_TRUE(emu.wait_for_log("REPORT RequestId: " + id));
  const std::string log = emu.log();
  const auto used = log.find("Max Memory Used: ", log.find("REPORT RequestId: " + id));
  ASSERT_NE(used, std::string::npos) << log;
  EXPECT_LT(std::stoi(log.substr(used + std::string_view("Max Memory Used: ").size())), 100) << log;
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

// The runtime dies while frozen, after Init was reported a success: the failure is the restore's
// (RESTORE_START, then RESTORE_REPORT with the error, exit 4), not a second INIT_REPORT.
TEST(EmulateMain, ARuntimeThatDiesWhileFrozenFailsTheRestore) {
  // A runtime command line no other test runs, so the --while-frozen command kills only this one.
  const std::vector<std::string> runtime = {"--", "/bin/sleep", "613.25"};
  EmulatorProcess emu(
      "dies_while_frozen",
      with({"--snapstart", "--exit-on-failure", "--while-frozen", "pkill -KILL -x -f '/bin/sleep 613.25'"}, runtime));
  ASSERT_TRUE(emu.started());
  // The "runtime" (this test) ends Init: the function is frozen, and the command kills it.
  auto restore = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kRestoreNext, {}, {}, 20s); });
  EXPECT_EQ(emu.wait_exit(20s), 4) << emu.log();
  restore.wait();
  const std::string log = emu.log();
  EXPECT_EQ(count_of(log, "INIT_REPORT"), 1U) << log;
  EXPECT_LT(log.find("INIT_REPORT"), log.find("RESTORE_START")) << log;
  const auto report = log.find("RESTORE_REPORT");
  ASSERT_NE(report, std::string::npos) << log;
  const std::string line = log.substr(report, log.find('\n', report) - report);
  EXPECT_NE(line.find("Status: error\tError Type: Runtime.ExitError"), std::string::npos) << line;
  EXPECT_LT(log.find("RESTORE_START"), report) << log;
  emu.expect_no_survivors();
}

TEST(EmulateMain, SnapStartRuntimeThatNeverCallsRestoreNext) {
  EmulatorProcess emu("no_restore_next", with({"--snapstart"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto invoked = std::async(std::launch::async, [&] { return emu.invoke(R"({"after":"restore"})"); });
  ASSERT_TRUE(ready(next));
  auto event = next.get();
  EXPECT_EQ(event.body, R"({"after":"restore"})");
  // The log is written apart from the answers: the invocation's START may follow the event.
  ASSERT_TRUE(emu.wait_for_log("START RequestId"));
  const std::string log = emu.log();
  // No invocation before the snapshot: the restore bracket comes first.
  EXPECT_NE(log.find("RESTORE_REPORT"), std::string::npos) << log;
  EXPECT_LT(log.find("RESTORE_REPORT"), log.find("START RequestId"));
  EXPECT_EQ(emu.runtime_call("POST", response_path(event.header("lambda-runtime-aws-request-id")), "1").status, 202);
  ASSERT_TRUE(ready(invoked));
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, RestoreTimeoutIsSnapStartTimeoutException) {
  EmulatorProcess emu("restore_timeout",
                      with({"--snapstart", "--restore-timeout", "1", "--exit-on-failure"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto queued = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  auto restore = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kRestoreNext); });
  ASSERT_TRUE(ready(restore));
  // ... and never call invocation/next.
  EXPECT_EQ(emu.wait_exit(20s), 4);
  ASSERT_TRUE(ready(queued));
  // As Lambda's Invoke API: the service's error, which SDKs raise as SnapStartTimeoutException.
  const auto answer = queued.get();
  EXPECT_EQ(answer.status, 408);
  EXPECT_EQ(invoke_error_type(answer), "SnapStartTimeoutException") << answer.body;
  EXPECT_NE(answer.body.find("within the timeout limit"), std::string::npos) << answer.body;
  EXPECT_NE(emu.log().find("RESTORE_REPORT Restore Duration: "), std::string::npos);
  EXPECT_NE(emu.log().find("Status: timeout\tError Type: SnapStartTimeoutException"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

// A runtime that reports its restore's failure only after the restore timed out (its own wait ran
// longer than Lambda's limit) reaches an environment being torn down: refused, and the failure that
// ended it stays the only one. An extension that lingers over its SHUTDOWN holds the teardown open.
TEST(EmulateMain, ARestoreErrorAfterTheRestoreTimedOutIsRefused) {
  const std::string opt = test_dir("opt_restore_error_late");
  telemetry_extension(opt, "lingering-ext", "linger");
  EmulatorProcess emu("restore_error_late", with({"--opt", opt, "--snapstart", "--restore-timeout", "1",
                                                  "--exit-on-failure", "--shutdown-timeout", "3"},
                                                 kPlaceholderRuntime));
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  auto restore = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kRestoreNext); });
  ASSERT_TRUE(ready(restore));
  ASSERT_TRUE(emu.wait_for_log("lingering-ext: SHUTDOWN")) << emu.log();
  const auto late = emu.runtime_call("POST", kRestoreError, R"({"errorMessage":"too late","errorType":"HookError"})",
                                     {{"Lambda-Runtime-Function-Error-Type", "Runtime.AfterRestoreError"}});
  EXPECT_EQ(late.status, 403) << late.body;
  EXPECT_NE(late.body.find("after the environment ended"), std::string::npos) << late.body;
  EXPECT_EQ(emu.wait_exit(20s), 4);
  EXPECT_NE(emu.log().find("Error Type: SnapStartTimeoutException"), std::string::npos) << emu.log();
  EXPECT_EQ(emu.log().find("too late"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, RestoreErrorTearsTheEnvironmentDown) {
  EmulatorProcess emu("restore_error", with({"--snapstart", "--exit-on-failure"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto queued = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  auto restore = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kRestoreNext); });
  ASSERT_TRUE(ready(restore));
  auto r = emu.runtime_call("POST", kRestoreError, R"({"errorMessage":"hook failed","errorType":"HookError"})",
                            {{"Lambda-Runtime-Function-Error-Type", "Runtime.AfterRestoreError"}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(emu.wait_exit(20s), 4);
  // The invocation the restore was for gets Lambda's SnapStartException (400), naming what failed.
  ASSERT_TRUE(ready(queued));
  const auto answer = queued.get();
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(invoke_error_type(answer), "SnapStartException") << answer.body;
  EXPECT_NE(answer.body.find("Runtime.AfterRestoreError: hook failed"), std::string::npos) << answer.body;
  EXPECT_EQ(answer.header("x-amz-function-error"), "");
  EXPECT_NE(emu.log().find("Status: error\tError Type: Runtime.AfterRestoreError"), std::string::npos) << emu.log();
  EXPECT_NE(emu.log().find("hook failed"), std::string::npos);
  // The JSON report keeps the invocation, which never started, with what its caller got.
  const auto report = boost::json::parse(emu.report()).as_object();
  EXPECT_EQ(report.at("restore").at("errorType"), "Runtime.AfterRestoreError") << emu.report();
  const auto& invocations = report.at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 1U) << emu.report();
  EXPECT_EQ(invocations.at(0).at("requestId").as_string(), answer.header("x-amzn-requestid")) << emu.report();
  EXPECT_EQ(invocations.at(0).at("started"), false);
  EXPECT_EQ(invocations.at(0).at("errorType"), "SnapStartException");
  emu.expect_no_survivors();
}

class FrozenTree : public ::testing::TestWithParam<std::string> {};

TEST_P(FrozenTree, TickingChildMakesNoProgressWhileFrozenAndResumesAfter) {
  const std::string dir = test_dir("ticker_" + GetParam());
  const std::string ticks = dir + "/ticks";
  // While frozen: count the ticks, wait well past several tick periods, count again.
  const std::string probe =
      write_script(dir + "/probe.sh", "#!/bin/sh\nwc -l < " + ticks + " > " + dir + "/before\nsleep 0.3\nwc -l < " +
                                          ticks + " > " + dir + "/after\n");
  EmulatorProcess emu("frozen_" + GetParam(), {"--snapstart", "--freezer", GetParam(), "--while-frozen", probe, "--",
                                               kPython, testdata("fake_runtime.py"), "ticker", ticks});
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!emu.wait_for_log("RESTORE_REPORT", 10ms) && std::chrono::steady_clock::now() < deadline) {
    if (auto code = emu.wait_exit(0ms)) {
      if (GetParam() == "cgroup" && emu.diagnostics().find("--freezer cgroup") != std::string::npos) {
        GTEST_SKIP() << "no writable cgroup v2 here: " << emu.diagnostics();
      }
      FAIL() << "emulator exited with " << *code << ": " << emu.diagnostics();
    }
  }
  ASSERT_TRUE(emu.wait_for_log("RESTORE_REPORT", 1s)) << emu.diagnostics();
  std::ifstream b(dir + "/before");
  std::ifstream a(dir + "/after");
  long long frozen_start = -1;
  long long frozen_end = -2;
  b >> frozen_start;
  a >> frozen_end;
  EXPECT_GE(frozen_start, 3);
  EXPECT_EQ(frozen_start, frozen_end) << "the ticking child made progress while frozen";
  // Thawed: the child ticks again.
  const auto resume_deadline = std::chrono::steady_clock::now() + 10s;
  while (count_lines(ticks) <= frozen_end + 5 && std::chrono::steady_clock::now() < resume_deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(count_lines(ticks), frozen_end + 5);
  auto answer = emu.invoke(R"({"ping":1})");
  EXPECT_EQ(answer.status, 200) << answer.error << emu.diagnostics() << emu.log();
  EXPECT_EQ(emu.stop(), 0);
  EXPECT_NE(emu.report().find("\"freezer\":\"" + GetParam() + "\""), std::string::npos) << emu.report();
  emu.expect_no_survivors();
}

INSTANTIATE_TEST_SUITE_P(Backends, FrozenTree, ::testing::Values("signal", "cgroup"));

TEST(EmulateMain, InterruptedWhileFrozenLeavesNothingBehind) {
  const std::string dir = test_dir("interrupted");
  const std::string started = dir + "/started";
  EmulatorProcess emu("interrupted",
                      {"--snapstart", "--while-frozen", "touch " + started + "; exec /bin/sleep 600", "--", kPython,
                       testdata("fake_runtime.py"), "ticker", dir + "/ticks"},
                      false);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!std::filesystem::exists(started) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(std::filesystem::exists(started)) << emu.diagnostics();
  EXPECT_EQ(emu.stop(SIGINT), 0);
  emu.expect_no_survivors();
}

}  // namespace
}  // namespace snapbus::emulator::testing

namespace snapbus::emulator::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(EmulateMain, RuntimeStartsThroughExecWrapperWithLambdaEnvironment) {
  const std::string dir = test_dir("wrapper");
  const std::string task_root = dir + "/task";
  std::filesystem::create_directories(task_root);
  const std::string wrapper =
      write_script(dir + "/wrapper.sh", "#!/bin/sh\nenv > " + dir + "/env.txt\npwd > " + dir +
                                            "/cwd.txt\necho \"$@\" > " + dir + "/args.txt\nexec \"$@\"\n");
  {
    std::ofstream env_file(dir + "/function.env");
    env_file << "# settings as the console shows them\nAWS_LAMBDA_EXEC_WRAPPER=" << wrapper
             << "\nAWS_LAMBDA_FUNCTION_MEMORY_SIZE=256\nFROM_FILE=yes\n";
  }
  EmulatorProcess emu(
      "wrapper", {"--env-file", dir + "/function.env", "--env", "FROM_FLAG=1", "--task-root", task_root, "--handler",
                  "app.handler", "--function-name", "fn", "--region", "eu-west-1", "--", "/bin/sleep", "600"});
  ASSERT_TRUE(emu.started());
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (read_file(dir + "/args.txt").empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string env = read_file(dir + "/env.txt");
  for (const std::string& expected :
       {"AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(emu.runtime_api_port()),
        std::string("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"), "LAMBDA_TASK_ROOT=" + task_root,
        std::string("_HANDLER=app.handler"), std::string("AWS_LAMBDA_FUNCTION_NAME=fn"),
        std::string("AWS_LAMBDA_FUNCTION_VERSION=$LATEST"), std::string("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256"),
        std::string("AWS_REGION=eu-west-1"), std::string("AWS_DEFAULT_REGION=eu-west-1"),
        std::string("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn"), std::string("AWS_LAMBDA_LOG_STREAM_NAME="),
        std::string("FROM_FILE=yes"), std::string("FROM_FLAG=1"), std::string("TZ=:UTC")}) {
    EXPECT_NE(env.find(expected), std::string::npos) << expected << " missing from\n" << env;
  }
  EXPECT_EQ(read_file(dir + "/args.txt"), "/bin/sleep 600\n");
  EXPECT_EQ(read_file(dir + "/cwd.txt"), task_root + "\n");
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, NothingSurvivesTheEmulatorBeingKilled) {
  const std::string dir = test_dir("sigkill");
  const std::string opt = dir + "/opt";
  write_script(opt + "/extensions/sleepy", "#!/bin/sh\nexec /bin/sleep 600\n");
  EmulatorProcess emu(
      "sigkill", {"--snapstart", "--opt", opt, "--", kPython, testdata("fake_runtime.py"), "ticker", dir + "/ticks"});
  ASSERT_TRUE(emu.started());
  auto reg = emu.runtime_call("POST", kRegister, "{}", {{"Lambda-Extension-Name", "sleepy"}});
  ASSERT_EQ(reg.status, 200);
  auto parked = std::async(std::launch::async, [&] {
    return emu.runtime_call("GET", kEventNext, {},
                            {{"Lambda-Extension-Identifier", reg.header("lambda-extension-identifier")}});
  });
  // By now the runtime has forked its ticking child: SIGKILL of the emulator would orphan it.
  ASSERT_TRUE(emu.wait_for_log("RESTORE_REPORT")) << emu.diagnostics();
  EXPECT_EQ(emu.stop(SIGKILL), 128 + SIGKILL);
  EXPECT_TRUE(ready(parked));
  emu.expect_no_survivors(10s);
}

}  // namespace
}  // namespace snapbus::emulator::testing

namespace snapbus::emulator::testing {
namespace {

TEST(EmulateMain, FunctionTimeoutIsSandboxTimedout) {
  EmulatorProcess emu("timeout", with({"--timeout", "0.5", "--exit-on-failure"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started());
  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto answer = emu.invoke("{}");  // the "runtime" takes the event and never answers
  ASSERT_TRUE(ready(next));
  EXPECT_EQ(error_type(answer), "Sandbox.Timedout");
  // The invocation named, as Lambda's platform errors name it.
  const std::string id = answer.header("x-amzn-requestid");
  EXPECT_EQ(std::string(boost::json::parse(answer.body).at("errorMessage").as_string()),
            "RequestId: " + id + " Error: Task timed out after 0.50 seconds")
      << answer.body;
  EXPECT_EQ(emu.wait_exit(20s), 5);
  EXPECT_NE(emu.log().find("Task timed out after 0.50 seconds"), std::string::npos) << emu.log();
  // The REPORT of the environment's only invocation: it lasted its timeout, no more, and carries the
  // cold start (the environment ends with it).
  const std::string log = emu.log();
  const auto report = log.find("REPORT RequestId: ");
  ASSERT_NE(report, std::string::npos) << log;
  const std::string line = log.substr(report, log.find('\n', report) - report);
  EXPECT_NE(line.find("\tDuration: 500.00 ms\t"), std::string::npos) << line;
  EXPECT_NE(line.find("\tInit Duration: "), std::string::npos) << line;
  EXPECT_NE(line.find("\tStatus: timeout\tError Type: Sandbox.Timedout\t"), std::string::npos) << line;
  emu.expect_no_survivors();
}

}  // namespace
}  // namespace snapbus::emulator::testing

namespace snapbus::emulator::testing {
namespace {

TEST(EmulateMain, FrontDoorAnswersExpectContinue) {
  EmulatorProcess emu("expect", {"--", kPython, testdata("fake_runtime.py"), "echo"});
  ASSERT_TRUE(emu.started());
  RawConnection client(emu.front_door_port());
  const std::string body = R"({"big":")" + std::string(4000, 'x') + R"("})";
  client.send(
      "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  ASSERT_TRUE(client.read_until("HTTP/1.1 100 Continue\r\n\r\n", 10s)) << client.received();
  client.send(body);
  EXPECT_TRUE(client.read_until("xxx\"}, \"handler\"", 20s)) << client.received().substr(0, 300);
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

// The text of a file another process writes (by rename, so never half of it); empty after `timeout`.
std::string wait_for_file(const std::string& path, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(EmulateMain, Ipv6HostGivesTheRuntimeABracketedAddress) {
  const std::string dir = test_dir("ipv6_runtime");
  const std::string runtime =
      write_script(dir + "/bootstrap", "#!/bin/sh\necho \"$AWS_LAMBDA_RUNTIME_API\" > " + dir + "/api.tmp && mv " +
                                           dir + "/api.tmp " + dir + "/api\nexec " + kPython + " " +
                                           testdata("fake_runtime.py") + " echo\n");
  EmulatorProcess emu("ipv6", {"--host", "::1", "--", runtime});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  const std::string port = std::to_string(emu.runtime_api_port());
  EXPECT_EQ(wait_for_file(dir + "/api"), "[::1]:" + port + "\n");
  const auto ready = boost::json::parse(wait_for_file(emu.dir() + "/ready.json")).as_object();
  EXPECT_EQ(std::string(ready.at("runtimeApi").as_string()), "[::1]:" + port);
  EXPECT_EQ(std::string(ready.at("frontDoor").as_string()).rfind("[::1]:", 0), 0U);
  // The runtime reached the Runtime API at that address: Init ended.
  EXPECT_TRUE(emu.wait_for_diagnostic("Init done in ")) << emu.log() << emu.diagnostics();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, DroppedLongPollDoesNotLoseTheNextEvent) {
  EmulatorProcess emu("dropped_next", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  {
    RawConnection gave_up(emu.runtime_api_port());
    gave_up.send("GET " + kNext + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_FALSE(gave_up.read_until("HTTP/1.1", 200ms));  // a long poll: no answer yet
  }
  std::this_thread::sleep_for(200ms);  // the emulator sees the close
  auto invoked = std::async(std::launch::async, [&] { return emu.invoke(R"({"n":2})"); });
  auto retry = emu.runtime_call("GET", kNext);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.body, R"({"n":2})");
  const std::string id = retry.header("lambda-runtime-aws-request-id");
  EXPECT_EQ(emu.runtime_call("POST", response_path(id), R"("done")").status, 202);
  ASSERT_TRUE(ready(invoked));
  EXPECT_EQ(invoked.get().body, R"("done")");
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, FunctionUrlLimitsTheEventItBuilds) {
  EmulatorProcess emu("url_limit", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  // 5 MB of binary: within the body limit, but 6.7 MB once base64 in the event.
  const std::string binary(std::size_t{5} * 1024 * 1024, '\xff');
  auto answer =
      http_call(emu.front_door_port(), "POST", "/upload", binary, {{"Content-Type", "application/octet-stream"}}, 10s);
  EXPECT_EQ(answer.status, 413) << answer.error;
  EXPECT_EQ(error_type(answer), "RequestEntityTooLarge");
  EXPECT_NE(answer.body.find("Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
            std::string::npos)
      << answer.body;
  EXPECT_EQ(answer.header("x-amzn-requestid").size(), 36U);
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

const std::string kRieRequest = "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n";

TEST(EmulateMain, AbandonedRequestIsDroppedBeforeItRuns) {
  EmulatorProcess emu("abandoned", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  {
    RawConnection gone(emu.front_door_port());
    gone.send(kRieRequest + "Content-Length: 10\r\n\r\n{\"n\":\"go\"}");
    EXPECT_FALSE(gone.read_until("HTTP/1.1", 200ms));  // queued: the runtime has not asked yet
  }
  std::this_thread::sleep_for(200ms);  // the emulator sees the close
  auto kept = std::async(std::launch::async, [&] { return emu.invoke(R"({"n":"kept"})"); });
  std::this_thread::sleep_for(100ms);
  auto next = emu.runtime_call("GET", kNext);
  ASSERT_EQ(next.status, 200);
  EXPECT_EQ(next.body, R"({"n":"kept"})");
  EXPECT_EQ(emu.runtime_call("POST", response_path(next.header("lambda-runtime-aws-request-id")), "1").status, 202);
  ASSERT_TRUE(ready(kept));
  EXPECT_EQ(kept.get().body, "1");
  EXPECT_EQ(emu.stop(), 0);
  // The JSON report keeps the dropped one too, as never started.
  const auto invocations = boost::json::parse(emu.report()).at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 2U) << emu.report();
  EXPECT_EQ(invocations.at(0).at("started"), false);
  EXPECT_EQ(invocations.at(0).at("errorType"), "Client.Disconnected");
  EXPECT_EQ(invocations.at(1).at("started"), true);
  EXPECT_EQ(invocations.at(1).at("status"), "success");
  emu.expect_no_survivors();
}

// A stop while the runtime holds an event: no END or REPORT line for it, but the JSON report keeps
// it, as started, with what its caller got.
TEST(EmulateMain, TheJsonReportKeepsAnInvocationAStopCutOff) {
  EmulatorProcess emu("cut_off", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  auto invoked = std::async(std::launch::async, [&] { return emu.invoke("{}"); });
  auto next = emu.runtime_call("GET", kNext);
  ASSERT_EQ(next.status, 200);
  EXPECT_EQ(emu.stop(), 0);
  ASSERT_TRUE(ready(invoked));
  const auto invocations = boost::json::parse(emu.report()).at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 1U) << emu.report();
  EXPECT_EQ(invocations.at(0).at("requestId").as_string(), next.header("lambda-runtime-aws-request-id"));
  EXPECT_EQ(invocations.at(0).at("started"), true);
  EXPECT_EQ(invocations.at(0).at("status"), "error");
  EXPECT_EQ(invocations.at(0).at("errorType"), "Emulator.ShuttingDown");
  EXPECT_EQ(emu.log().find("REPORT RequestId"), std::string::npos) << emu.log();
  emu.expect_no_survivors();
}

TEST(EmulateMain, FullQueueIsThrottled) {
  EmulatorProcess emu("throttled", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (int i = 0; i < 100; ++i) {
    waiting.push_back(std::make_unique<RawConnection>(emu.front_door_port()));
    waiting.back()->send(kRieRequest + "Content-Length: 2\r\n\r\n{}");
  }
  std::this_thread::sleep_for(500ms);  // all 100 queued: the runtime never asks
  auto throttled =
      http_call(emu.front_door_port(), "POST", "/2015-03-31/functions/function/invocations", "{}", {}, 10s);
  EXPECT_EQ(throttled.status, 429) << throttled.error;
  EXPECT_EQ(invoke_error_type(throttled), "TooManyRequestsException");
  EXPECT_EQ(emu.stop(), 0);
  // The stop answered the queued ones: the report keeps each, as never started (the throttled one
  // was never an invocation).
  const auto invocations = boost::json::parse(emu.report()).at("invocations").as_array();
  EXPECT_EQ(invocations.size(), 100U);
  for (const auto& invocation : invocations) {
    EXPECT_EQ(invocation.at("started"), false);
    EXPECT_EQ(invocation.at("errorType"), "Emulator.ShuttingDown");
  }
  emu.expect_no_survivors();
}

TEST(EmulateMain, CrashedRuntimeIsReplacedForTheQueuedInvocation) {
  const std::string dir = test_dir("fresh_env_runtime");
  const std::string runtime =
      write_script(dir + "/bootstrap", "#!/bin/sh\necho \"$AWS_LAMBDA_RUNTIME_API\" >> " + dir + "/apis\necho $$ >> " +
                                           dir + "/pids\nexec /bin/sleep 600\n");
  EmulatorProcess emu("fresh_env", {"--", runtime});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  auto first = std::async(std::launch::async, [&] { return emu.invoke(R"({"n":1})"); });
  ASSERT_TRUE(ready(next));
  EXPECT_EQ(next.get().body, R"({"n":1})");
  auto second = std::async(std::launch::async, [&] { return emu.invoke(R"({"n":2})"); });
  std::this_thread::sleep_for(200ms);  // queued behind the first
  const std::string pids = wait_for_file(dir + "/pids");
  ASSERT_EQ(count_lines(dir + "/pids"), 1);
  ::kill(std::stoi(pids), SIGKILL);
  ASSERT_TRUE(ready(first));
  EXPECT_EQ(error_type(first.get()), "Runtime.ExitError");

  // A fresh environment (a new runtime process, a new Init) answers the queued invocation.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (count_lines(dir + "/pids") < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(count_lines(dir + "/pids"), 2) << emu.diagnostics();
  // The fresh runtime finds the Runtime API where the first did.
  std::ifstream api_lines(dir + "/apis");
  std::string api1;
  std::string api2;
  api_lines >> api1 >> api2;
  EXPECT_FALSE(api1.empty());
  EXPECT_EQ(api2, api1);
  // Launched while the emulator holds accepted connections (the queued caller's): none leaks in.
  std::ifstream pid_lines(dir + "/pids");
  std::string pid2;
  pid_lines >> pid2 >> pid2;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + pid2 + "/fd")) {
    std::error_code ec;
    EXPECT_EQ(std::filesystem::read_symlink(fd.path(), ec).string().rfind("socket:", 0), std::string::npos);
  }
  auto next2 = emu.runtime_call("GET", kNext);
  ASSERT_EQ(next2.status, 200) << next2.body << emu.diagnostics();
  EXPECT_EQ(next2.body, R"({"n":2})");
  const std::string id2 = next2.header("lambda-runtime-aws-request-id");
  EXPECT_EQ(emu.runtime_call("POST", response_path(id2), "2").status, 202);
  ASSERT_TRUE(ready(second));
  EXPECT_EQ(second.get().body, "2");
  // The log is written apart from the answer: its REPORT comes last, after the fresh INIT_START.
  ASSERT_TRUE(emu.wait_for_log("REPORT RequestId: " + id2)) << emu.log();
  EXPECT_EQ(count_of(emu.log(), "INIT_START"), 2U) << emu.log();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, SnapStartFreshEnvironmentIsInitFreezeAndRestore) {
  EmulatorProcess emu("fresh_snapstart", {"--snapstart", "--", kPython, testdata("fake_runtime.py"), "crash-invoke"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  EXPECT_EQ(error_type(emu.invoke("{}")), "Runtime.ExitError");
  const auto second = emu.invoke("{}");
  EXPECT_EQ(error_type(second), "Runtime.ExitError");
  // The log is written apart from the answer: the second invocation's REPORT comes last.
  const std::string second_id = second.header("x-amzn-requestid");
  ASSERT_FALSE(second_id.empty()) << second.body;
  ASSERT_TRUE(emu.wait_for_log("REPORT RequestId: " + second_id)) << emu.log();
  const std::string log = emu.log();
  EXPECT_EQ(count_of(log, "INIT_START"), 2U) << log;
  EXPECT_EQ(count_of(log, "RESTORE_REPORT"), 2U) << log;
  EXPECT_EQ(count_of(log, "START RequestId"), 2U) << log;
  EXPECT_EQ(emu.stop(), 0);
  // Each environment's Init and restore, and which one ran each invocation.
  const auto report = boost::json::parse(emu.report()).as_object();
  const auto& environments = report.at("environments").as_array();
  ASSERT_EQ(environments.size(), 2U) << emu.report();
  for (const auto& environment : environments) {
    EXPECT_EQ(environment.at("init").at("status"), "success") << emu.report();
    EXPECT_EQ(environment.at("restore").at("status"), "success") << emu.report();
  }
  const auto& invocations = report.at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 2U) << emu.report();
  EXPECT_EQ(invocations.at(0).at("environment"), 0);
  EXPECT_EQ(invocations.at(1).at("environment"), 1);
  emu.expect_no_survivors();
}

TEST(EmulateMain, FailedInitIsRetriedByTheNextInvocation) {
  EmulatorProcess emu("fresh_init", {"--", kPython, testdata("fake_runtime.py"), "crash-init"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_TRUE(emu.wait_for_log("Error Type: Runtime.ExitError")) << emu.log();
  EXPECT_FALSE(emu.wait_exit(300ms));  // no exit: the next invocation gets a fresh environment
  auto answer = emu.invoke("{}");
  EXPECT_EQ(answer.status, 200) << answer.error;
  EXPECT_EQ(error_type(answer), "Runtime.ExitError");
  // The log is written apart from the answer: the fresh Init's INIT_REPORT follows its INIT_START.
  ASSERT_TRUE(emu.wait_for_log("Phase: invoke\tStatus: error\tError Type: Runtime.ExitError")) << emu.log();
  EXPECT_EQ(count_of(emu.log(), "INIT_START"), 2U) << emu.log();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, TheJsonLogFormatIsSaidToStayText) {
  EmulatorProcess emu("json_log_format", with({"--env", "AWS_LAMBDA_LOG_FORMAT=json"}, kPlaceholderRuntime));
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  EXPECT_TRUE(emu.wait_for_diagnostic("AWS_LAMBDA_LOG_FORMAT=JSON reaches the function")) << emu.diagnostics();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

// Lambda's "suppressed init": an on-demand Init past the Init limit runs again for the first
// invocation, within the function's timeout, and the function serves.
TEST(EmulateMain, AnInitPastTheLimitRunsAgainWithinTheFunctionTimeout) {
  EmulatorProcess emu("slow_init", {"--init-timeout", "1", "--timeout", "10", "--", kPython,
                                    testdata("fake_runtime.py"), "slow-init", "2"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_TRUE(emu.wait_for_log("Phase: init\tStatus: timeout\tError Type: Sandbox.Timedout")) << emu.log();
  auto answer = emu.invoke(R"({"k":1})");
  ASSERT_EQ(answer.status, 200) << answer.error;
  EXPECT_EQ(answer.header("x-amz-function-error"), "") << answer.body;
  EXPECT_EQ(boost::json::parse(answer.body).at("echo").at("k"), 1);
  // The log is written apart from the answer: its REPORT comes last.
  ASSERT_TRUE(emu.wait_for_log("\tInit Duration: ")) << emu.log();
  EXPECT_EQ(count_of(emu.log(), "INIT_START"), 2U) << emu.log();
  // The second Init succeeded: no INIT_REPORT for it, its duration is in the REPORT.
  EXPECT_EQ(count_of(emu.log(), "INIT_REPORT"), 1U) << emu.log();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

// The Init run again for an invocation fails on the function's timeout, and says where it ran.
TEST(EmulateMain, AnInitForAnInvocationTimesOutOnTheFunctionTimeout) {
  EmulatorProcess emu("slower_init", {"--init-timeout", "0.5", "--timeout", "1", "--", kPython,
                                      testdata("fake_runtime.py"), "slow-init", "30"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_TRUE(emu.wait_for_log("Phase: init\tStatus: timeout")) << emu.log();
  auto answer = emu.invoke("{}");
  ASSERT_EQ(answer.status, 200) << answer.error;
  EXPECT_EQ(error_type(answer), "Sandbox.Timedout");
  // The log is written apart from the answer. As Lambda's: the Init's INIT_REPORT (Phase: invoke)
  // and error, then the invocation's START, END and a REPORT that bills the timeout.
  EXPECT_TRUE(emu.wait_for_log("Phase: invoke\tStatus: timeout\tError Type: Sandbox.Timedout")) << emu.log();
  EXPECT_TRUE(emu.wait_for_log("Init did not complete within 1.00 seconds")) << emu.log();
  const std::string id = answer.header("x-amzn-requestid");
  ASSERT_FALSE(id.empty());
  const std::string report_line = "REPORT RequestId: " + id + "\tDuration: 1000.00 ms\tBilled Duration: 1000 ms\t";
  ASSERT_TRUE(emu.wait_for_log(report_line)) << emu.log();
  const std::string log = emu.log();
  const auto init_report = log.find("Phase: invoke");
  const auto start = log.find("START RequestId: " + id);
  const auto end = log.find("END RequestId: " + id);
  const auto report = log.find(report_line);
  EXPECT_LT(init_report, start) << log;
  EXPECT_LT(start, end) << log;
  EXPECT_LT(end, report) << log;
  EXPECT_NE(log.find("Status: timeout\tError Type: Sandbox.Timedout\t", report), std::string::npos) << log;
  EXPECT_EQ(count_of(log, "START RequestId"), 1U) << log;
  EXPECT_EQ(emu.stop(), 0);
  // The JSON report has it as started, with the Init's outcome.
  const auto invocations = boost::json::parse(emu.report()).at("invocations").as_array();
  ASSERT_EQ(invocations.size(), 1U) << emu.report();
  EXPECT_EQ(invocations.at(0).at("requestId").as_string(), id);
  EXPECT_EQ(invocations.at(0).at("started"), true);
  EXPECT_EQ(invocations.at(0).at("status"), "timeout");
  EXPECT_EQ(invocations.at(0).at("errorType"), "Sandbox.Timedout");
  emu.expect_no_survivors();
}

// Between a failed environment's stop and the invocation that starts a fresh one, no runtime runs:
// a Runtime API call then (from outside the function) is refused, and takes no part in an Init
// that has not begun (it made one up, with the machine's uptime as its duration).
TEST(EmulateMain, ARuntimeApiCallBetweenEnvironmentsIsRefused) {
  EmulatorProcess emu("between_environments", kPlaceholderRuntime);
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  auto first = emu.runtime_call("POST", kInitError, R"({"errorMessage":"one","errorType":"Runtime.A"})",
                                {{"Lambda-Runtime-Function-Error-Type", "Runtime.A"}});
  EXPECT_EQ(first.status, 202);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (emu.diagnostics().find("the failed environment stopped") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(emu.diagnostics().find("the failed environment stopped"), std::string::npos) << emu.diagnostics();
  auto second = emu.runtime_call("POST", kInitError, R"({"errorMessage":"two","errorType":"Runtime.B"})",
                                 {{"Lambda-Runtime-Function-Error-Type", "Runtime.B"}});
  EXPECT_EQ(second.status, 403);
  EXPECT_EQ(error_type(second), "InvalidStateTransition") << second.body;
  EXPECT_EQ(count_of(emu.log(), "INIT_REPORT"), 1U) << emu.log();
  EXPECT_EQ(count_of(emu.log(), "Runtime.B"), 0U) << emu.log();
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, InitErrorBodyReachesTheCallerAsPosted) {
  EmulatorProcess emu("init_error_body", {"--", kPython, testdata("fake_runtime.py"), "init-error"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_TRUE(emu.wait_for_log("Error Type: Runtime.ImportModuleError")) << emu.log();
  // The invocation starts a fresh environment, whose Init fails the same way: the caller gets the
  // runtime's own body, stackTrace included, not one rebuilt from its type and message.
  auto answer = emu.invoke("{}");
  EXPECT_EQ(answer.status, 200) << answer.error;
  EXPECT_EQ(answer.header("x-amz-function-error"), "Unhandled");
  const auto body = boost::json::parse(answer.body).as_object();
  EXPECT_EQ(body.at("errorType"), "Runtime.ImportModuleError");
  EXPECT_EQ(body.at("errorMessage"), "Unable to import module 'app': No module named 'missing'");
  ASSERT_TRUE(body.contains("stackTrace")) << answer.body;
  EXPECT_EQ(body.at("stackTrace").as_array().size(), 1U);
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

TEST(EmulateMain, StopWhileAFailedEnvironmentShutsDownEndsTheEmulator) {
  // An extension that never finishes its SHUTDOWN work holds the failed environment's shutdown for
  // its 2 s: the stop arrives in that window, and no fresh environment may follow it.
  const std::string opt = test_dir("opt_stop_while_failing");
  telemetry_extension(opt, "lingering-ext", "linger");
  EmulatorProcess emu("stop_while_failing",
                      {"--opt", opt, "--", kPython, testdata("fake_runtime.py"), "init-error-linger"});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  ASSERT_TRUE(emu.wait_for_log("Error Type: Runtime.ImportModuleError")) << emu.log();
  EXPECT_EQ(emu.stop(SIGTERM, 10s), 0) << emu.diagnostics();
  EXPECT_NE(emu.diagnostics().find("no fresh environment to follow"), std::string::npos) << emu.diagnostics();
  EXPECT_EQ(emu.diagnostics().find("starting a fresh environment"), std::string::npos) << emu.diagnostics();
  emu.expect_no_survivors();
}

TEST(EmulateMain, FunctionInheritsNoSocketOfTheEmulator) {
  const std::string dir = test_dir("no_leaked_fds_runtime");
  const std::string runtime =
      write_script(dir + "/bootstrap", "#!/bin/sh\nls -l /proc/$$/fd > " + dir + "/fds.tmp && mv " + dir + "/fds.tmp " +
                                           dir + "/fds\nexec /bin/sleep 600\n");
  EmulatorProcess emu("no_leaked_fds", {"--", runtime});
  ASSERT_TRUE(emu.started()) << emu.diagnostics();
  const std::string fds = wait_for_file(dir + "/fds");
  EXPECT_NE(fds.find(" 0 -> "), std::string::npos) << fds;
  EXPECT_EQ(fds.find("socket:"), std::string::npos) << fds;
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

}  // namespace
}  // namespace snapbus::emulator::testing

namespace snapbus::emulator::testing {
namespace {

// An invocation the runtime has taken: the caller's answer to come, and the event's request id
// (empty when no event came within ready()'s timeout).
struct TakenInvocation {
  std::future<HttpResult> answer;
  std::string request_id;
};

TakenInvocation invoke_and_take_event(EmulatorProcess& emu) {
  auto next = std::async(std::launch::async, [&] { return emu.runtime_call("GET", kNext); });
  TakenInvocation taken{std::async(std::launch::async, [&] { return emu.invoke("{}"); }), {}};
  if (ready(next)) taken.request_id = next.get().header("lambda-runtime-aws-request-id");
  return taken;
}

// One invocation answered with `result` through the Runtime API: the caller gets it whole.
void answer_one_invocation(EmulatorProcess& emu, const std::string& result) {
  auto invoked = invoke_and_take_event(emu);
  ASSERT_FALSE(invoked.request_id.empty());
  EXPECT_EQ(emu.runtime_call("POST", response_path(invoked.request_id), result).status, 202);
  ASSERT_TRUE(ready(invoked.answer));
  const std::string answered = invoked.answer.get().body;
  EXPECT_EQ(answered.size(), result.size());
  EXPECT_TRUE(answered == result);  // not EXPECT_EQ, which would print megabytes
}

// Uploads of tens of megabytes: under a sanitizer, beside other tests, they can take longer than
// Lambda's default 3 s timeout, which would end the invocation as Sandbox.Timedout instead.
const std::vector<std::string> kSlowUploadRuntime = with({"--timeout", "60"}, kPlaceholderRuntime);

TEST(EmulateMain, BufferedResponsesUpToSixMegabytes) {
  EmulatorProcess emu("big_response", kSlowUploadRuntime);
  ASSERT_TRUE(emu.started());
  answer_one_invocation(emu, "\"" + std::string(std::size_t{2} * 1024 * 1024, 'a') + "\"");

  auto over_limit = invoke_and_take_event(emu);
  ASSERT_FALSE(over_limit.request_id.empty());
  const std::string seven_mb(std::size_t{7} * 1024 * 1024, 'b');
  EXPECT_EQ(emu.runtime_call("POST", response_path(over_limit.request_id), seven_mb).status, 413);
  ASSERT_TRUE(ready(over_limit.answer));
  EXPECT_EQ(error_type(over_limit.answer.get()), "Function.ResponseSizeTooLarge");

  // A runtime still uploading long after the limit gets Lambda's answer, not a broken pipe, and goes on.
  auto uploading = invoke_and_take_event(emu);
  ASSERT_FALSE(uploading.request_id.empty());
  const std::string forty_mb(std::size_t{40} * 1024 * 1024, 'c');
  auto refused = emu.runtime_call("POST", response_path(uploading.request_id), forty_mb);
  EXPECT_EQ(refused.status, 413) << refused.error;
  EXPECT_EQ(error_type(refused), "Function.ResponseSizeTooLarge");
  ASSERT_TRUE(ready(uploading.answer));
  EXPECT_EQ(error_type(uploading.answer.get()), "Function.ResponseSizeTooLarge");
  answer_one_invocation(emu, "4");
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

// Lambda's limit is 6 MiB and 100 bytes, for an error as for a response. Past it the invocation
// fails and the runtime goes on: its next invocation/next is served, not refused as a second one.
TEST(EmulateMain, AnErrorIsTakenAsLargeAsAResponseAndPastThatTheInvocationStillEnds) {
  EmulatorProcess emu("big_error", kSlowUploadRuntime);
  ASSERT_TRUE(emu.started());
  const auto error_of_size = [](std::size_t size) {
    const std::string frame = R"({"errorType":"ValueError","errorMessage":"")";
    std::string body = frame.substr(0, frame.size() - 1) + std::string(size - frame.size() - 1, 'e') + "\"}";
    return body;
  };
  auto invoked = invoke_and_take_event(emu);
  ASSERT_FALSE(invoked.request_id.empty());
  const std::string at_the_limit = error_of_size(std::size_t{6} * 1024 * 1024 + 100);
  EXPECT_EQ(emu.runtime_call("POST", error_path(invoked.request_id), at_the_limit).status, 202);
  ASSERT_TRUE(ready(invoked.answer));
  auto failed = invoked.answer.get();
  EXPECT_EQ(error_type(failed), "ValueError");
  EXPECT_EQ(failed.body.size(), at_the_limit.size());

  auto invoked2 = invoke_and_take_event(emu);
  ASSERT_FALSE(invoked2.request_id.empty());
  auto refused =
      emu.runtime_call("POST", error_path(invoked2.request_id), error_of_size(std::size_t{6} * 1024 * 1024 + 101));
  EXPECT_EQ(refused.status, 413);
  EXPECT_NE(refused.body.find("(6291556 bytes)"), std::string::npos) << refused.body;
  ASSERT_TRUE(ready(invoked2.answer));
  EXPECT_EQ(error_type(invoked2.answer.get()), "Function.ResponseSizeTooLarge");

  answer_one_invocation(emu, "3");
  EXPECT_EQ(emu.stop(), 0);
  emu.expect_no_survivors();
}

}  // namespace
}  // namespace snapbus::emulator::testing
