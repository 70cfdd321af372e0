#include "listen_notice.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <limits>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "listen_notice_wire.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
using datagram = asio::local::datagram_protocol;

// A decimal number that fills `text` exactly, within [min, max] (min >= 1), spelt as the library
// prints it: no sign, no leading zero.
template <typename T>
std::optional<T> whole_number(std::string_view text, T min, T max) {
  if (text.empty() || text.front() == '0') return std::nullopt;
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < min || value > max) return std::nullopt;
  return value;
}

// Splits off the word before the first space; the rest after it.
std::string_view next_word(std::string_view& text) {
  const auto space = text.find(' ');
  const std::string_view word = text.substr(0, space);
  text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
  return word;
}

}  // namespace

std::optional<ListenNotice> parse_listen_notice(std::string_view datagram) {
  // Words are separated by one space each, with none after the last.
  if (datagram.empty() || datagram.back() == ' ') return std::nullopt;
  using Kind = ListenNotice::Kind;
  static constexpr std::array<std::pair<std::string_view, Kind>, 5> kKinds{{
      {"hello", Kind::hello},
      {"unheard", Kind::unheard},
      {"listen", Kind::listen},
      {"exec", Kind::exec},
      {"spawn", Kind::spawn},
  }};
  const std::string_view kind = next_word(datagram);
  const auto* known = std::find_if(kKinds.begin(), kKinds.end(), [kind](const auto& k) { return k.first == kind; });
  if (known == kKinds.end()) return std::nullopt;
  ListenNotice notice;
  notice.kind = known->second;
  const auto pid = whole_number<pid_t>(next_word(datagram), 1, std::numeric_limits<pid_t>::max());
  if (!pid) return std::nullopt;
  notice.pid = *pid;
  if (notice.kind == ListenNotice::Kind::listen) {
    const auto port = whole_number<std::uint16_t>(next_word(datagram), 1, 65535);
    if (!port) return std::nullopt;
    notice.port = *port;
  }
  if (!datagram.empty()) return std::nullopt;
  return notice;
}

std::string listen_notice_name(const std::filesystem::path& segment_path) {
  std::array<char, SNAPBUS_LISTEN_NOTICE_NAME_SIZE> name{};
  snapbus_listen_notice_name(segment_path.c_str(), name.data());
  return name.data();
}

ListenNotices::ListenNotices(const asio::any_io_executor& executor, const std::filesystem::path& segment_path)
    : socket_(executor), timer_(executor) {
  const std::string name = listen_notice_name(segment_path);
  boost::system::error_code error;
  socket_.open(datagram(), error);
  // A leading NUL makes the name abstract.
  if (!error) socket_.bind(datagram::endpoint(std::string(1, '\0') + name), error);
  if (!error) socket_.non_blocking(true, error);
  if (error) {
    error_ = fmt::format("cannot bind @{}: {}", name, error.message());
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
}

std::optional<ListenNotice> ListenNotices::take_listen() { return std::exchange(listen_, std::nullopt); }

void ListenNotices::drain() {
  std::array<char, 64> buffer{};
  for (;;) {
    boost::system::error_code error;
    const std::size_t size = socket_.receive(asio::buffer(buffer), 0, error);
    if (error) return;  // would_block: nothing more waits
    if (const auto notice = parse_listen_notice(std::string_view(buffer.data(), size))) hear(*notice);
  }
}

void ListenNotices::hear(const ListenNotice& notice) {
  announced_ = true;
  switch (notice.kind) {
    case ListenNotice::Kind::hello:
      said_hello_.insert(notice.pid);
      unheard_.erase(notice.pid);
      break;
    // A program that may listen unheard ends the wait too: the waiter polls faster from now on.
    case ListenNotice::Kind::unheard:
    case ListenNotice::Kind::exec:
      said_hello_.erase(notice.pid);
      if (unheard_.insert(notice.pid).second) wake_waiter_ = true;
      break;
    case ListenNotice::Kind::spawn:
      // The child's hello may have come first: then its program is one the library reaches.
      if (!said_hello_.contains(notice.pid) && unheard_.insert(notice.pid).second) wake_waiter_ = true;
      break;
    case ListenNotice::Kind::listen:
      listen_ = notice;
      wake_waiter_ = true;
      break;
  }
}

bool ListenNotices::every_listen_heard() {
  if (receiving()) drain();
  // A helper that ran and exited (a static tool the start script called) listens no more.
  std::erase_if(unheard_, [](pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; });
  return announced_ && unheard_.empty();
}

void ListenNotices::watch_socket() {
  if (watching_ || !receiving()) return;
  watching_ = true;
  // Stays armed across waits, so a wait that ends at its deadline costs no epoll_ctl to re-arm it.
  socket_.async_wait(datagram::socket::wait_read, [this](const boost::system::error_code& error) {
    // Aborted: the socket closed with its owner, which must not be touched.
    if (error == asio::error::operation_aborted) return;
    watching_ = false;
    if (error) return;  // a failed socket would report it again at once: waits fall back to the timer
    drain();
    if (wake_waiter_) timer_.cancel();
    watch_socket();
  });
}

void ListenNotices::stop_watching() {
  if (!std::exchange(watching_, false)) return;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

void ListenNotices::close() {
  stop_watching();
  boost::system::error_code ignored;
  socket_.close(ignored);
}

asio::awaitable<void> ListenNotices::wait_until(std::chrono::steady_clock::time_point deadline) {
  drain();
  if (std::exchange(wake_waiter_, false)) co_return;
  watch_socket();
  timer_.expires_at(deadline);
  co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  wake_waiter_ = false;
}

}  // namespace snapbus::adapter
