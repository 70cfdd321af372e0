// Hears the app's processes announce themselves, their listen() and the programs they run
// (listen_notice_preload.c, which /opt/bootstrap preloads into them), so that the readiness check
// runs the moment the app listens, and is polled only slowly while it starts.
//
//   ListenNotices notices(executor, "/tmp/snapbus.seg");   // before the app starts
//   co_await notices.wait_until(std::chrono::steady_clock::now() + 5ms);   // returns early on a listen()
//   if (auto listen = notices.take_listen()) log(listen->pid, listen->port);
//   if (notices.every_listen_heard()) poll_slowly();
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

namespace snapbus::adapter {

struct ListenNotice {
  enum class Kind { hello, unheard, listen, exec, spawn };
  Kind kind = Kind::hello;
  pid_t pid = 0;
  std::uint16_t port = 0;  // of a listen
};

// One datagram (listen_notice_wire.h); nullopt for anything else: any process of the network
// namespace may send to the socket.
std::optional<ListenNotice> parse_listen_notice(std::string_view datagram);

// The abstract socket's name for a segment, without the leading NUL (listen_notice_wire.h).
std::string listen_notice_name(const std::filesystem::path& segment_path);

class ListenNotices {
 public:
  // Binds the name for `segment_path` at once, so it must be made before the app starts. When the
  // name is taken (another adapter of the same segment), receiving() is false and wait_until()
  // only waits.
  ListenNotices(const boost::asio::any_io_executor& executor, const std::filesystem::path& segment_path);

  [[nodiscard]] bool receiving() const { return socket_.is_open(); }
  // Why not receiving, for the log.
  [[nodiscard]] const std::string& error() const { return error_; }
  // A process of the app started with the library loaded: a listen() of its will be announced.
  [[nodiscard]] bool app_announced() const { return announced_; }
  // The app announced itself, and no process of it that is still alive runs a program whose
  // listen() would go unannounced: one it exec'd or spawned that has not said hello (statically
  // linked, or started without the library), or a Go program. Reads the datagrams waiting first.
  bool every_listen_heard();
  // The latest listen() announced since the last call.
  std::optional<ListenNotice> take_listen();

  // Returns at `deadline`, or as soon as a listen() is announced, or a process starts running a
  // program whose listen() may go unheard (see every_listen_heard), that no earlier wait returned
  // for (also one announced before the call). The socket stays watched between waits, so that a wait
  // costs no system call to set up: call stop_watching() after the last one, or the watch keeps the
  // io_context's run() from returning.
  boost::asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline);
  void stop_watching();
  // Once the app is ready: the processes that start later (workers, their children) have their
  // datagrams refused at once rather than queued in a socket nobody reads.
  void close();

 private:
  // Reads every datagram waiting, without blocking.
  void drain();
  // Keeps one wait for a datagram armed; a listen() heard ends the current wait_until().
  void watch_socket();

  boost::asio::local::datagram_protocol::socket socket_;
  boost::asio::steady_timer timer_;
  std::string error_;
  // Takes one datagram into the state below.
  void hear(const ListenNotice& notice);

  bool announced_ = false;
  std::set<pid_t> said_hello_;  // since their last exec
  std::set<pid_t> unheard_;     // may listen without a notice
  std::optional<ListenNotice> listen_;
  bool wake_waiter_ = false;  // something the current or next wait_until() returns for
  bool watching_ = false;
};

}  // namespace snapbus::adapter
