// Proxy mode: a transparent Runtime API proxy on loopback, for a runtime client snapbus does not
// replace (Lambda Web Adapter through AWS_LWA_LAMBDA_RUNTIME_API_PROXY; awslambdaric or a custom
// runtime pointed at it by the exec wrapper), which takes over the SnapStart bracket.
//
//   RuntimeProxy proxy(io.get_executor(), upstream, bracket, log_line);
//   net::http_listen(io, "127.0.0.1", 9009, [&proxy](net::HttpExchange& ex) { return proxy.handle(ex); });
//
// Every call is forwarded as it came: method, target, headers (Host names the upstream; an Expect:
// 100-continue the proxy answers itself) and body byte for byte (one over 16 MB goes on chunked, for
// the Runtime API to refuse); a streamed response chunk by chunk with its trailers, announced or
// not, each chunk sent on before the next is read; long polls held open for as long as they take.
// Extensions API calls too, and an extension's event/next is kept as invocation/next is.
//
// The bracket (snap-start only): on the client's restore/next, before-snapshot, then forward it,
// then after-restore, then answer. A client that asks for invocation/next first (most never call
// restore/next) gets the same bracket, with the proxy calling restore/next itself, before its
// next is forwarded. A failed step is reported upstream (init/error or restore/error, naming the
// process and the hook) and the client's call is answered 500 with the same error. A restore/next
// the Runtime API refuses still ends with after-restore, so the processes reopen what
// before-snapshot closed.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "snapbus/error_body.h"
#include "snapbus/http_client.h"
#include "snapbus/http_exchange.h"
#include "snapbus/http_server.h"
#include "snapbus/runtime_client.h"

namespace snapbus::adapter {

class RuntimeProxy {
 public:
  using Step = std::function<boost::asio::awaitable<std::optional<lambda::FunctionError>>()>;
  // The two halves of the bracket; each answers nullopt when every process acknowledged.
  struct Bracket {
    Step before_snapshot;
    Step after_restore;
    // True once a shutdown has begun: a step that failed then was stopped by it, and Lambda, which
    // is ending the environment, is told nothing. Unset: never.
    std::function<bool()> stopping;
  };
  using Log = std::function<void(std::string_view line)>;

  // `bracket`: nullopt when the environment is not snap-start (everything is forwarded).
  RuntimeProxy(const boost::asio::any_io_executor& executor, const net::HostPort& upstream,
               std::optional<Bracket> bracket, Log log);
  RuntimeProxy(const RuntimeProxy&) = delete;
  RuntimeProxy& operator=(const RuntimeProxy&) = delete;

  // The server loop's handler for one client request.
  boost::asio::awaitable<void> handle(net::HttpExchange& exchange);

  // How the proxy's server listens: as large and as patient as the Runtime API it stands for.
  // `log` hears of a header field left out.
  static net::HttpServerOptions listen_options(Log log);

 private:
  struct PendingNext;
  enum class BracketState { due, running, done, failed };

  boost::asio::awaitable<void> restore_for_client(net::HttpExchange& exchange);
  boost::asio::awaitable<bool> restore_before_first_next(net::HttpExchange& exchange);
  boost::asio::awaitable<bool> wait_for_running_bracket(net::HttpExchange& exchange);
  boost::asio::awaitable<void> reopen_after_refused_restore(std::string reason);
  boost::asio::awaitable<std::optional<lambda::FunctionError>> before_snapshot();
  boost::asio::awaitable<std::optional<lambda::FunctionError>> after_restore();
  boost::asio::awaitable<void> report_failure(net::HttpExchange& exchange, bool during_init,
                                              lambda::FunctionError failure);
  boost::asio::awaitable<void> take_error_report(net::HttpExchange& exchange);
  void end_bracket(BracketState state);

  boost::asio::awaitable<void> relay_next(net::HttpExchange& exchange, std::string poller);
  boost::asio::awaitable<void> fetch_next(std::shared_ptr<PendingNext> pending, net::Request request);
  boost::asio::awaitable<void> relay_buffered(net::HttpExchange& exchange);
  boost::asio::awaitable<void> report_cut_short(const boost::beast::http::request_header<>& head);
  boost::asio::awaitable<void> relay_streamed(net::HttpExchange& exchange);
  boost::asio::awaitable<void> answer(net::HttpExchange& exchange, const net::NetResult<net::Response>& upstream);

  boost::asio::any_io_executor executor_;
  net::HttpClient upstream_;
  lambda::RuntimeClient runtime_;  // the proxy's own calls: restore/next, init/error, restore/error
  std::optional<Bracket> bracket_;
  Log log_;
  BracketState state_ = BracketState::due;
  std::optional<lambda::FunctionError> failure_;  // once the bracket failed
  bool failure_reported_ = false;                 // and Lambda accepted the proxy's report of it
  boost::asio::steady_timer bracket_ended_;       // cancelled when the bracket ends
  // Upstream long polls whose client went away before the event came (or after), by who polled
  // (the runtime, or one extension): its next call takes the oldest rather than asking upstream
  // again, so no event is lost.
  std::map<std::string, std::deque<std::shared_ptr<PendingNext>>, std::less<>> unclaimed_next_;
};

}  // namespace snapbus::adapter
