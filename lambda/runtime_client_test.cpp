// End to end: RuntimeClient as the runtime of a function under the real `snapbus emulate`, driven through
// the emulator's front door. The runtime (testing/client_runtime.cpp) records what each call returned.
#include "snapbus/runtime_client.h"

#include <fstream>

#include <gtest/gtest.h>
#include <kj/encoding.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "testing/local_lambda.h"
#include "testing/scratch_directory.h"

namespace snapbus::lambda {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;
using testing::executable_from_environment;
using testing::invoke;
using testing::LocalLambda;
using testing::read_lines;
using testing::wait_for_line;

// A scratch directory the runtime records into, and the emulator arguments that run it in `mode`.
class RuntimeScenario {
 public:
  [[nodiscard]] std::vector<std::string> args(const std::string& mode, std::vector<std::string> flags = {}) const {
    flags.insert(flags.end(), {"--env", "SNAPBUS_CLIENT_TEST_DIR=" + dir_.path().string(), "--",
                               executable_from_environment("SNAPBUS_CLIENT_RUNTIME"), mode});
    return flags;
  }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_.path(); }
  [[nodiscard]] std::filesystem::path records() const { return dir_.path() / "runtime.txt"; }
  [[nodiscard]] std::vector<std::string> lines() const { return read_lines(records()); }

 private:
  snapbus::testing::ScratchDirectory dir_;
};

std::string decode_base64(std::string_view text) {
  auto decoded = kj::decodeBase64(kj::arrayPtr(text.data(), text.size()));
  return std::string(reinterpret_cast<const char*>(decoded.begin()), decoded.size());
}

boost::json::value json_of(const std::string& text) {
  boost::system::error_code error;
  auto value = boost::json::parse(text, error);
  return error ? boost::json::value() : value;
}

TEST(RuntimeClient, NextAndBufferedResponse) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("echo", {"--function-name", "echoer"}));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  for (const std::string payload : {R"({"k":1})", R"({"k":2})"}) {
    auto answer = invoke(emu.front_door_port(), payload);
    ASSERT_TRUE(answer) << answer.error().message;
    EXPECT_EQ(answer->result_int(), 200U);
    EXPECT_EQ(answer->body(), payload);
  }
  // The caller has its answer as soon as the 202 leaves the emulator: the runtime records it a moment later.
  EXPECT_TRUE(testing::wait_for_line_count(scenario.records(), 4));
  EXPECT_EQ(emu.stop(), 0);
  const auto lines = scenario.lines();
  ASSERT_EQ(lines.size(), 4U) << emu.diagnostics();
  EXPECT_NE(lines[0].find(R"( {"k":1} remaining=positive arn=arn:aws:lambda:us-east-1:)"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find(":function:echoer trace=present"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "post_response: ok");
  EXPECT_EQ(lines[3], "post_response: ok");
}

// A Runtime API that answers one call with `answer`, written as it is.
boost::asio::awaitable<void> answer_once(boost::asio::ip::tcp::acceptor& acceptor, std::string answer) {
  auto socket = co_await acceptor.async_accept(boost::asio::use_awaitable);
  boost::beast::flat_buffer buffer;
  http::request<http::empty_body> request;
  co_await http::async_read(socket, buffer, request, boost::asio::use_awaitable);
  co_await boost::asio::async_write(socket, boost::asio::buffer(answer), boost::asio::use_awaitable);
}

// Field names are case-insensitive (RFC 9110), and a name the API sent twice gives its first value.
TEST(RuntimeClient, NextReadsFieldsInAnyCaseAndTheFirstOfANameSentTwice) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string answer =
      "HTTP/1.1 200 OK\r\n"
      "lambda-runtime-aws-request-id: first-id\r\n"
      "LAMBDA-RUNTIME-DEADLINE-MS: 1700000000123\r\n"
      "Lambda-Runtime-Aws-Request-Id: second-id\r\n"
      "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n"
      "Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n"
      "Lambda-Runtime-Aws-Tenant-Id: tenant-7\r\n"
      "Lambda-Runtime-Aws-Tenant-Id: tenant-8\r\n"
      "Content-Length: 7\r\n"
      "\r\n"
      R"({"k":1})";
  boost::asio::co_spawn(io, answer_once(acceptor, answer), boost::asio::detached);
  RuntimeClient client(io.get_executor(), {"127.0.0.1", std::to_string(acceptor.local_endpoint().port())});
  auto invocation = testing::run_until_done(io, client.next(), 10s);
  ASSERT_TRUE(invocation) << invocation.error().message;
  EXPECT_EQ(invocation->request_id, "first-id");
  EXPECT_EQ(invocation->deadline_ms, 1700000000123);
  EXPECT_EQ(invocation->function_arn, "arn:aws:lambda:us-east-1:123456789012:function:f");
  EXPECT_EQ(invocation->trace_id, "Root=1-5759e988-bd862e3fe1be46a994272793");
  EXPECT_EQ(invocation->tenant_id, "tenant-7");
  EXPECT_EQ(invocation->client_context, "");
  EXPECT_EQ(invocation->cognito_identity, "");
  EXPECT_EQ(invocation->payload, R"({"k":1})");
}

TEST(RuntimeClient, StreamedResponseChunksArriveSeparately) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("stream"));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  boost::asio::io_context io;
  net::HttpClient client(io.get_executor(), {"127.0.0.1", std::to_string(emu.front_door_port())}, {.io_timeout = 10s});
  auto stream = testing::run_until_done(io, client.open(net::Request{http::verb::get, "/stream", 11}));
  ASSERT_TRUE(stream) << stream.error().message;
  EXPECT_EQ(stream->status(), 201U);  // from the prelude
  EXPECT_EQ(stream->header()["x-streamed"], "yes");
  std::string received;
  while (received.find("first;") == std::string::npos) {
    auto piece = testing::run_until_done(io, stream->read_piece());
    ASSERT_TRUE(piece && !piece->empty()) << "the first piece never came: " << received;
    received += *piece;
  }
  EXPECT_EQ(received, "first;");  // the runtime holds the second piece until the gate opens
  std::ofstream(scenario.dir() / "go").put('\n');
  auto rest = testing::run_until_done(io, std::move(*stream).read_all());
  ASSERT_TRUE(rest) << rest.error().message;
  EXPECT_EQ(rest->body(), "second;");
  ASSERT_TRUE(wait_for_line(scenario.records(), "finish: "));
  EXPECT_EQ(emu.stop(), 0);
  const auto lines = scenario.lines();
  EXPECT_EQ(lines, (std::vector<std::string>{lines.at(0), "begin_streaming: ok", "write first: ok", "gate: open",
                                             "write second: ok", "finish: ok"}));
}

TEST(RuntimeClient, StreamedResponseEndsWithErrorTrailers) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("stream-error"));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  auto answer = invoke(emu.front_door_port(), "{}");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->body(), "partial;");
  EXPECT_EQ((*answer)["Lambda-Runtime-Function-Error-Type"], "StreamBroke");
  // The emulator decoded the client's base64 trailer and encodes it again for the caller.
  const auto error = json_of(decode_base64((*answer)["Lambda-Runtime-Function-Error-Body"]));
  ASSERT_TRUE(error.is_object()) << (*answer)["Lambda-Runtime-Function-Error-Body"];
  EXPECT_EQ(error.at("errorType"), "StreamBroke");
  EXPECT_EQ(error.at("errorMessage"), "broke\r\nmid-stream");
  ASSERT_TRUE(wait_for_line(scenario.records(), "fail: "));
  EXPECT_EQ(emu.stop(), 0);
  EXPECT_EQ(scenario.lines().back(), "fail: ok");
  EXPECT_EQ(json_of(emu.report()).at("invocations").at(0).at("errorType"), "StreamBroke") << emu.report();
}

TEST(RuntimeClient, PostError) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("error"));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  auto answer = invoke(emu.front_door_port(), "{}");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ((*answer)["X-Amz-Function-Error"], "Unhandled");
  const auto error = json_of(answer->body());
  ASSERT_TRUE(error.is_object()) << answer->body();
  EXPECT_EQ(error.at("errorType"), "HandlerError");
  EXPECT_EQ(error.at("errorMessage"), "it failed");
  EXPECT_EQ(error.at("stackTrace"), (boost::json::array{"at handler"}));
  ASSERT_TRUE(wait_for_line(scenario.records(), "post_error: "));
  EXPECT_EQ(emu.stop(), 0);
  EXPECT_EQ(scenario.lines().back(), "post_error: ok");
}

TEST(RuntimeClient, InitErrorEndsTheEnvironment) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("init-error", {"--exit-on-failure"}));
  EXPECT_EQ(emu.wait_exit(20s), 3) << emu.diagnostics();
  EXPECT_NE(emu.log().find("Error Type: Runtime.BeforeSnapshotError"), std::string::npos) << emu.log();
  // The emulator may end the runtime before it records the 202 it got.
  const auto lines = scenario.lines();
  EXPECT_TRUE(lines.empty() || lines == std::vector<std::string>{"init_error: ok"}) << lines.front();
}

TEST(RuntimeClient, RestoreNextUnderSnapStart) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("snapstart", {"--snapstart"}));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  auto answer = invoke(emu.front_door_port(), R"({"after":"restore"})");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->body(), R"({"after":"restore"})");
  EXPECT_TRUE(testing::wait_for_line_count(scenario.records(), 4));
  EXPECT_EQ(emu.stop(), 0);
  const auto lines = scenario.lines();
  ASSERT_GE(lines.size(), 4U) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0], "restore_next: ok");
  EXPECT_EQ(lines[1], "sockets kept by restore_next: 0");
  EXPECT_EQ(lines[3], "post_response: ok");
  const std::string log = emu.log();
  EXPECT_NE(log.find("RESTORE_REPORT"), std::string::npos) << log;
  EXPECT_LT(log.find("RESTORE_REPORT"), log.find("START RequestId"));
}

TEST(RuntimeClient, RestoreErrorEndsTheEnvironment) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("restore-error", {"--snapstart", "--exit-on-failure"}));
  EXPECT_EQ(emu.wait_exit(30s), 4) << emu.diagnostics();
  // The emulator may end the runtime before it records the 202 it got for restore_error.
  auto lines = scenario.lines();
  if (lines.size() == 1) lines.emplace_back("restore_error: ok");
  EXPECT_EQ(lines, (std::vector<std::string>{"restore_next: ok", "restore_error: ok"}));
  EXPECT_NE(emu.log().find("Status: error\tError Type: Runtime.AfterRestoreError"), std::string::npos) << emu.log();
  EXPECT_NE(emu.log().find("hook 'reconnect' failed"), std::string::npos) << emu.log();
}

TEST(RuntimeClient, RefusedCallsAreErrorValues) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("wrong-calls"));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  auto answer = invoke(emu.front_door_port(), R"({"still":"works"})");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->body(), R"({"still":"works"})");
  EXPECT_EQ(emu.stop(), 0);
  const auto lines = scenario.lines();
  ASSERT_GE(lines.size(), 4U);
  // Without --snapstart there is no restore phase: as the RIE, the Runtime API has no such path.
  EXPECT_EQ(lines[0], "restore_next: not_found 404 UnknownPath");
  EXPECT_EQ(lines[1], "post_response unknown id: invalid_request 400 InvalidRequestID");
  // Ids that would change the path never leave the client.
  EXPECT_EQ(lines[2], "post_response bad id: invalid_argument 0 ");
  EXPECT_EQ(lines[3], "post_error bad id: invalid_argument 0 ");
}

TEST(RuntimeClient, ResponseOverTheLimitIs413) {
  RuntimeScenario scenario;
  LocalLambda emu(scenario.dir(), scenario.args("too-large"));
  ASSERT_TRUE(emu.ready()) << emu.diagnostics();
  auto failed = invoke(emu.front_door_port(), "{}");
  ASSERT_TRUE(failed) << failed.error().message;
  EXPECT_EQ((*failed)["X-Amz-Function-Error"], "Unhandled");
  EXPECT_EQ(json_of(failed->body()).at("errorType"), "Function.ResponseSizeTooLarge") << failed->body();
  auto next = invoke(emu.front_door_port(), R"({"n":2})");
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->body(), R"({"n":2})");
  EXPECT_EQ(emu.stop(), 0);
  const auto lines = scenario.lines();
  ASSERT_GE(lines.size(), 2U);
  EXPECT_EQ(lines[1], "post_response 7 MB: payload_too_large 413 Function.ResponseSizeTooLarge");
}

TEST(RuntimeClient, ConnectionRefusedIsATransportError) {
  boost::asio::io_context io;
  std::uint16_t port = 0;
  {
    boost::asio::ip::tcp::acceptor closed(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = closed.local_endpoint().port();
  }
  RuntimeClient runtime(io.get_executor(), {"127.0.0.1", std::to_string(port)});
  auto event = testing::run_until_done(io, runtime.next());
  ASSERT_FALSE(event);
  EXPECT_EQ(event.error().code, CallErrc::transport);
  EXPECT_EQ(event.error().transport_error, boost::asio::error::connection_refused);
  EXPECT_EQ(event.error().message.rfind("GET /2018-06-01/runtime/invocation/next: connect to 127.0.0.1:", 0), 0U)
      << event.error().message;
}

TEST(RuntimeClient, RuntimeApiFromTheEnvironment) {
  ::setenv("AWS_LAMBDA_RUNTIME_API", "[::1]:9001", 1);
  auto api = runtime_api_from_environment();
  ASSERT_TRUE(api) << api.error().message;
  EXPECT_EQ(api->host, "::1");
  ::setenv("AWS_LAMBDA_RUNTIME_API", "nonsense", 1);
  EXPECT_EQ(runtime_api_from_environment().error().code, CallErrc::invalid_argument);
  ::unsetenv("AWS_LAMBDA_RUNTIME_API");
  EXPECT_EQ(runtime_api_from_environment().error().message, "AWS_LAMBDA_RUNTIME_API is not set");
}

}  // namespace
}  // namespace snapbus::lambda
