// Web mode's core: one invocation forwarded to the web app as an HTTP request, and the app's answer
// sent back to the Runtime API, buffered or streamed, the way Lambda Web Adapter does it.
//
//   AppForwarder forwarder(io.get_executor(), config);
//   forwarder.set_app_ready(init_saw_app_ready);          // async init: false makes the first call wait
//   for (;;) {
//     auto event = co_await runtime.next();
//     if (!event) break;
//     if (auto sent = co_await forwarder.serve(*event, runtime); !sent) break;  // Runtime API failed
//   }
//   forwarder.drop_connections();                          // after a SnapStart restore
//
// What the app gets: the event's method, path (AWS_LWA_REMOVE_BASE_PATH removed; non-HTTP events
// POSTed whole to AWS_LWA_PASS_THROUGH_PATH), query, headers and decoded body, plus
// x-amzn-request-context (the event's requestContext) and x-amzn-lambda-context (lambda_context.h).
// What Lambda gets: the result in the event source's shape (buffered), or the http-integration
// prelude and the body pieces as the app sends them (streamed). A failure of the app or of the event
// is answered as the invocation's error; only a failure of the Runtime API itself is returned.
//
// Where it differs from LWA, on purpose: an event without a Host header gets requestContext.domainName
// (LWA sends the app's own address); headers HTTP cannot carry (CR/LF in a value, a name that is not a
// token) and the event's hop-by-hop headers are left out instead of failing the invocation; the error
// types below name what failed; a buffered result over 6 MB fails with Lambda's own error type before
// it is sent; a SnapStart restore drops pooled connections (LWA disables pooling under SnapStart).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "adapter_config.h"
#include "lambda_context.h"
#include "snapbus/call_result.h"
#include "snapbus/http_client.h"
#include "snapbus/http_event.h"
#include "snapbus/runtime_client.h"
#include "snapbus/wire_request.h"

namespace snapbus::adapter {

// The errorType of each invocation error the forwarder reports. LWA reports them all under its Rust
// error's type name, which says nothing; these say which side failed.
// The payload is an HTTP event with a field of the wrong type, or a body that is not valid base64.
inline constexpr std::string_view kErrorInvalidEvent = "Runtime.InvalidEvent";
// The app could not be reached, or closed the connection before its answer ended (buffered). Reads from
// the app have no timeout of their own: the invocation's deadline is the limit, and Lambda enforces it.
inline constexpr std::string_view kErrorAppConnection = "Runtime.AppConnectionError";
// The app answered with a status listed in AWS_LWA_ERROR_STATUS_CODES; the message is LWA's
// {"statusCode":N,"body":"..."}.
inline constexpr std::string_view kErrorAppStatus = "Runtime.AppErrorStatus";
// A streamed answer broke off midway: sent as the error trailers. lambda_runtime (LWA's) uses this type.
inline constexpr std::string_view kErrorStream = "Runtime.StreamError";
// A buffered result over Lambda's 6 MB: the type Lambda itself reports for it.
inline constexpr std::string_view kErrorResponseTooLarge = "Function.ResponseSizeTooLarge";

// Pooled connections to the app are closed after this long idle: below the keep-alive timeout of
// common app servers (uvicorn's and Node's 5 s), so the adapter does not reuse a connection the server
// is closing at that moment, the race behind LWA's "IncompleteMessage" 502s (LWA settled on 4 s too).
// A server with a shorter one is caught by its advertised Keep-Alive timeout (Node's), else by the
// client's check before reuse, or by its one retry on a fresh connection (GET and the like).
inline constexpr std::chrono::seconds kAppIdleTimeout{4};
// A POST goes on a pooled connection only younger than this: below gunicorn's 2 s keep-alive, the
// shortest of the common servers, which does not advertise it. Frozen between invocations, such a
// server wakes with its timer long due and closes the connection just as the request goes out,
// where a GET would be sent again and a POST fails. A new connection costs one loopback connect.
inline constexpr std::chrono::milliseconds kAppUnreplayableIdleTimeout{1500};
// The most of a buffered answer that is read whole: ten times Lambda's 6 MB, room for an answer
// that compression brings under it.
inline constexpr std::uint64_t kAppAnswerLimit = std::uint64_t{64} * 1024 * 1024;

using ForwarderLog = std::function<void(std::string_view line)>;

class AppForwarder {
 public:
  // Reads the function's settings (for x-amzn-lambda-context) from the process environment.
  AppForwarder(boost::asio::any_io_executor executor, const AdapterConfig& config, ForwarderLog log = {});
  AppForwarder(boost::asio::any_io_executor executor, const AdapterConfig& config, const FunctionSettings& settings,
               ForwarderLog log);

  // Forwards one invocation to the app and answers it on `runtime` (post_response, begin_streaming or
  // post_error). Returns the Runtime API call's failure, if any (the loop then stops); an app failure
  // is answered, not returned.
  // `event` must outlive the returned awaitable's run, as it does in `co_await forwarder.serve(...)`.
  boost::asio::awaitable<lambda::CallResult<void>> serve(const lambda::InvocationRequest& event,
                                                         lambda::RuntimeClient& runtime);

  // Async init (AWS_LWA_ASYNC_INIT): when Init gave up waiting for the app, the first invocation waits
  // for it (without a limit, as LWA) before it forwards anything. Without async init it does nothing.
  void set_app_ready(bool ready) { app_ready_ = ready || !config_.async_init; }

  // After a SnapStart restore: no connection opened before the snapshot is used again.
  void drop_connections() { app_.drop_all(); }

 private:
  // An invocation's event as the app's request, and the event's decoding, which its answer's shape needs.
  struct Forwarding {
    lambda::HttpEventRequest request;
    net::WireRequest to_app;
  };

  // Async init: waits for the app's readiness, once.
  boost::asio::awaitable<void> wait_for_app();
  // The request to the app, or Runtime.InvalidEvent's error when the event cannot become one.
  [[nodiscard]] boost::system::result<Forwarding, lambda::FunctionError> forwarding_of(
      const lambda::InvocationRequest& event) const;
  // The request to the app: throws lambda::EventError (or std::invalid_argument) for one HTTP cannot carry.
  [[nodiscard]] net::WireRequest build_request(const lambda::InvocationRequest& event,
                                               const lambda::HttpEventRequest& request) const;
  // The app's answer, or its failure to answer, as the invocation's: the awaitable of one of the four
  // ways below. Not a coroutine, so what it holds stays off serve()'s frame; its arguments are
  // references for the same reason (a by-value argument is a temporary there).
  boost::asio::awaitable<lambda::CallResult<void>> answer(const lambda::InvocationRequest& event,
                                                          const lambda::HttpEventRequest& request,
                                                          net::NetResult<net::ResponseStream>&& opened,
                                                          lambda::RuntimeClient& runtime);
  boost::asio::awaitable<lambda::CallResult<void>> answer_buffered(const lambda::InvocationRequest& event,
                                                                   const lambda::HttpEventRequest& request,
                                                                   net::ResponseStream answer,
                                                                   lambda::RuntimeClient& runtime);
  // The result to post for the app's whole answer, or the error that fails the invocation.
  [[nodiscard]] boost::system::result<std::string, lambda::FunctionError> buffered_result(
      const lambda::InvocationRequest& event, const lambda::HttpEventRequest& request,
      net::NetResult<net::Response>&& whole, std::size_t header_fields) const;
  // post_error with forwarding_of's error. Not a coroutine, as answer().
  boost::asio::awaitable<lambda::CallResult<void>> refuse(
      const lambda::InvocationRequest& event, boost::system::result<Forwarding, lambda::FunctionError>&& refused,
      lambda::RuntimeClient& runtime);
  // post_response with the result, or post_error with the error. Not a coroutine, as answer().
  boost::asio::awaitable<lambda::CallResult<void>> post_result(
      const lambda::InvocationRequest& event, boost::system::result<std::string, lambda::FunctionError> result,
      lambda::RuntimeClient& runtime);
  boost::asio::awaitable<lambda::CallResult<void>> answer_streamed(const lambda::InvocationRequest& event,
                                                                   net::ResponseStream answer,
                                                                   lambda::RuntimeClient& runtime);
  // A status listed in AWS_LWA_ERROR_STATUS_CODES: the invocation fails with the app's answer in its message.
  boost::asio::awaitable<lambda::CallResult<void>> fail_for_status(const lambda::InvocationRequest& event,
                                                                   net::ResponseStream answer,
                                                                   lambda::RuntimeClient& runtime);
  // Answers the invocation with `error` (and logs it).
  boost::asio::awaitable<lambda::CallResult<void>> fail_invocation(lambda::RuntimeClient& runtime,
                                                                   std::string request_id, lambda::FunctionError error);
  void log(std::string_view line) const;

  AdapterConfig config_;
  LambdaContext lambda_context_;
  ForwarderLog log_;
  net::HttpClient app_;
  std::string app_authority_;  // the Host of a request whose event named none
  bool app_ready_;             // true unless async init has still to see the app ready
};

}  // namespace snapbus::adapter
