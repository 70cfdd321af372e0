#include "runtime_proxy.h"

#include <charconv>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include "snapbus/connection_fields.h"
#include "snapbus/lambda_protocol.h"

namespace snapbus::adapter {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr auto kAsValues = asio::as_tuple(asio::use_awaitable);
// A buffered body the proxy holds whole: above Lambda's own limits (6 MB responses, 1 MB errors),
// so the Runtime API, not the proxy, is the one that refuses an oversized one.
constexpr std::uint64_t kBufferedBodyLimit = 16ULL * 1024 * 1024;

const std::string& invocation_next_target() {
  static const std::string target = std::string(lambda::kRuntimeApiPrefix) + std::string(lambda::kRuntimeNextPath);
  return target;
}

const std::string& restore_next_target() {
  static const std::string target =
      std::string(lambda::kRuntimeApiPrefix) + std::string(lambda::kRuntimeRestoreNextPath);
  return target;
}

// The client's own report of a failed Init or restore.
bool is_error_report(std::string_view target) {
  if (!target.starts_with(lambda::kRuntimeApiPrefix)) return false;
  target.remove_prefix(lambda::kRuntimeApiPrefix.size());
  return target == lambda::kRuntimeInitErrorPath || target == lambda::kRuntimeRestoreErrorPath;
}

// What each hop sets for itself: the connection's own fields (Expect among them: the proxy answers a
// client's 100-continue itself, as it reads the body before it forwards the call), and Host.
bool hop_by_hop(std::string_view name) { return net::is_connection_field(name) || boost::iequals(name, "host"); }

template <typename Header>
void copy_fields(const http::fields& from, Header& to) {
  for (const auto& field : from) {
    if (!hop_by_hop(field.name_string())) to.insert(field.name_string(), field.value());
  }
}

// A response the function streams, whatever its framing: a runtime that knows its length ahead may
// stream it with Content-Length, and the Runtime API passes each piece on as it comes either way.
bool is_streamed_body(const http::request_header<>& head) {
  if (http::token_list(head[http::field::transfer_encoding]).exists("chunked")) return true;
  return head.method() == http::verb::post && head[lambda::kHeaderResponseMode] == lambda::kResponseModeStreaming;
}

// A streamed body keeps its Transfer-Encoding where the client put it (the upload then finds it
// already chunked): the Runtime API sees the fields in the client's order.
void copy_streamed_fields(const http::fields& from, http::request_header<>& to) {
  for (const auto& field : from) {
    if (!hop_by_hop(field.name_string()) || field.name() == http::field::transfer_encoding) {
      to.insert(field.name_string(), field.value());
    }
  }
}

net::Request forwarded_request(const http::request_header<>& head, std::string body) {
  net::Request request{head.method(), head.target(), head.version()};
  copy_fields(head, request);
  request.body() = std::move(body);
  return request;
}

// A body announced larger than the proxy holds whole.
bool too_large_to_hold(const http::request_header<>& head) {
  const std::string_view text = head[http::field::content_length];
  std::uint64_t length = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
  return error == std::errc() && length > kBufferedBodyLimit;
}

// A call's path: the Runtime API routes on it alone, whatever query string follows.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// The request id of an invocation's answer (invocation/{id}/response or invocation/{id}/error), or nullopt.
std::optional<std::string_view> answered_invocation(std::string_view path) {
  if (!path.starts_with(lambda::kRuntimeApiPrefix)) return std::nullopt;
  path.remove_prefix(lambda::kRuntimeApiPrefix.size());
  if (!path.starts_with(lambda::kRuntimeInvocationPath)) return std::nullopt;
  path.remove_prefix(lambda::kRuntimeInvocationPath.size());
  const auto slash = path.find('/');
  if (slash == 0 || slash == std::string_view::npos) return std::nullopt;
  const std::string_view what = path.substr(slash + 1);
  if (what != lambda::kRuntimeResponseAction && what != lambda::kRuntimeErrorAction) return std::nullopt;
  return path.substr(0, slash);
}

// Who polls, for a long poll whose answer the proxy keeps when its client leaves: the runtime
// (invocation/next), or one extension (event/next, by the identifier Lambda gave it at register).
// nullopt for every other call.
std::optional<std::string> kept_poller(const http::request_header<>& head) {
  if (head.method() != http::verb::get) return std::nullopt;
  std::string_view path = path_of(head.target());
  if (path == invocation_next_target()) return std::string("the runtime");
  if (!path.starts_with(lambda::kExtensionApiPrefix)) return std::nullopt;
  path.remove_prefix(lambda::kExtensionApiPrefix.size());
  if (path != lambda::kExtensionNextPath) return std::nullopt;
  return fmt::format("extension {}", std::string_view(head[lambda::kHeaderExtensionIdentifier]));
}

// Long polls: the answer comes when Lambda has something (an event, a restore, a SHUTDOWN). A query
// string does not make a /next an ordinary call.
bool is_long_poll(std::string_view target) { return path_of(target).ends_with("/next"); }

}  // namespace

struct RuntimeProxy::PendingNext {
  explicit PendingNext(const asio::any_io_executor& executor)
      : arrived(executor, asio::steady_timer::time_point::max()) {}
  std::optional<net::NetResult<net::Response>> result;
  asio::steady_timer arrived;  // cancelled when the result is in
};

RuntimeProxy::RuntimeProxy(const asio::any_io_executor& executor, const net::HostPort& upstream,
                           std::optional<Bracket> bracket, Log log)
    : executor_(executor),
      upstream_(executor, upstream),
      runtime_(executor, upstream),
      bracket_(std::move(bracket)),
      log_(std::move(log)),
      bracket_ended_(executor, asio::steady_timer::time_point::max()) {
  if (!bracket_) state_ = BracketState::done;
}

net::HttpServerOptions RuntimeProxy::listen_options(Log log) {
  // emulate_main.cpp says why the Runtime API's own server is this large and this patient.
  return {.header_limit = lambda::kRuntimeApiHeaderLimit,
          // A client may open its connection long before its first call, and a connection idle
          // across a snapshot wakes days later on the monotonic clock: the Runtime API sets no limit
          // on either wait.
          .header_timeout = net::kNoTimeout,
          .idle_timeout = net::kNoTimeout,
          // None at the header: each call's handler applies its own (none for a streamed response,
          // whose limit is the Runtime API's, which answers past it).
          .body_limit = std::numeric_limits<std::uint64_t>::max(),
          .error_format = {.content_type = "application/json", .body = lambda::json_error},
          .on_dropped_field = [log = std::move(log)](std::string_view name, std::size_t size) {
            log(
                fmt::format("the {} header ({} bytes) is longer than the 65,533 bytes snapbus can hold in a field: "
                            "it was left out",
                            name, size));
          }};
}

asio::awaitable<void> RuntimeProxy::handle(net::HttpExchange& exchange) {
  const auto& head = exchange.request();
  const bool get = head.method() == http::verb::get;
  const std::string_view path = path_of(head.target());
  if (get && state_ != BracketState::done) {
    if (path == restore_next_target()) {
      co_await restore_for_client(exchange);
      co_return;
    }
    if (path == invocation_next_target()) {
      if (!(co_await restore_before_first_next(exchange))) co_return;
      // The bracket takes as long as the hooks do: a client that gave up meanwhile and asked again
      // on another connection has that call waiting. A poll for this one would take the first
      // event to no one, and Lambda refuses (or holds) the second poll while it is out.
      if (exchange.peer_closed()) {
        log_("the client closed its first invocation/next during the SnapStart bracket; no poll is made for it");
        co_return;
      }
    }
  }
  if (state_ == BracketState::failed && failure_reported_ && head.method() == http::verb::post &&
      is_error_report(path)) {
    co_await take_error_report(exchange);
  } else if (auto poller = kept_poller(head)) {
    co_await relay_next(exchange, std::move(*poller));
  } else if (is_streamed_body(head)) {
    co_await relay_streamed(exchange);
  } else {
    co_await relay_buffered(exchange);
  }
}

// ---- the bracket --------------------------------------------------------------------------------

asio::awaitable<void> RuntimeProxy::restore_for_client(net::HttpExchange& exchange) {
  if (state_ != BracketState::due) {
    if (!(co_await wait_for_running_bracket(exchange))) co_return;
    co_await relay_buffered(exchange);  // restore/next again: the Runtime API says what it thinks of that
    co_return;
  }
  // Read before the bracket starts: a client that closes in the middle of its body must not leave
  // the bracket running, which every later call would wait for.
  std::string body = co_await exchange.read_body(kBufferedBodyLimit);
  state_ = BracketState::running;
  if (auto failure = co_await before_snapshot()) {
    co_await report_failure(exchange, true, std::move(*failure));
    co_return;
  }
  // No pooled connection opened before the snapshot is used after it.
  upstream_.drop_all();
  runtime_.drop_connections();
  log_("restore/next (the client's): the snapshot is taken now");
  auto restored =
      co_await upstream_.request(forwarded_request(exchange.request(), std::move(body)), {.no_io_timeout = true});
  upstream_.drop_all();
  if (!restored || restored->result_int() != 200) {
    // Named, not a temporary in the co_await: GCC 12 destroys those twice.
    std::string reason =
        restored ? fmt::format("{} {}", restored->result_int(), restored->body()) : restored.error().message;
    co_await reopen_after_refused_restore(std::move(reason));
    co_await answer(exchange, restored);
    co_return;
  }
  if (auto failure = co_await after_restore()) {
    co_await report_failure(exchange, false, std::move(*failure));
    co_return;
  }
  end_bracket(BracketState::done);
  co_await answer(exchange, restored);
}

asio::awaitable<bool> RuntimeProxy::restore_before_first_next(net::HttpExchange& exchange) {
  if (state_ != BracketState::due) co_return co_await wait_for_running_bracket(exchange);
  state_ = BracketState::running;
  if (auto failure = co_await before_snapshot()) {
    co_await report_failure(exchange, true, std::move(*failure));
    co_return false;
  }
  upstream_.drop_all();
  log_("restore/next (the proxy's, before the client's first invocation/next): the snapshot is taken now");
  auto restored = co_await runtime_.restore_next();
  upstream_.drop_all();
  if (!restored) {
    // The proxy's own call, which the client never asked for: it goes on as it would without it.
    std::string reason = restored.error().message;
    co_await reopen_after_refused_restore(std::move(reason));
    co_return true;
  }
  if (auto failure = co_await after_restore()) {
    co_await report_failure(exchange, false, std::move(*failure));
    co_return false;
  }
  end_bracket(BracketState::done);
  co_return true;
}

// restore/next refused (no snapshot, or none to restore from): the before-snapshot hooks closed what
// they close, and nothing would reopen it, so the after-restore hooks run, as CRaC runs afterRestore
// after a failed checkpoint. Their failure is only logged: Lambda is not restoring anything to
// report it for.
asio::awaitable<void> RuntimeProxy::reopen_after_refused_restore(std::string reason) {
  log_(fmt::format(
      "restore/next was refused ({}): no snapshot was restored; the after-restore hooks run so that every process "
      "reopens what its before-snapshot hooks closed",
      reason));
  if (auto failure = co_await after_restore()) {
    log_(fmt::format("after the refused restore/next: {}: {}", failure->type, failure->message));
  }
  end_bracket(BracketState::done);
}

// Another call that needs the bracket waits for the one running it; after a failure every such
// call gets the same error.
asio::awaitable<bool> RuntimeProxy::wait_for_running_bracket(net::HttpExchange& exchange) {
  while (state_ == BracketState::running) co_await bracket_ended_.async_wait(kAsValues);
  if (state_ != BracketState::failed) co_return true;
  co_await exchange.respond(http::status::internal_server_error, lambda::json_error(failure_->type, failure_->message));
  co_return false;
}

asio::awaitable<std::optional<lambda::FunctionError>> RuntimeProxy::before_snapshot() {
  co_return co_await bracket_->before_snapshot();
}

asio::awaitable<std::optional<lambda::FunctionError>> RuntimeProxy::after_restore() {
  co_return co_await bracket_->after_restore();
}

// Lambda hears of the failure from the proxy (the client cannot know of the other processes), and
// the client's call fails with the same error, which ends a well-behaved client.
asio::awaitable<void> RuntimeProxy::report_failure(net::HttpExchange& exchange, bool during_init,
                                                   lambda::FunctionError failure) {
  if (bracket_->stopping && bracket_->stopping()) {
    log_(fmt::format("{} stopped by the shutdown: {}", during_init ? "before-snapshot" : "after-restore",
                     failure.message));
    end_bracket(BracketState::failed);
    co_return;
  }
  log_(fmt::format("{}: {}: {}", during_init ? "init/error" : "restore/error", failure.type, failure.message));
  lambda::CallResult<void> sent;
  if (during_init) {
    sent = co_await runtime_.init_error(failure);
  } else {
    sent = co_await runtime_.restore_error(failure);
  }
  if (!sent) log_(fmt::format("the error was not accepted: {}", sent.error().message));
  failure_reported_ = static_cast<bool>(sent);
  failure_ = std::move(failure);
  end_bracket(BracketState::failed);
  co_await exchange.respond(http::status::internal_server_error, lambda::json_error(failure_->type, failure_->message));
}

// The client's own init/error or restore/error after the proxy reported the bracket's failure: a
// client whose restore/next failed reports that (awslambdaric posts init/error typed
// Runtime.BeforeSnapshotError). Lambda took the proxy's report, which names the process and the hook,
// and would refuse a second one (403), which a client that checks the answer takes for a failure of
// its own; so the proxy takes it, says so, and answers as Lambda answers a first one.
asio::awaitable<void> RuntimeProxy::take_error_report(net::HttpExchange& exchange) {
  co_await exchange.read_body(kBufferedBodyLimit);  // and dropped: the connection stays usable
  const std::string_view type = exchange.request()[lambda::kHeaderFunctionErrorType];
  log_(fmt::format("the client's {} ({}) is not sent on: Lambda already has the proxy's report ({}: {})",
                   exchange.request().target(), type.empty() ? std::string_view("no error type") : type, failure_->type,
                   failure_->message));
  co_await exchange.respond(http::status::accepted, std::string(lambda::kAcceptedBody), lambda::kContentTypeJson);
}

void RuntimeProxy::end_bracket(BracketState state) {
  state_ = state;
  bracket_ended_.cancel();
}

// ---- forwarding ---------------------------------------------------------------------------------

// invocation/next, or an extension's event/next: each call its own upstream long poll, as each would
// have without the proxy (several pollers are how a runtime takes concurrent invocations, as on
// Lambda Managed Instances). A client that goes away while it waits does not lose the event: its
// poll stays here, and the same poller's next call takes it over instead of asking upstream again.
asio::awaitable<void> RuntimeProxy::relay_next(net::HttpExchange& exchange, std::string poller) {
  const std::string path(path_of(exchange.request().target()));
  // No client sends a body with its poll, but one that did has it forwarded as sent (with a poll it
  // makes; a kept poll went upstream with its own). Read first, it is not taken for bytes pipelined
  // behind the call while the watch below waits for the client's close.
  std::string body = co_await exchange.read_body(kBufferedBodyLimit);
  auto& kept = unclaimed_next_[poller];
  std::shared_ptr<PendingNext> pending;
  // A kept poll that failed (the connection to the Runtime API broke) holds no event: handing its
  // error to this call would fail a client that the Runtime API, back by now, could serve.
  while (!kept.empty() && kept.front()->result && !*kept.front()->result) {
    log_(fmt::format("a kept {} of {} had failed ({}); this call polls anew", path, poller,
                     kept.front()->result->error().message));
    kept.pop_front();
  }
  if (!kept.empty()) {
    pending = std::move(kept.front());
    kept.pop_front();
  } else {
    pending = std::make_shared<PendingNext>(executor_);
    asio::co_spawn(executor_, fetch_next(pending, forwarded_request(exchange.request(), std::move(body))),
                   asio::detached);
  }
  // No empty queue is left behind for a poller that never leaves again (an extension's identifier
  // is new in each environment).
  if (kept.empty()) unclaimed_next_.erase(poller);
  bool gone = false;
  if (!pending->result) {
    exchange.watch_peer_close([&gone, pending] {
      gone = true;
      pending->arrived.cancel();
    });
  }
  while (!pending->result && !gone) co_await pending->arrived.async_wait(kAsValues);
  // The event and the client's close may come in the same turn of the loop, the event first: look
  // once more before handing it to a client that has gone.
  if (!gone && exchange.peer_closed()) gone = true;
  if (gone) {
    log_(fmt::format("{} closed its {} {}; the answer is kept for its next call", poller, path,
                     pending->result ? "as the answer came" : "while waiting, and the poll goes on upstream"));
    unclaimed_next_[poller].push_back(std::move(pending));
    co_return;
  }
  exchange.stop_watching();
  co_await answer(exchange, *pending->result);
}

asio::awaitable<void> RuntimeProxy::fetch_next(std::shared_ptr<PendingNext> pending, net::Request request) {
  pending->result = co_await upstream_.request(std::move(request), {.no_io_timeout = true});
  pending->arrived.cancel();
}

asio::awaitable<void> RuntimeProxy::relay_buffered(net::HttpExchange& exchange) {
  // Passed on piece by piece (chunked) instead: the Runtime API refuses it and fails the invocation
  // (Function.ResponseSizeTooLarge) as it would without the proxy, where a refusal by the proxy
  // would leave the invocation unanswered and break the client's upload.
  if (too_large_to_hold(exchange.request())) {
    co_await relay_streamed(exchange);
    co_return;
  }
  std::string body;
  std::exception_ptr cut_short;
  try {
    body = co_await exchange.read_body(kBufferedBodyLimit);
  } catch (const boost::system::system_error&) {
    cut_short = std::current_exception();  // the client closed before its body ended
  }
  if (cut_short) {
    co_await report_cut_short(exchange.request());
    std::rethrow_exception(cut_short);
  }
  const bool long_poll = is_long_poll(exchange.request().target());
  auto answered =
      co_await upstream_.request(forwarded_request(exchange.request(), std::move(body)), {.no_io_timeout = long_poll});
  co_await answer(exchange, answered);
}

// Without the proxy, an answer cut short reaches Lambda cut short, which fails the invocation at
// once (Runtime.TruncatedResponse). The proxy has forwarded none of it, so it says as much for the
// invocation; left unsaid, the invocation would wait out the function's timeout. Any other call
// cut short was never made: the log says so.
asio::awaitable<void> RuntimeProxy::report_cut_short(const http::request_header<>& head) {
  const std::string_view target = head.target();
  const auto request_id = answered_invocation(path_of(target));
  if (!request_id) {
    log_(fmt::format("{} {}: the client closed its connection before the body ended; nothing was forwarded",
                     std::string(http::to_string(head.method())), std::string(target)));
    co_return;
  }
  const std::string message =
      fmt::format("the runtime client closed its connection before the body of its {} ended", std::string(target));
  log_(fmt::format("{}: Runtime.TruncatedResponse posted for invocation {}", message, std::string(*request_id)));
  // Named, not temporaries in the co_await: GCC 12 destroys those twice.
  std::string id(*request_id);
  lambda::FunctionError error{.type = "Runtime.TruncatedResponse", .message = message};
  auto posted = co_await runtime_.post_error(std::move(id), std::move(error));
  if (!posted) log_(fmt::format("the error was not accepted: {}", posted.error().message));
}

// Thrown by relay_streamed's sink to stop reading the client's body once the Runtime API stopped
// taking it.
struct UpstreamStopped {};

// A streamed response: each piece goes upstream before the next is read from the client, and the
// trailers (an error in mid-stream) follow at the end. A client that dies mid-stream leaves the
// upstream body unterminated, which Lambda reports as it would without the proxy. When the Runtime
// API stops taking the body (it refused the response, or went away), no more of it is read: the
// client gets the answer at once and its connection is closed, as its own write would fail or its
// read find the refusal without the proxy (a stream that never ends would otherwise run to the
// function's timeout, every piece thrown away).
asio::awaitable<void> RuntimeProxy::relay_streamed(net::HttpExchange& exchange) {
  const auto& head = exchange.request();
  http::request_header<> header;
  header.method(head.method());
  header.target(head.target());
  // HTTP/1.1 whatever the client spoke: a chunked body on an HTTP/1.0 request is read as no body
  // (Go's net/http, which serves the Runtime API, ignores its Transfer-Encoding).
  header.version(11);
  copy_streamed_fields(head, header);
  // As the client's own upload would: a slow reader behind the Runtime API holds writes back for as
  // long as it likes (the function timeout is the limit).
  auto upload = co_await upstream_.begin_chunked(std::move(header), {.no_io_timeout = true});
  if (!upload) {
    co_await exchange.respond(http::status::bad_gateway,
                              lambda::json_error("Proxy.UpstreamError", upload.error().message));
    co_return;
  }
  std::optional<net::NetError> upstream_failure;
  // Every trailer is passed on, whether the Trailer header announced it or not, as the Runtime API
  // takes them either way. No limit of the proxy's own: past Lambda's, the Runtime API refuses the
  // response (Function.ResponseSizeTooLarge) and the client gets that answer, as without the proxy,
  // where a limit here would cut the stream and make it a Runtime.TruncatedResponse.
  net::Trailers trailers;
  try {
    trailers = co_await exchange.relay_body_pieces(
        std::numeric_limits<std::uint64_t>::max(),
        [&upload, &upstream_failure](std::string_view piece) -> asio::awaitable<void> {
          auto written = co_await upload->write(piece);
          if (!written) {
            upstream_failure = written.error();
            throw UpstreamStopped{};
          }
        });
  } catch (const UpstreamStopped&) {
    // upstream_failure says why; the rest of the client's body stays unread.
  }
  if (upstream_failure) {
    // The Runtime API may have refused the response before it ended (a wrong request id, an
    // invocation that timed out, too large) and stopped reading: the client gets that answer, as it
    // would without the proxy, rather than the proxy's own 502.
    auto refused = co_await upload->early_answer();
    if (refused) {
      log_(fmt::format("{}: the Runtime API answered {} before the body ended", std::string(head.target()),
                       refused->status()));
      co_await answer(exchange, co_await std::move(*refused).read_all());
      co_return;
    }
    co_await exchange.respond(http::status::bad_gateway,
                              lambda::json_error("Proxy.UpstreamError", upstream_failure->message));
    co_return;
  }
  auto stream = co_await upload->finish(trailers);
  if (!stream) {
    co_await exchange.respond(http::status::bad_gateway,
                              lambda::json_error("Proxy.UpstreamError", stream.error().message));
    co_return;
  }
  auto answered = co_await std::move(*stream).read_all();
  co_await answer(exchange, answered);
}

asio::awaitable<void> RuntimeProxy::answer(net::HttpExchange& exchange, const net::NetResult<net::Response>& upstream) {
  if (!upstream) {
    log_(fmt::format("{} {}: {}", std::string(http::to_string(exchange.request().method())),
                     std::string(exchange.request().target()), upstream.error().message));
    co_await exchange.respond(http::status::bad_gateway,
                              lambda::json_error("Proxy.UpstreamError", upstream.error().message));
    co_return;
  }
  http::fields fields;
  copy_fields(upstream->base(), fields);
  co_await exchange.respond(static_cast<http::status>(upstream->result_int()), upstream->body(), "", &fields);
}

}  // namespace snapbus::adapter
