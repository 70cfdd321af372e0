// A client of the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API): what a runtime calls, in the shape of
// aws-lambda-cpp's `runtime`, on Asio coroutines.
//
//   auto api = snapbus::lambda::runtime_api_from_environment();   // host:port from the environment
//   snapbus::lambda::RuntimeClient runtime(io.get_executor(), api.value());
//   if (snap_start && !(co_await runtime.restore_next())) co_return;  // the snapshot is taken inside this call
//   for (;;) {
//     auto event = co_await runtime.next();                        // long poll, no read timeout
//     if (!event) break;
//     co_await runtime.post_response(event->request_id, handle(event->payload));
//   }
//
//   // Streamed (Function URL, API Gateway streaming):
//   auto stream = co_await runtime.begin_streaming(id, "application/vnd.awslambda.http-integration-response",
//                                                  prelude_and_8_nul_bytes);  // one write with the header
//   co_await stream->write(body_piece);
//   co_await stream->finish();    // or: co_await stream->fail({.type = "Handler.Crashed", .message = "..."});
//
// Every call returns a CallResult: the Runtime API's 4xx/5xx answers and network failures are values.
// Calls take what they send by value, so a call may be co_spawned with temporaries; only a streamed piece
// is a view, valid until its write() completes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "snapbus/call_result.h"
#include "snapbus/error_body.h"
#include "snapbus/http_client.h"

namespace snapbus::lambda {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// One event from invocation/next, with the headers Lambda sends beside it.
struct InvocationRequest {
  std::string payload;
  std::string request_id;
  std::int64_t deadline_ms = 0;  // milliseconds since the Unix epoch; 0 when the answer gave none usable
  std::string function_arn;
  std::string trace_id;
  std::string client_context;    // empty unless the caller sent one (mobile SDKs)
  std::string cognito_identity;  // empty unless the caller sent one
  std::string tenant_id;         // empty unless the function is in tenant isolation mode

  // Time left until the deadline (negative once it passed).
  [[nodiscard]] std::chrono::milliseconds remaining_time() const;
};

// The Runtime API address from AWS_LAMBDA_RUNTIME_API; an invalid_argument CallError when unset or malformed.
CallResult<net::HostPort> runtime_api_from_environment();

// A response sent as it is produced (Lambda-Runtime-Function-Response-Mode: streaming). The invocation
// ends with finish() or fail(); dropping it unfinished breaks the connection, which Lambda reports as
// Runtime.TruncatedResponse.
class StreamedResponse {
 public:
  StreamedResponse(net::ChunkedUpload upload, std::string call);

  // Sends `piece` at once, as one chunk.
  asio::awaitable<CallResult<void>> write(std::string_view piece);

  // Sends the rest of `answer`'s body on, each piece as one chunk as it arrives, until the body ends
  // (net::ResponseStream::relay_to): a relay from an app, one coroutine for the whole body. The
  // response stays open for finish() or fail(). The outer result is this call's (the Runtime API
  // did not take a piece); the inner one is the answer's read, for the caller to judge.
  asio::awaitable<CallResult<net::NetResult<void>>> relay(net::ResponseStream& answer);

  // Ends the response normally.
  asio::awaitable<CallResult<void>> finish();

  // Ends the response with the error trailers: Lambda-Runtime-Function-Error-Type, and
  // Lambda-Runtime-Function-Error-Body holding base64 of the JSON error (raw JSON could carry CR/LF).
  asio::awaitable<CallResult<void>> fail(FunctionError error);

 private:
  asio::awaitable<CallResult<void>> end(const net::Trailers& trailers);

  net::ChunkedUpload upload_;
  std::string call_;
};

class RuntimeClient {
 public:
  RuntimeClient(asio::any_io_executor executor, net::HostPort runtime_api, net::ClientOptions options = {});

  // GET invocation/next: waits for as long as it takes for the next event.
  asio::awaitable<CallResult<InvocationRequest>> next();

  // POST invocation/{id}/response with the whole body (Lambda takes up to 6 MB buffered).
  asio::awaitable<CallResult<void>> post_response(std::string request_id, std::string body,
                                                  std::string content_type = "application/json");

  // Starts POST invocation/{id}/response in streaming mode; the body follows through the StreamedResponse.
  // `first_piece` (an http-integration prelude and its 8 NUL bytes, say) goes in the same write as the
  // request's header: the Runtime API, which can answer the caller only once it has the prelude, then
  // wakes once for both.
  asio::awaitable<CallResult<StreamedResponse>> begin_streaming(std::string request_id, std::string content_type,
                                                                std::string first_piece = {});

  // POST invocation/{id}/error: the invocation failed.
  asio::awaitable<CallResult<void>> post_error(std::string request_id, FunctionError error);

  // POST init/error: Init failed (Runtime.BeforeSnapshotError for a failed before-snapshot hook). Lambda
  // then tears the environment down; the runtime should exit.
  asio::awaitable<CallResult<void>> init_error(FunctionError error);

  // GET restore/next (SnapStart): the last step of Init. Lambda snapshots the environment while this call
  // waits; it returns in each restored copy. On success every pooled connection is dropped, since they
  // were opened before the snapshot.
  asio::awaitable<CallResult<void>> restore_next();

  // POST restore/error: an after-restore hook failed (Runtime.AfterRestoreError). The runtime should exit.
  asio::awaitable<CallResult<void>> restore_error(FunctionError error);

  // Closes every pooled connection (restore_next() does it itself).
  void drop_connections() { http_.drop_all(); }

 private:
  asio::awaitable<CallResult<void>> post_function_error(std::string target, const FunctionError& error);

  // The Runtime API's Host, and GET invocation/next in its wire form and as errors name it: the same
  // bytes every time, written once rather than built as a message and serialized for each event.
  std::string authority_;
  net::WireRequest next_request_;
  std::string next_call_;
  net::HttpClient http_;
};

}  // namespace snapbus::lambda
