#include "app_forwarder.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "snapbus/base64.h"
#include "snapbus/file_contents.h"
#include "snapbus/http_server.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/streaming_response.h"
#include "snapbus/unique_fd.h"
#include "testing/loopback_socket.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using net::HttpExchange;

// Every wait in these tests is bounded by this: a broken forwarder fails instead of hanging. Room
// for ThreadSanitizer, under which moving the 8 MB bodies takes several seconds.
constexpr auto kLimit = 40s;
constexpr std::string_view kRequestId = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

std::filesystem::path vectors_dir() { return SNAPBUS_EVENT_VECTORS; }
std::string vector(const std::string& name) { return read_file_contents(vectors_dir() / name); }

lambda::InvocationRequest invocation(std::string payload) {
  lambda::InvocationRequest event;
  event.payload = std::move(payload);
  event.request_id = std::string(kRequestId);
  event.deadline_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>((std::chrono::system_clock::now() + 60s).time_since_epoch())
          .count();
  event.function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders";
  event.trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1";
  return event;
}

// What the app saw of one request.
struct AppRequest {
  std::string method;
  std::string target;
  lambda::HeaderList headers;
  std::string body;

  [[nodiscard]] std::string header(std::string_view name) const {
    const std::string* value = lambda::find_header(headers, name);
    return value == nullptr ? std::string() : *value;
  }
  [[nodiscard]] bool has(std::string_view name) const { return lambda::find_header(headers, name) != nullptr; }
  [[nodiscard]] long count(std::string_view name) const {
    return std::count_if(headers.begin(), headers.end(),
                         [&](const auto& header) { return beast::iequals(header.first, name); });
  }
};

lambda::HeaderList header_list(const http::fields& fields) {
  lambda::HeaderList list;
  for (const auto& field : fields) list.emplace_back(field.name_string(), field.value());
  return list;
}

// What the forwarder sent the Runtime API for one invocation.
struct RuntimePost {
  std::string target;
  lambda::HeaderList headers;
  std::vector<std::string> pieces;  // the body as it arrived
  net::Trailers trailers;
  bool complete = false;

  [[nodiscard]] std::string body() const {
    std::string all;
    for (const std::string& piece : pieces) all += piece;
    return all;
  }
  [[nodiscard]] std::string header(std::string_view name) const {
    const std::string* value = lambda::find_header(headers, name);
    return value == nullptr ? std::string() : *value;
  }
  [[nodiscard]] bool is_error() const { return target.ends_with("/error"); }
  [[nodiscard]] json::object result() const { return json::parse(body()).as_object(); }
  [[nodiscard]] std::optional<lambda::StreamedError> stream_error() const { return lambda::streamed_error(trailers); }
  [[nodiscard]] std::string error_type() const { return header(lambda::kHeaderFunctionErrorType); }
  [[nodiscard]] std::string error_message() const {
    return std::string(json::parse(body()).as_object().at("errorMessage").as_string());
  }
};

// The app (a Beast server whose behaviour each test sets) and a Runtime API that records every
// post, on one io_context on a thread of their own.
class Servers {
 public:
  using AppBehaviour = std::function<asio::awaitable<void>(HttpExchange&, const AppRequest&)>;

  Servers() {
    app_ = net::http_listen(io_, "127.0.0.1", 0, [this](HttpExchange& ex) { return serve_app(ex); });
    runtime_ = net::http_listen(io_, "127.0.0.1", 0, [this](HttpExchange& ex) { return serve_runtime(ex); });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Servers() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  Servers(const Servers&) = delete;
  Servers& operator=(const Servers&) = delete;

  [[nodiscard]] std::uint16_t app_port() const { return app_.port(); }
  [[nodiscard]] net::HostPort runtime_api() const { return {"127.0.0.1", std::to_string(runtime_.port())}; }
  [[nodiscard]] asio::any_io_executor executor() { return io_.get_executor(); }

  // Set before the forwarder runs.
  void on_app(AppBehaviour behaviour) { behaviour_ = std::move(behaviour); }

  [[nodiscard]] std::vector<AppRequest> app_requests() const {
    std::lock_guard lock(mutex_);
    return app_requests_;
  }
  [[nodiscard]] AppRequest last_app_request() const {
    std::lock_guard lock(mutex_);
    return app_requests_.empty() ? AppRequest{} : app_requests_.back();
  }
  [[nodiscard]] std::vector<RuntimePost> posts() const {
    std::lock_guard lock(mutex_);
    return posts_;
  }

  // Waits until `done` holds for the posts so far; false after kLimit.
  bool wait_for_posts(const std::function<bool(const std::vector<RuntimePost>&)>& done) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kLimit, [&] { return done(posts_); });
  }

  // A gate the app's behaviour waits at (asynchronously, for at most kLimit) until the test opens it.
  void open_gate(int number) {
    std::lock_guard lock(mutex_);
    gates_opened_ = std::max(gates_opened_, number);
  }
  asio::awaitable<void> gate(int number) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto until = std::chrono::steady_clock::now() + kLimit;
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard lock(mutex_);
        if (gates_opened_ >= number) co_return;
      }
      timer.expires_after(1ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

 private:
  asio::awaitable<void> serve_app(HttpExchange& ex) {
    // Not a co_await inside the braced initializer: GCC 12 destroys such a temporary twice.
    std::string body = co_await ex.read_body(64 << 20);
    AppRequest seen{.method = std::string(ex.request().method_string()),
                    .target = std::string(ex.request().target()),
                    .headers = header_list(ex.request()),
                    .body = std::move(body)};
    {
      std::lock_guard lock(mutex_);
      app_requests_.push_back(seen);
    }
    if (behaviour_) {
      co_await behaviour_(ex, seen);
    } else {
      co_await ex.respond(http::status::ok, R"({"ok":true})");
    }
  }

  asio::awaitable<void> serve_runtime(HttpExchange& ex) {
    std::size_t index = 0;
    {
      std::lock_guard lock(mutex_);
      posts_.push_back(RuntimePost{.target = std::string(ex.request().target()), .headers = header_list(ex.request())});
      index = posts_.size() - 1;
    }
    net::Trailers trailers = co_await ex.read_body_pieces(256 << 20, [&](std::string_view piece) {
      std::lock_guard lock(mutex_);
      posts_[index].pieces.emplace_back(piece);
      changed_.notify_all();
    });
    {
      std::lock_guard lock(mutex_);
      posts_[index].trailers = std::move(trailers);
      posts_[index].complete = true;
      changed_.notify_all();
    }
    co_await ex.respond(http::status::accepted, R"({"status":"OK"})");
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  net::tcp::endpoint app_;
  net::tcp::endpoint runtime_;
  AppBehaviour behaviour_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<AppRequest> app_requests_;
  std::vector<RuntimePost> posts_;
  int gates_opened_ = 0;
  std::thread thread_;
};

// The adapter's side: a RuntimeClient and the forwarder on an io_context of their own.
class Adapter {
 public:
  Adapter(const AdapterConfig& config, const net::HostPort& runtime_api)
      : runtime_(io_.get_executor(), runtime_api),
        forwarder_(io_.get_executor(), config,
                   FunctionSettings{.function_name = "orders", .memory = 512, .version = "$LATEST"},
                   [this](std::string_view line) {
                     std::lock_guard lock(mutex_);
                     log_.emplace_back(line);
                   }) {}
  ~Adapter() {
    if (thread_.joinable()) thread_.join();
  }
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  AppForwarder& forwarder() { return forwarder_; }

  // Serves one invocation to the end; fails the test if that takes over kLimit.
  lambda::CallResult<void> serve(lambda::InvocationRequest event) {
    start(std::move(event));
    return finish();
  }
  lambda::CallResult<void> serve(std::string payload) { return serve(invocation(std::move(payload))); }

  // Serves on a thread, for tests that act while the invocation runs.
  void start(lambda::InvocationRequest event) {
    event_ = std::move(event);  // serve() reads it until it is done
    result_ = asio::co_spawn(io_, forwarder_.serve(event_, runtime_), asio::use_future);
    io_.restart();
    thread_ = std::thread([this] { io_.run_for(kLimit); });
  }
  lambda::CallResult<void> finish() {
    thread_.join();
    if (result_.wait_for(0s) != std::future_status::ready) {
      ADD_FAILURE() << "the invocation did not end within the limit";
      return lambda::CallError{.message = "timed out"};
    }
    return result_.get();
  }

  [[nodiscard]] std::vector<std::string> log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  lambda::InvocationRequest event_;  // the invocation being served; declared first, so it outlives io_
  asio::io_context io_;
  lambda::RuntimeClient runtime_;
  AppForwarder forwarder_;
  std::future<lambda::CallResult<void>> result_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> log_;
};

class AppForwarderTest : public ::testing::Test {
 protected:
  [[nodiscard]] AdapterConfig config() const {
    AdapterConfig config;
    config.app_host = "127.0.0.1";
    config.app_port = servers_.app_port();
    config.readiness_port = servers_.app_port();
    return config;
  }
  Adapter adapter(const AdapterConfig& config) { return Adapter(config, servers_.runtime_api()); }

  // The one post of a served invocation.
  RuntimePost only_post() {
    const auto posts = servers_.posts();
    EXPECT_EQ(posts.size(), 1U);
    return posts.empty() ? RuntimePost{} : posts.back();
  }

  Servers servers_;
};

// An app answer with the given status, headers and body.
Servers::AppBehaviour answer(http::status status, const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::string& body) {
  return [=](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    http::fields extra;
    for (const auto& [name, value] : headers) extra.insert(name, value);
    co_await ex.respond(status, body, "", &extra);
  };
}

std::string json_field(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

// ---- Buffered -----------------------------------------------------------------------------------

TEST_F(AppForwarderTest, EveryEventVectorReachesTheAppAndComesBackInItsSourcesShape) {
  if (!std::filesystem::is_directory(vectors_dir())) GTEST_SKIP() << "no event vectors at " << vectors_dir();
  servers_.on_app(answer(
      http::status::created,
      {{"content-type", "application/json"}, {"x-custom", "a"}, {"set-cookie", "c1=1; Path=/"}, {"set-cookie", "c2=2"}},
      R"({"ok":true})"));
  Adapter forwarding = adapter(config());
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(vectors_dir())) {
    if (entry.path().extension() != ".json") continue;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    const std::string payload = vector(name);
    const lambda::HttpEventRequest expected = lambda::request_from_event(payload);
    const std::size_t posts_before = servers_.posts().size();
    ASSERT_TRUE(forwarding.serve(payload));
    ++seen;

    const AppRequest app = servers_.last_app_request();
    EXPECT_EQ(app.method, expected.method);
    EXPECT_EQ(app.target, expected.target);
    EXPECT_EQ(app.body, expected.body);
    const json::value request_context = json::parse(app.header("x-amzn-request-context"));
    EXPECT_EQ(request_context.is_object(), expected.shape.source != lambda::EventSource::other);
    const json::object lambda_context = json::parse(app.header("x-amzn-lambda-context")).as_object();
    EXPECT_EQ(json_field(lambda_context, "request_id"), kRequestId);
    EXPECT_EQ(json_field(lambda_context.at("env_config").as_object(), "function_name"), "orders");

    const auto posts = servers_.posts();
    ASSERT_EQ(posts.size(), posts_before + 1);
    const RuntimePost& post = posts.back();
    EXPECT_EQ(post.target, "/2018-06-01/runtime/invocation/" + std::string(kRequestId) + "/response");
    const json::object result = post.result();
    switch (expected.shape.source) {
      case lambda::EventSource::other:
        EXPECT_EQ(result, (json::object{{"ok", true}}));  // the app's JSON itself
        continue;
      case lambda::EventSource::api_gateway_http:
      case lambda::EventSource::function_url:
        EXPECT_EQ(json_field(result.at("headers").as_object(), "x-custom"), "a");
        EXPECT_EQ(result.at("cookies").as_array(), (json::array{"c1=1; Path=/", "c2=2"}));
        EXPECT_FALSE(result.contains("multiValueHeaders"));
        break;
      case lambda::EventSource::api_gateway_rest:
        EXPECT_EQ(result.at("multiValueHeaders").as_object().at("set-cookie").as_array(),
                  (json::array{"c1=1; Path=/", "c2=2"}));
        EXPECT_FALSE(result.contains("cookies"));
        break;
      case lambda::EventSource::alb:
        EXPECT_EQ(json_field(result, "statusDescription"), "201 Created");
        EXPECT_TRUE(result.contains(expected.shape.multi_value_headers ? "multiValueHeaders" : "headers"));
        break;
    }
    EXPECT_EQ(result.at("statusCode").to_number<int>(), 201);
    EXPECT_EQ(json_field(result, "body"), R"({"ok":true})");
    EXPECT_FALSE(result.at("isBase64Encoded").as_bool());
  }
  EXPECT_GE(seen, 30);
}

TEST_F(AppForwarderTest, BinaryAnswerGoesBackBase64Encoded) {
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe", 18);
  servers_.on_app(answer(http::status::ok, {{"content-type", "image/png"}}, png));
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  const json::object result = only_post().result();
  EXPECT_TRUE(result.at("isBase64Encoded").as_bool());
  EXPECT_EQ(lambda::decode_base64(json_field(result, "body")), png);
}

// A trailer is no header (RFC 9110 6.5.1): a chunked answer's trailers stay out of the result's
// headers, as LWA leaves them out; its header fields all come back.
TEST_F(AppForwarderTest, TheAppsTrailersDoNotBecomeHeaders) {
  servers_.on_app([](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    http::fields headers;
    headers.set("content-type", "text/plain");
    headers.set("trailer", "x-checksum");
    co_await ex.begin_chunked(http::status::ok, headers, "hello");
    co_await ex.write_chunk(" world");
    const net::Trailers trailers{{"x-checksum", "abc"}};  // named: GCC 12 and temporaries in co_await
    co_await ex.end_chunked(trailers);
  });
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  const json::object result = only_post().result();
  EXPECT_EQ(json_field(result, "body"), "hello world");
  const json::object& headers = result.at("headers").as_object();
  EXPECT_FALSE(headers.contains("x-checksum")) << json::serialize(headers);
  EXPECT_TRUE(headers.contains("content-type")) << json::serialize(headers);
}

TEST_F(AppForwarderTest, TextInAnotherCharsetGoesBackAsValidJsonWithItsBytesUnchanged) {
  // An ISO-8859-1 page, and a header value with an ISO-8859-1 byte: raw, either one would make the
  // result invalid JSON, which Lambda rejects.
  const std::string page = "caf\xe9";
  servers_.on_app(
      answer(http::status::ok, {{"content-type", "text/html; charset=iso-8859-1"}, {"x-name", "Andr\xe9"}}, page));
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  boost::system::error_code error;
  const json::value result = json::parse(only_post().body(), error);  // Boost.JSON rejects invalid UTF-8
  ASSERT_FALSE(error) << error.message();
  EXPECT_TRUE(result.at("isBase64Encoded").as_bool());
  EXPECT_EQ(lambda::decode_base64(result.at("body").as_string()), page);
  EXPECT_EQ(result.at("headers").at("x-name").as_string(), "Andr\xc3\xa9");
}

TEST_F(AppForwarderTest, ErrorStatusBodyInAnotherCharsetStaysValidJson) {
  // "\351chec": ISO-8859-1's "échec" (octal, which unlike \x stops after three digits).
  servers_.on_app(answer(http::status::internal_server_error, {{"content-type", "text/plain"}}, "\351chec"));
  AdapterConfig with_codes = config();
  with_codes.error_status_codes = StatusSet::range(500, 500);
  Adapter forwarding = adapter(with_codes);
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  const RuntimePost post = only_post();
  ASSERT_TRUE(post.is_error());
  EXPECT_EQ(json::parse(post.error_message()), json::parse("{\"statusCode\":500,\"body\":\"\303\251chec\"}"));
}

TEST_F(AppForwarderTest, NonHttpEventAnsweredWithSomethingOtherThanJsonGetsNullAndSaysSo) {
  servers_.on_app(answer(http::status::ok, {{"content-type", "text/plain"}}, "ok"));
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("example-sqs-event.json")));
  const RuntimePost post = only_post();
  EXPECT_FALSE(post.is_error());
  EXPECT_EQ(post.body(), "null");
  const auto log = forwarding.log();
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const std::string& line) {
    return line.find("is not JSON text") != std::string::npos;
  })) << ::testing::PrintToString(log);
}

TEST_F(AppForwarderTest, BasePathIsRemoved) {
  AdapterConfig with_base = config();
  with_base.remove_base_path = "/Prod";
  Adapter forwarding = adapter(with_base);
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_with_stage_in_path.json")));
  const std::string target = servers_.last_app_request().target;
  EXPECT_EQ(target.substr(0, target.find('?')), "/my/path");
}

TEST_F(AppForwarderTest, MultiValueQueryAndCookiesReachTheApp) {
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_multi_value_proxy_request.json")));
  EXPECT_EQ(servers_.last_app_request().target, "/hello/world?name=me&multiValueName=you&multiValueName=me");
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_request_path_with_space.json")));
  EXPECT_EQ(servers_.last_app_request().header("cookie"), "cookie1=value1; cookie2=value2");
}

TEST_F(AppForwarderTest, Base64RequestBodyArrivesDecoded) {
  const std::string bytes("\0\x01\xff binary \r\n", 13);
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["body"] = lambda::encode_base64(bytes);
  event["isBase64Encoded"] = true;
  event["requestContext"].as_object()["http"].as_object()["method"] = "PUT";
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  const AppRequest app = servers_.last_app_request();
  EXPECT_EQ(app.method, "PUT");
  EXPECT_EQ(app.body, bytes);
  EXPECT_EQ(app.header("content-length"), std::to_string(bytes.size()));  // not the event's "0"
}

TEST_F(AppForwarderTest, ContextHeadersCarryTheEventAndTheInvocation) {
  Adapter forwarding = adapter(config());
  lambda::InvocationRequest event = invocation(vector("http-apigw_v2_proxy_request_minimal.json"));
  event.cognito_identity = R"({"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"})";
  ASSERT_TRUE(forwarding.serve(event));
  const AppRequest app = servers_.last_app_request();
  const json::object request_context = json::parse(app.header("x-amzn-request-context")).as_object();
  EXPECT_EQ(json_field(request_context, "requestId"), "MIZRNhJtIAMEMDw=");
  const json::object context = json::parse(app.header("x-amzn-lambda-context")).as_object();
  EXPECT_EQ(context.at("deadline").to_number<std::int64_t>(), event.deadline_ms);
  EXPECT_EQ(json_field(context, "invoked_function_arn"), event.function_arn);
  EXPECT_EQ(json_field(context, "xray_trace_id"), event.trace_id);
  EXPECT_EQ(json_field(context.at("identity").as_object(), "identityId"), "id-1");
  EXPECT_EQ(context.at("env_config").as_object().at("memory").to_number<int>(), 512);
}

// JSON carries DEL (0x7f) as it is in a string, and an HTTP field cannot (Beast, Node.js and h11 refuse
// the request): the context headers write it as \u007f, which is the same JSON, and the app gets them.
TEST_F(AppForwarderTest, ADeleteInAContextReachesTheAppEscaped) {
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["requestContext"].as_object()["http"].as_object()["userAgent"] = "agent\x7f";
  lambda::InvocationRequest invoked = invocation(json::serialize(event));
  ASSERT_NE(invoked.payload.find('\x7f'), std::string::npos);  // as it is, in the event's text
  invoked.client_context = R"({"custom":{"note":"\u007f"}})";
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(invoked));
  ASSERT_EQ(servers_.app_requests().size(), 1U);
  const AppRequest app = servers_.last_app_request();
  const std::string request_context = app.header("x-amzn-request-context");
  EXPECT_EQ(request_context.find('\x7f'), std::string::npos) << request_context;
  EXPECT_EQ(json_field(json::parse(request_context).as_object().at("http").as_object(), "userAgent"), "agent\x7f");
  const std::string lambda_context = app.header("x-amzn-lambda-context");
  EXPECT_EQ(lambda_context.find('\x7f'), std::string::npos) << lambda_context;
  EXPECT_EQ(json::parse(lambda_context).at("client_context").at("custom").at("note").as_string(), "\x7f");
  EXPECT_FALSE(only_post().is_error());
}

// A caller cannot hand the app a context of its own: the event's headers of those names give way.
TEST_F(AppForwarderTest, TheCallersOwnContextHeadersGiveWayToTheAdapters) {
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["headers"].as_object()["X-Amzn-Request-Context"] = R"({"requestId":"forged"})";
  event["headers"].as_object()["x-amzn-lambda-context"] = R"({"request_id":"forged"})";
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  const AppRequest app = servers_.last_app_request();
  EXPECT_EQ(app.count("x-amzn-request-context"), 1);
  EXPECT_EQ(app.count("x-amzn-lambda-context"), 1);
  EXPECT_EQ(json_field(json::parse(app.header("x-amzn-request-context")).as_object(), "requestId"), "MIZRNhJtIAMEMDw=");
  EXPECT_EQ(json_field(json::parse(app.header("x-amzn-lambda-context")).as_object(), "request_id"),
            invocation("").request_id);
}

// As LWA (lambda_http): the invocation's trace header for every source, replacing API Gateway's (no
// Lambda parent) and reaching a pass-through event's POST too; and the tenant of a function in tenant
// isolation mode.
TEST_F(AppForwarderTest, TheInvocationsTraceAndTenantReachTheAppForEverySource) {
  json::object api_event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  api_event["headers"].as_object()["x-amzn-trace-id"] = "Root=1-00000000-from-api-gateway";
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(invocation(json::serialize(api_event))));
  EXPECT_EQ(servers_.last_app_request().header("x-amzn-trace-id"), invocation("").trace_id);
  EXPECT_EQ(servers_.last_app_request().count("x-amzn-trace-id"), 1);
  EXPECT_EQ(servers_.last_app_request().header("x-amz-tenant-id"), "") << "not a tenant isolation function";
  lambda::InvocationRequest pass_through = invocation(R"({"Records":[]})");
  pass_through.tenant_id = "tenant-42";
  ASSERT_TRUE(forwarding.serve(pass_through));
  EXPECT_EQ(servers_.last_app_request().target, "/events");
  EXPECT_EQ(servers_.last_app_request().header("x-amzn-trace-id"), invocation("").trace_id);
  EXPECT_EQ(servers_.last_app_request().header("x-amz-tenant-id"), "tenant-42");
}

TEST_F(AppForwarderTest, HostComesFromTheDomainNameWhenTheEventHasNone) {
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["headers"].as_object().erase("host");
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  EXPECT_EQ(servers_.last_app_request().header("host"), "xxx.execute-api.us-east-1.amazonaws.com");
  // Neither a Host nor a domain name: the app's own address.
  ASSERT_TRUE(forwarding.serve(vector("http-alb_no_host.json")));
  EXPECT_EQ(servers_.last_app_request().header("host"), "127.0.0.1:" + std::to_string(servers_.app_port()));
}

TEST_F(AppForwarderTest, AuthorizationSourceBecomesTheAuthorizationHeader) {
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["headers"].as_object()["x-custom-auth"] = "Bearer from-source";
  event["headers"].as_object()["authorization"] = "Bearer original";
  AdapterConfig with_source = config();
  with_source.authorization_source = "X-Custom-Auth";
  Adapter forwarding = adapter(with_source);
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  const AppRequest app = servers_.last_app_request();
  EXPECT_EQ(app.header("authorization"), "Bearer from-source");
  EXPECT_FALSE(app.has("x-custom-auth"));
  EXPECT_EQ(app.count("authorization"), 1);

  // A request without the source header goes as it is, and the log says why.
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  EXPECT_FALSE(servers_.last_app_request().has("authorization"));
  ASSERT_EQ(forwarding.log().size(), 1U);
  EXPECT_NE(forwarding.log()[0].find("X-Custom-Auth"), std::string::npos);
}

TEST_F(AppForwarderTest, ErrorStatusCodesAnswerAsAnInvocationError) {
  servers_.on_app([](HttpExchange& ex, const AppRequest& request) -> asio::awaitable<void> {
    const bool fail = request.target == "/";
    co_await ex.respond(fail ? http::status::service_unavailable : http::status::not_found, fail ? "down" : "nope",
                        "text/plain");
  });
  AdapterConfig with_codes = config();
  with_codes.error_status_codes = StatusSet::range(500, 599);
  Adapter forwarding = adapter(with_codes);
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));   // GET /
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_multi_value_proxy_request.json")));  // POST /hello/world
  const auto posts = servers_.posts();
  ASSERT_EQ(posts.size(), 2U);
  EXPECT_TRUE(posts[0].is_error());
  EXPECT_EQ(posts[0].error_type(), kErrorAppStatus);
  EXPECT_EQ(json::parse(posts[0].error_message()), json::parse(R"({"statusCode":503,"body":"down"})"));
  EXPECT_FALSE(posts[1].is_error());  // 404 is not in the set
  EXPECT_EQ(posts[1].result().at("statusCode").to_number<int>(), 404);
}

std::string gunzip(const std::string& compressed) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 16 + MAX_WBITS), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));  // NOLINT: zlib's API
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());  // NOLINT: zlib's API
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST_F(AppForwarderTest, CompressionFollowsTheRequestsAcceptEncoding) {
  const std::string text(4000, 'a');
  servers_.on_app(answer(http::status::ok, {{"content-type", "text/plain"}}, text));
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["headers"].as_object()["accept-encoding"] = "gzip";
  AdapterConfig compressing = config();
  compressing.enable_compression = true;
  Adapter forwarding = adapter(compressing);
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  const json::object result = only_post().result();
  EXPECT_EQ(json_field(result.at("headers").as_object(), "content-encoding"), "gzip");
  EXPECT_TRUE(result.at("isBase64Encoded").as_bool());
  const auto body = lambda::decode_base64(json_field(result, "body"));
  ASSERT_TRUE(body);
  EXPECT_LT(body->size(), text.size());
  EXPECT_EQ(gunzip(*body), text);
  // The app itself was not asked to compress: the Accept-Encoding went through, its answer was plain.
  EXPECT_EQ(servers_.last_app_request().header("accept-encoding"), "gzip");
}

// A REST event keeps repeated header lines apart: each Accept-Encoding line counts, as one list.
TEST_F(AppForwarderTest, CompressionReadsEveryAcceptEncodingLine) {
  servers_.on_app(answer(http::status::ok, {{"content-type", "text/plain"}}, std::string(4000, 'a')));
  json::object event = json::parse(vector("http-apigw_multi_value_proxy_request.json")).as_object();
  event["multiValueHeaders"].as_object()["Accept-Encoding"] = json::array{"identity;q=0.5", "gzip"};
  event["headers"].as_object()["Accept-Encoding"] = "gzip";
  AdapterConfig compressing = config();
  compressing.enable_compression = true;
  Adapter forwarding = adapter(compressing);
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  const json::object result = only_post().result();
  EXPECT_EQ(result.at("multiValueHeaders").as_object().at("content-encoding").as_array().at(0).as_string(), "gzip");
}

TEST_F(AppForwarderTest, WithoutCompressionTheBodyGoesAsTheAppSentIt) {
  const std::string text(4000, 'a');
  servers_.on_app(answer(http::status::ok, {{"content-type", "text/plain"}}, text));
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["headers"].as_object()["accept-encoding"] = "gzip";
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  EXPECT_EQ(json_field(only_post().result(), "body"), text);
}

TEST_F(AppForwarderTest, UnreachableAppIsAnInvocationErrorNamingItsAddress) {
  AdapterConfig nowhere = config();
  const UniqueFd closed = testing::hold_closed_loopback_port();
  nowhere.app_port = testing::port_of(closed);
  Adapter forwarding = adapter(nowhere);
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));  // answered, not returned
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.is_error());
  EXPECT_EQ(post.error_type(), kErrorAppConnection);
  EXPECT_NE(post.error_message().find("127.0.0.1:" + std::to_string(nowhere.app_port)), std::string::npos)
      << post.error_message();
  const auto log = forwarding.log();  // and the function's log says so
  ASSERT_EQ(log.size(), 1U);
  EXPECT_NE(log[0].find(kErrorAppConnection), std::string::npos) << log[0];
}

TEST_F(AppForwarderTest, AppThatClosesBeforeAnsweringIsAnInvocationError) {
  servers_.on_app([](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    ex.close_after();  // a crash: the connection goes without an answer
    co_return;
  });
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.is_error());
  EXPECT_EQ(post.error_type(), kErrorAppConnection);
}

TEST_F(AppForwarderTest, EventTheDecoderRejectsIsAnInvocationError) {
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(R"({"httpMethod":"GET","path":"/","body":"%%%","isBase64Encoded":true})"));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.is_error());
  EXPECT_EQ(post.error_type(), kErrorInvalidEvent);
  EXPECT_NE(post.error_message().find("base64"), std::string::npos) << post.error_message();
  EXPECT_TRUE(servers_.app_requests().empty());
}

// A method that is not a token would write a request line of the caller's making: on a kept-alive
// connection, a second request the app would answer in the next invocation's place.
TEST_F(AppForwarderTest, AMethodThatWouldBreakTheRequestLineIsAnInvalidEvent) {
  Adapter forwarding = adapter(config());
  for (const char* method : {"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET", "GET /x", "", "G\u00c9T"}) {
    json::object event{{"httpMethod", method}, {"path", "/"}, {"body", ""}};
    ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  }
  ASSERT_EQ(servers_.posts().size(), 4U);
  for (const RuntimePost& post : servers_.posts()) {
    EXPECT_TRUE(post.is_error());
    EXPECT_EQ(post.error_type(), kErrorInvalidEvent);
    EXPECT_NE(post.error_message().find("method"), std::string::npos) << post.error_message();
  }
  EXPECT_TRUE(servers_.app_requests().empty());
}

TEST_F(AppForwarderTest, HeaderThatWouldBreakTheRequestIsNotSent) {
  json::object event = json::parse(vector("http-apigw_v2_proxy_request_minimal.json")).as_object();
  event["headers"].as_object()["x-evil"] = "a\r\nx-injected: 1";
  event["headers"].as_object()["x-bad: name"] = "b";
  // Any control byte but tab: Node.js refuses the whole request for one (400, and no handler runs).
  event["headers"].as_object()["x-control"] = "a\x01b";
  event["headers"].as_object()["x-delete"] = "a\x7f";
  event["headers"].as_object()["x-tab"] = "a\tb";
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(json::serialize(event)));
  const AppRequest app = servers_.last_app_request();
  EXPECT_FALSE(app.has("x-evil"));
  EXPECT_FALSE(app.has("x-injected"));
  EXPECT_FALSE(app.has("x-bad"));
  EXPECT_FALSE(app.has("x-control"));
  EXPECT_FALSE(app.has("x-delete"));
  EXPECT_TRUE(app.has("x-tab"));
  EXPECT_TRUE(app.has("user-agent"));  // the others went through
  EXPECT_FALSE(only_post().is_error());
}

TEST_F(AppForwarderTest, ResultOverLambdasLimitIsAnInvocationError) {
  servers_.on_app(
      answer(http::status::ok, {{"content-type", "text/plain"}}, std::string(lambda::kBufferedResponseLimit + 1, 'x')));
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.is_error());
  EXPECT_EQ(post.error_type(), kErrorResponseTooLarge);
}

// Past kAppAnswerLimit the body is not read whole: still an answer too large, not one that broke off.
TEST_F(AppForwarderTest, AnAnswerPastTheBodyLimitIsTooLargeNotBrokenOff) {
  servers_.on_app(answer(http::status::ok, {{"content-type", "text/plain"}}, std::string(kAppAnswerLimit + 1, 'x')));
  Adapter forwarding = adapter(config());
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.is_error());
  EXPECT_EQ(post.error_type(), kErrorResponseTooLarge);
}

// ---- Async init ---------------------------------------------------------------------------------

TEST_F(AppForwarderTest, AsyncInitWaitsForTheAppOnTheFirstInvocation) {
  // The readiness path answers 503 until someone has asked for /ready: the invocation must wait for it.
  servers_.on_app([this](HttpExchange& ex, const AppRequest& request) -> asio::awaitable<void> {
    if (request.target == "/health") {
      const auto requests = servers_.app_requests();
      const bool ready =
          std::any_of(requests.begin(), requests.end(), [](const AppRequest& r) { return r.target == "/ready"; });
      co_await ex.respond(ready ? http::status::ok : http::status::service_unavailable, "");
    } else {
      co_await ex.respond(http::status::ok, R"({"ok":true})");
    }
  });
  AdapterConfig async = config();
  async.async_init = true;
  async.readiness_path = "/health";
  async.healthy_status = StatusSet::range(200, 299);
  Adapter waiting = adapter(async);
  waiting.forwarder().set_app_ready(false);
  waiting.start(invocation(vector("http-apigw_v2_proxy_request_minimal.json")));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(servers_.posts().empty());  // still waiting for the app
  // Make the app ready: one request to /ready.
  {
    asio::io_context io;
    net::HttpClient client(io.get_executor(), {"127.0.0.1", std::to_string(servers_.app_port())});
    auto done = asio::co_spawn(io, client.request(net::Request{http::verb::get, "/ready", 11}), asio::use_future);
    io.run_for(kLimit);
    ASSERT_TRUE(done.get());
  }
  ASSERT_TRUE(waiting.finish());
  const RuntimePost post = only_post();
  EXPECT_FALSE(post.is_error());
  const auto requests = servers_.app_requests();
  EXPECT_GE(std::count_if(requests.begin(), requests.end(), [](const AppRequest& r) { return r.target == "/health"; }),
            2);
  EXPECT_EQ(requests.back().target, "/");  // forwarded only once healthy
}

TEST_F(AppForwarderTest, AppSeenReadyAtInitIsNotCheckedAgain) {
  AdapterConfig async = config();
  async.async_init = true;
  async.readiness_path = "/health";
  Adapter forwarding = adapter(async);
  forwarding.forwarder().set_app_ready(true);
  ASSERT_TRUE(forwarding.serve(vector("http-apigw_v2_proxy_request_minimal.json")));
  ASSERT_EQ(servers_.app_requests().size(), 1U);
  EXPECT_EQ(servers_.last_app_request().target, "/");
}

// ---- Keep-alive connections to the app ----------------------------------------------------------

// An app on raw sockets, one connection at a time, that counts its connections and follows a script
// per connection: answer keep-alive, answer then close at once (as a server whose keep-alive timeout
// ran out), or close without answering once the next request arrives (the race a pooled connection
// loses when the server closes it while the request is on its way).
class RawApp {
 public:
  // malformed_chunked_answer: a chunked answer whose first chunk's size is not hex, then a close.
  enum class Step { answer, answer_then_close, close_unanswered, malformed_chunked_answer };
  using Script = std::function<Step(int connection, int request_on_connection)>;

  explicit RawApp(Script script, std::uint16_t port = 0) : script_(std::move(script)) {
    listener_ = testing::bind_loopback(port);
    ::listen(listener_.get(), 16);
    port_ = testing::port_of(listener_);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawApp() {
    stop_.store(true);
    thread_.join();
  }
  RawApp(const RawApp&) = delete;
  RawApp& operator=(const RawApp&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] int connections() const { return connections_.load(); }
  [[nodiscard]] int requests() const { return requests_.load(); }

 private:
  // Waits up to 20 ms for `fd` to be readable, so the thread notices stop_.
  static bool readable(int fd) {
    pollfd poller{.fd = fd, .events = POLLIN, .revents = 0};
    return ::poll(&poller, 1, 20) > 0;
  }

  // Reads one request (header and Content-Length body); false when the peer closed.
  bool read_request(int fd) {
    std::string data;
    char buffer[4096];
    std::size_t needed = std::string::npos;
    const auto until = std::chrono::steady_clock::now() + kLimit;
    while (std::chrono::steady_clock::now() < until && !stop_.load()) {
      if (needed != std::string::npos && data.size() >= needed) return true;
      if (!readable(fd)) continue;
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) return false;
      data.append(buffer, static_cast<std::size_t>(n));
      const std::size_t end = data.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      std::size_t length = 0;
      std::string head = data.substr(0, end);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (const std::size_t at = head.find("content-length:"); at != std::string::npos) {
        length = std::stoul(head.substr(at + 15));
      }
      needed = end + 4 + length;
    }
    return false;
  }

  void serve() {
    int connection = 0;
    while (!stop_.load()) {
      if (!readable(listener_.get())) continue;
      UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client) continue;
      ++connection;
      connections_.store(connection);
      for (int request = 1; read_request(client.get()); ++request) {
        requests_.fetch_add(1);
        const Step step = script_(connection, request);
        if (step == Step::close_unanswered) break;
        if (step == Step::malformed_chunked_answer) {
          const std::string_view malformed = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n";
          (void)::write(client.get(), malformed.data(), malformed.size());
          break;
        }
        const std::string reply =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
        (void)::write(client.get(), reply.data(), reply.size());
        if (step == Step::answer_then_close) break;
      }
    }
  }

  Script script_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class KeepAliveTest : public AppForwarderTest {
 protected:
  AdapterConfig config_for(const RawApp& app) {
    AdapterConfig with_app = config();
    with_app.app_port = app.port();
    return with_app;
  }
  void expect_answered(std::size_t count) {
    const auto posts = servers_.posts();
    ASSERT_EQ(posts.size(), count);
    for (const RuntimePost& post : posts) {
      EXPECT_FALSE(post.is_error()) << post.body();
      EXPECT_EQ(post.result().at("statusCode").to_number<int>(), 200);
    }
  }
};

TEST_F(KeepAliveTest, ConnectionIsReusedUntilDropped) {
  RawApp app([](int, int) { return RawApp::Step::answer; });
  Adapter forwarding = adapter(config_for(app));
  const std::string payload = vector("http-apigw_v2_proxy_request_minimal.json");
  ASSERT_TRUE(forwarding.serve(payload));
  ASSERT_TRUE(forwarding.serve(payload));
  EXPECT_EQ(app.connections(), 1);
  forwarding.forwarder().drop_connections();  // as after a SnapStart restore
  ASSERT_TRUE(forwarding.serve(payload));
  EXPECT_EQ(app.connections(), 2);
  EXPECT_EQ(app.requests(), 3);
  expect_answered(3);
}

TEST_F(KeepAliveTest, ConnectionTheAppClosedWhileIdleIsNotUsed) {
  RawApp app([](int, int) { return RawApp::Step::answer_then_close; });
  Adapter forwarding = adapter(config_for(app));
  const std::string payload = vector("http-apigw_v2_proxy_request_minimal.json");
  ASSERT_TRUE(forwarding.serve(payload));
  std::this_thread::sleep_for(50ms);  // the app's close has arrived
  ASSERT_TRUE(forwarding.serve(payload));
  EXPECT_EQ(app.connections(), 2);
  expect_answered(2);
}

TEST_F(KeepAliveTest, AGetOnAConnectionClosedUnderItIsSentAgainOnAFreshOne) {
  // The first connection takes one request, then closes as the second arrives, without a byte of answer.
  RawApp app([](int connection, int request) {
    return connection == 1 && request == 2 ? RawApp::Step::close_unanswered : RawApp::Step::answer;
  });
  Adapter forwarding = adapter(config_for(app));
  const std::string payload = vector("http-apigw_proxy_request.json");  // a GET
  ASSERT_TRUE(forwarding.serve(payload));
  ASSERT_TRUE(forwarding.serve(payload));
  EXPECT_EQ(app.connections(), 2);
  EXPECT_EQ(app.requests(), 3);  // the lost one and its retry
  expect_answered(2);
}

TEST_F(KeepAliveTest, APostTheAppMayHaveActedOnIsNeverSentTwice) {
  // The app read the POST and closed without answering: it may have done the work (and died). Sending
  // it again could do the work twice, so the invocation fails instead.
  RawApp app([](int connection, int request) {
    return connection == 1 && request == 2 ? RawApp::Step::close_unanswered : RawApp::Step::answer;
  });
  Adapter forwarding = adapter(config_for(app));
  const std::string payload = vector("http-apigw_multi_value_proxy_request.json");  // a POST with a body
  ASSERT_TRUE(forwarding.serve(payload));
  ASSERT_TRUE(forwarding.serve(payload));
  EXPECT_EQ(app.requests(), 2);
  const auto posts = servers_.posts();
  ASSERT_EQ(posts.size(), 2U);
  EXPECT_FALSE(posts[0].is_error());
  ASSERT_TRUE(posts[1].is_error());
  EXPECT_EQ(posts[1].error_type(), kErrorAppConnection);
}

// ---- Streaming ----------------------------------------------------------------------------------

class StreamingTest : public AppForwarderTest {
 protected:
  AdapterConfig streaming_config() const {
    AdapterConfig streaming = config();
    streaming.invoke_mode = InvokeMode::response_stream;
    return streaming;
  }
  AdapterConfig streaming_config_for(const RawApp& app) const {
    AdapterConfig streaming = streaming_config();
    streaming.app_port = app.port();
    return streaming;
  }

  // The prelude and the body of a streamed post.
  static std::pair<lambda::HttpReply, std::string> split(const RuntimePost& post) {
    const std::string all = post.body();
    const std::size_t end = all.find(lambda::kPreludeSeparator);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) return {};
    auto prelude = lambda::parse_prelude(std::string_view(all).substr(0, end));
    EXPECT_TRUE(prelude);
    return {prelude.value_or(lambda::HttpReply{}), all.substr(end + lambda::kPreludeSeparator.size())};
  }

  static bool has_body(const std::vector<RuntimePost>& posts, std::string_view text) {
    return !posts.empty() && posts.back().body().find(text) != std::string::npos;
  }
};

TEST_F(StreamingTest, PiecesGoOnAsTheAppSendsThem) {
  servers_.on_app([this](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    http::fields headers;
    headers.set(http::field::content_type, "text/event-stream");
    headers.insert(http::field::set_cookie, "a=1");
    headers.insert(http::field::set_cookie, "b=2");
    co_await ex.begin_chunked(http::status::ok, headers);
    co_await ex.write_chunk("data: first\n\n");
    co_await servers_.gate(1);
    co_await ex.write_chunk("data: second\n\n");
    co_await servers_.gate(2);
    co_await ex.write_chunk("data: third\n\n");
    co_await ex.end_chunked();
  });
  Adapter forwarding = adapter(streaming_config());
  forwarding.start(invocation(vector("http-lambda_function_url_request.json")));

  // The first piece reaches the Runtime API while the app is still holding the second back.
  ASSERT_TRUE(servers_.wait_for_posts([](const auto& posts) { return has_body(posts, "data: first"); }));
  EXPECT_FALSE(has_body(servers_.posts(), "data: second"));
  servers_.open_gate(1);
  ASSERT_TRUE(servers_.wait_for_posts([](const auto& posts) { return has_body(posts, "data: second"); }));
  EXPECT_FALSE(has_body(servers_.posts(), "data: third"));
  servers_.open_gate(2);
  ASSERT_TRUE(forwarding.finish());

  const RuntimePost post = only_post();
  EXPECT_TRUE(post.complete);
  EXPECT_EQ(post.target, "/2018-06-01/runtime/invocation/" + std::string(kRequestId) + "/response");
  EXPECT_EQ(post.header(http::to_string(http::field::content_type)), lambda::kContentTypeHttpIntegration);
  EXPECT_EQ(post.header(lambda::kHeaderResponseMode), lambda::kResponseModeStreaming);
  EXPECT_FALSE(post.stream_error());
  const auto [prelude, body] = split(post);
  EXPECT_EQ(prelude.status, http::status::ok);
  EXPECT_EQ(prelude.headers[http::field::content_type], "text/event-stream");
  const auto cookies = prelude.headers.equal_range(http::field::set_cookie);
  EXPECT_EQ(std::distance(cookies.first, cookies.second), 2);
  EXPECT_EQ(body, "data: first\n\ndata: second\n\ndata: third\n\n");
}

// An app that sends its header and first bytes at once: the Runtime API gets them in the prelude's
// chunk, written with the request's header, while the app still holds the rest back.
TEST_F(StreamingTest, BytesThatCameWithTheHeaderLeaveWithThePrelude) {
  servers_.on_app([this](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    co_await ex.begin_chunked(http::status::ok, {}, "data: first\n\n");
    co_await servers_.gate(1);
    co_await ex.write_chunk("data: second\n\n");
    co_await ex.end_chunked();
  });
  Adapter forwarding = adapter(streaming_config());
  forwarding.start(invocation(vector("http-lambda_function_url_request.json")));
  ASSERT_TRUE(servers_.wait_for_posts([](const auto& posts) { return has_body(posts, "data: first"); }));
  servers_.open_gate(1);
  ASSERT_TRUE(forwarding.finish());
  const RuntimePost post = only_post();
  ASSERT_EQ(post.pieces.size(), 2U);
  EXPECT_TRUE(post.pieces[0].ends_with(std::string(lambda::kPreludeSeparator) + "data: first\n\n")) << post.pieces[0];
  EXPECT_EQ(post.pieces[1], "data: second\n\n");
  EXPECT_EQ(split(post).second, "data: first\n\ndata: second\n\n");
}

// The app's first chunk is malformed and came with its header: the stream has begun with the
// prelude, so it ends with the error trailers, as a chunk that breaks later does.
TEST_F(StreamingTest, AMalformedChunkThatCameWithTheHeaderEndsTheStreamWithTheErrorTrailers) {
  RawApp app([](int, int) { return RawApp::Step::malformed_chunked_answer; });
  Adapter forwarding = adapter(streaming_config_for(app));
  ASSERT_TRUE(forwarding.serve(vector("http-lambda_function_url_request.json")));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.complete);
  EXPECT_EQ(split(post).second, "");
  const auto failure = post.stream_error();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->type, kErrorStream);
}

TEST_F(StreamingTest, PreludeLeavesBeforeASlowFirstByte) {
  servers_.on_app([this](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    http::fields headers;
    headers.set(http::field::content_type, "text/plain");
    co_await ex.begin_chunked(http::status::accepted, headers);
    co_await servers_.gate(1);
    co_await ex.write_chunk("late");
    co_await ex.end_chunked();
  });
  Adapter forwarding = adapter(streaming_config());
  forwarding.start(invocation(vector("http-apigw_v2_proxy_request_minimal.json")));
  ASSERT_TRUE(servers_.wait_for_posts([](const auto& posts) { return has_body(posts, lambda::kPreludeSeparator); }));
  EXPECT_FALSE(has_body(servers_.posts(), "late"));
  servers_.open_gate(1);
  ASSERT_TRUE(forwarding.finish());
  const auto [prelude, body] = split(only_post());
  EXPECT_EQ(prelude.status, http::status::accepted);
  EXPECT_EQ(body, "late");
}

TEST_F(StreamingTest, LargeBinaryBodyArrivesWhole) {
  std::string bytes(8 << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 31 + i / 4096) & 0xFF);
  servers_.on_app([&bytes](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    co_await ex.begin_chunked(http::status::ok, {});  // no content type: application/octet-stream
    constexpr std::size_t kChunk = std::size_t{64} * 1024;
    for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
      co_await ex.write_chunk(std::string_view(bytes).substr(at, kChunk));
    }
    co_await ex.end_chunked();
  });
  Adapter forwarding = adapter(streaming_config());
  ASSERT_TRUE(forwarding.serve(vector("http-lambda_function_url_request.json")));
  const RuntimePost post = only_post();
  const auto [prelude, body] = split(post);
  EXPECT_EQ(prelude.headers[http::field::content_type], lambda::kContentTypeOctetStream);
  EXPECT_EQ(body.size(), bytes.size());
  EXPECT_TRUE(body == bytes);
  EXPECT_GT(post.pieces.size(), 2U);
}

TEST_F(StreamingTest, AppDyingMidStreamEndsItWithTheErrorTrailers) {
  servers_.on_app([](HttpExchange& ex, const AppRequest&) -> asio::awaitable<void> {
    co_await ex.begin_chunked(http::status::ok, {});
    co_await ex.write_chunk("partial");
    ex.close_after();  // the chunked body is never ended
  });
  Adapter forwarding = adapter(streaming_config());
  ASSERT_TRUE(forwarding.serve(vector("http-lambda_function_url_request.json")));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.complete);
  EXPECT_EQ(split(post).second, "partial");
  const auto failure = post.stream_error();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->type, kErrorStream);
  EXPECT_EQ(lambda::json_error_field(failure->body, "errorType"), std::string(kErrorStream));
  const auto log = forwarding.log();  // the function's log says so too
  ASSERT_EQ(log.size(), 1U);
  EXPECT_NE(log[0].find("failed mid-stream: Runtime.StreamError"), std::string::npos) << log[0];
}

TEST_F(StreamingTest, UnreachableAppIsAnInvocationError) {
  AdapterConfig nowhere = streaming_config();
  const UniqueFd closed = testing::hold_closed_loopback_port();
  nowhere.app_port = testing::port_of(closed);
  Adapter forwarding = adapter(nowhere);
  ASSERT_TRUE(forwarding.serve(vector("http-lambda_function_url_request.json")));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.is_error());
  EXPECT_EQ(post.error_type(), kErrorAppConnection);
}

TEST_F(StreamingTest, ErrorStatusCodesApplyToStreamsToo) {
  servers_.on_app(answer(http::status::bad_gateway, {{"content-type", "text/plain"}}, "upstream"));
  AdapterConfig with_codes = streaming_config();
  with_codes.error_status_codes = StatusSet::range(502, 502);
  Adapter forwarding = adapter(with_codes);
  ASSERT_TRUE(forwarding.serve(vector("http-lambda_function_url_request.json")));
  const RuntimePost post = only_post();
  EXPECT_TRUE(post.is_error());
  EXPECT_EQ(post.error_type(), kErrorAppStatus);
}

TEST_F(StreamingTest, HeaderValuesInAnotherCharsetKeepThePreludeJson) {
  servers_.on_app(answer(http::status::ok,
                         {{"content-type", "text/plain"}, {"x-name", "Andr\xe9"}, {"set-cookie", "n=\xe9"}}, "body"));
  Adapter forwarding = adapter(streaming_config());
  ASSERT_TRUE(forwarding.serve(vector("http-lambda_function_url_request.json")));
  const auto [prelude, body] = split(only_post());  // fails when the prelude is not JSON
  EXPECT_EQ(prelude.status, http::status::ok);
  EXPECT_EQ(prelude.headers["x-name"], "Andr\xc3\xa9");
  EXPECT_EQ(prelude.headers[http::field::set_cookie], "n=\xc3\xa9");
  EXPECT_EQ(body, "body");
}

TEST_F(StreamingTest, NonHttpEventIsStreamedWithAPreludeToo) {
  // LWA streams every answer the same way, whatever the event.
  servers_.on_app(answer(http::status::ok, {{"content-type", "application/json"}}, R"({"handled":1})"));
  Adapter forwarding = adapter(streaming_config());
  ASSERT_TRUE(forwarding.serve(vector("example-sqs-event.json")));
  EXPECT_EQ(servers_.last_app_request().target, "/events");
  const auto [prelude, body] = split(only_post());
  EXPECT_EQ(prelude.status, http::status::ok);
  EXPECT_EQ(body, R"({"handled":1})");
}

}  // namespace
}  // namespace snapbus::adapter
