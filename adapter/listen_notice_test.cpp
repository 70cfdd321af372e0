#include "listen_notice.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "readiness.h"
#include "snapbus/unique_fd.h"
#include "spawned_process.h"
#include "testing/loopback_socket.h"
#include "testing/scratch_directory.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using snapbus::testing::ExitResult;
using snapbus::testing::ScratchDirectory;
using snapbus::testing::SpawnedProcess;

constexpr const char* kPython = "/usr/bin/python3";

// A Python process with the preload library, as /opt/bootstrap starts the app's processes.
SpawnedProcess preloaded_python(const std::filesystem::path& segment, const std::string& script) {
  return SpawnedProcess({kPython, "-c", script},
                        {{"LD_PRELOAD", SNAPBUS_LISTEN_NOTICE_LIBRARY}, {"SNAPBUS_SEGMENT", segment.string()}});
}

// Runs `io` until `done` is ready, at most `timeout`; false when it was not.
template <typename T>
bool run_until(asio::io_context& io, std::future<T>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (done.wait_for(0s) != std::future_status::ready && Clock::now() < deadline) io.run_for(10ms);
  return done.wait_for(0s) == std::future_status::ready;
}

TEST(ListenNoticeName, DependsOnTheSegmentPathAlone) {
  const std::string name = listen_notice_name("/tmp/snapbus.seg");
  EXPECT_EQ(name.size(), 31U);
  EXPECT_EQ(name.rfind("snapbus-listen-", 0), 0U) << name;
  EXPECT_EQ(listen_notice_name("/tmp/snapbus.seg"), name);
  EXPECT_NE(listen_notice_name("/tmp/snapbus2.seg"), name);
  // A path longer than an abstract name may be still gives a name of the same length.
  EXPECT_EQ(listen_notice_name("/tmp/" + std::string(300, 'x')).size(), 31U);
}

TEST(ParseListenNotice, ReadsWhatTheLibrarySends) {
  auto hello = parse_listen_notice("hello 42");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->kind, ListenNotice::Kind::hello);
  EXPECT_EQ(hello->pid, 42);
  auto listen = parse_listen_notice("listen 7 8080");
  ASSERT_TRUE(listen);
  EXPECT_EQ(listen->kind, ListenNotice::Kind::listen);
  EXPECT_EQ(listen->pid, 7);
  EXPECT_EQ(listen->port, 8080);
  for (const auto& [datagram, kind] :
       {std::pair{"unheard 9", ListenNotice::Kind::unheard}, std::pair{"exec 10", ListenNotice::Kind::exec},
        std::pair{"spawn 11", ListenNotice::Kind::spawn}}) {
    auto notice = parse_listen_notice(datagram);
    ASSERT_TRUE(notice) << datagram;
    EXPECT_EQ(notice->kind, kind) << datagram;
    EXPECT_EQ(notice->pid, std::stoi(std::string(datagram).substr(std::string(datagram).find(' ') + 1)));
  }
}

TEST(ParseListenNotice, RefusesAnythingElse) {
  for (const char* datagram : {"",
                               "hello",
                               "hello ",
                               "hello 0",
                               "hello -3",
                               "hello 12x",
                               "hello 12 13",
                               "listen 7",
                               "listen 7 0",
                               "listen 7 65536",
                               "listen 7 80 ",
                               "listen x 80",
                               "LISTEN 7 80",
                               "goodbye 7",
                               "hello 99999999999999999999",
                               "hello 012",
                               "listen 7 080",
                               "hello +7",
                               "exec",
                               "exec 0",
                               "exec 7 80",
                               "spawn -1",
                               "unheard",
                               "unheard 7 ",
                               "Exec 7"}) {
    EXPECT_FALSE(parse_listen_notice(datagram)) << '"' << datagram << '"';
  }
}

// The abstract address of a segment's notice socket, as the library sends to it.
struct NoticeAddress {
  explicit NoticeAddress(const std::filesystem::path& segment) {
    address.sun_family = AF_UNIX;
    const std::string name = listen_notice_name(segment);
    std::memcpy(address.sun_path + 1, name.data(), name.size());  // sun_path[0] stays NUL: abstract
    size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  }
  [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&address); }
  sockaddr_un address{};
  socklen_t size = 0;
};

// Everything the library sends, read from the abstract socket directly.
class RawNoticeSocket {
 public:
  explicit RawNoticeSocket(const std::filesystem::path& segment)
      : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    const NoticeAddress address(segment);
    bound_ = ::bind(fd_.get(), address.get(), address.size) == 0;
    const timeval timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  [[nodiscard]] bool bound() const { return bound_; }
  // The next datagram, or "" after 10 s.
  std::string next() {
    std::array<char, 128> buffer{};
    const ssize_t size = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
    return size > 0 ? std::string(buffer.data(), static_cast<std::size_t>(size)) : std::string();
  }

 private:
  UniqueFd fd_;
  bool bound_ = false;
};

TEST(ListenNoticeLibrary, AnnouncesTheProcessAndEachTcpListenButNothingElse) {
  ScratchDirectory dir;
  RawNoticeSocket notices(dir.path() / "bus.seg");
  ASSERT_TRUE(notices.bound());
  // A failed listen() keeps its result and errno; a Unix socket's listen() is not announced.
  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", R"(
import ctypes, os, socket, time
libc = ctypes.CDLL(None, use_errno=True)
print("bad", libc.listen(-1, 1), ctypes.get_errno(), flush=True)
unix = socket.socket(socket.AF_UNIX)
unix.bind("\0snapbus-test-" + str(os.getpid()))
unix.listen()
tcp = socket.socket()
tcp.bind(("127.0.0.1", 0))
tcp.listen()
print("port", tcp.getsockname()[1], "end", flush=True)
time.sleep(60)
)");
  ASSERT_TRUE(app.wait_for_output(" end\n", 10s)) << app.stdout_so_far() << app.stderr_so_far();
  EXPECT_NE(app.stdout_so_far().find("bad -1 9\n"), std::string::npos) << app.stdout_so_far();  // EBADF
  const std::string out = app.stdout_so_far();
  const auto port_at = out.find("port ") + 5;
  const std::string port = out.substr(port_at, out.find(" end") - port_at);

  EXPECT_EQ(notices.next(), "hello " + std::to_string(app.pid()));
  EXPECT_EQ(notices.next(), "listen " + std::to_string(app.pid()) + " " + port);
}

// The adapter's notice socket, for a segment of the test's own.
class AdapterNoticeSocket : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(notices.receiving()) << notices.error(); }

  ScratchDirectory dir;
  asio::io_context io;
  ListenNotices notices{io.get_executor(), dir.path() / "bus.seg"};
};

TEST_F(AdapterNoticeSocket, HearAPreloadedProcessStartAndListen) {
  EXPECT_FALSE(notices.app_announced());

  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", R"(
import socket, time
tcp = socket.socket()
tcp.bind(("127.0.0.1", 0))
tcp.listen()
print("port", tcp.getsockname()[1], flush=True)
time.sleep(60)
)");
  auto heard = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<std::optional<ListenNotice>> {
        // Each wait returns at its deadline or on the listen(); 100 of them bound the test.
        for (int i = 0; i < 100; ++i) {
          co_await notices.wait_until(Clock::now() + 100ms);
          if (auto listen = notices.take_listen()) co_return listen;
        }
        co_return std::nullopt;
      },
      asio::use_future);
  ASSERT_TRUE(run_until(io, heard, 20s));
  const auto listen = heard.get();
  ASSERT_TRUE(listen) << app.stderr_so_far();
  EXPECT_TRUE(notices.app_announced());
  EXPECT_EQ(listen->pid, app.pid());
  ASSERT_TRUE(app.wait_for_output("\n", 10s));
  EXPECT_EQ(app.stdout_so_far(), "port " + std::to_string(listen->port) + "\n");
  EXPECT_FALSE(notices.take_listen());
}

TEST_F(AdapterNoticeSocket, IgnoreDatagramsThatAreNotNotices) {
  {
    RawNoticeSocket sender_name_taken(dir.path() / "bus.seg");
    EXPECT_FALSE(sender_name_taken.bound());  // the adapter holds the name
  }
  const UniqueFd sender(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const NoticeAddress address(dir.path() / "bus.seg");
  for (std::string_view junk : {"listen 1 99999", "hello", "\x01\x02"}) {
    ASSERT_EQ(::sendto(sender.get(), junk.data(), junk.size(), 0, address.get(), address.size),
              static_cast<ssize_t>(junk.size()));
  }
  auto waited = asio::co_spawn(io, notices.wait_until(Clock::now() + 50ms), asio::use_future);
  ASSERT_TRUE(run_until(io, waited, 10s));
  EXPECT_FALSE(notices.app_announced());
  EXPECT_FALSE(notices.take_listen());
}

TEST(ListenNotices, ASecondAdapterOfTheSameSegmentDoesNotReceive) {
  ScratchDirectory dir;
  asio::io_context io;
  ListenNotices first(io.get_executor(), dir.path() / "bus.seg");
  ListenNotices second(io.get_executor(), dir.path() / "bus.seg");
  EXPECT_TRUE(first.receiving());
  EXPECT_FALSE(second.receiving());
  EXPECT_NE(second.error().find("Address already in use"), std::string::npos) << second.error();
  EXPECT_NE(second.error().find(listen_notice_name(dir.path() / "bus.seg")), std::string::npos) << second.error();
  // Without the socket a wait is a plain wait.
  auto waited = asio::co_spawn(io, second.wait_until(Clock::now() + 20ms), asio::use_future);
  EXPECT_TRUE(run_until(io, waited, 10s));
}

TEST_F(AdapterNoticeSocket, CloseRefusesLaterDatagramsAndFreesTheName) {
  notices.close();
  EXPECT_FALSE(notices.receiving());
  // The library's datagram now finds nobody: the process starts all the same.
  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", "print('started', flush=True)");
  EXPECT_EQ(app.wait_exit(10s).code, 0);
  EXPECT_EQ(app.stdout_so_far(), "started\n");
  RawNoticeSocket again(dir.path() / "bus.seg");
  EXPECT_TRUE(again.bound());
}

// A readiness wait on a port nothing listens on yet, with the adapter's notice socket.
class NoticedReadiness : public AdapterNoticeSocket {
 protected:
  // The cadences of a refused check: for an app that announced nothing, for one that did, and for
  // one whose every listen() is heard.
  std::future<Readiness> start_waiting(std::chrono::milliseconds silent, std::chrono::milliseconds announced,
                                       std::chrono::milliseconds heard) {
    const ReadinessCheck check{.host = "127.0.0.1",
                               .port = port,
                               .protocol = ReadinessProtocol::tcp,
                               .refused_retry = silent,
                               .announced_refused_retry = announced,
                               .heard_refused_retry = heard};
    return asio::co_spawn(io,
                          wait_until_ready(
                              check, std::chrono::minutes(2), [](std::string_view) {}, &notices),
                          asio::use_future);
  }

  const std::uint16_t port = testing::free_loopback_port();
};

// With every polling cadence at a minute, only the announced listen() can end the wait in time.
TEST_F(NoticedReadiness, IsCheckedWhenTheAppAnnouncesItsListen) {
  constexpr std::chrono::minutes kMinute{1};
  auto ready = start_waiting(kMinute, kMinute, kMinute);
  io.run_for(20ms);  // the first check is refused: nothing listens yet
  ASSERT_NE(ready.wait_for(0s), std::future_status::ready);
  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", R"(
import socket, time
tcp = socket.socket()
tcp.bind(("127.0.0.1", )" + std::to_string(port) + R"())
tcp.listen()
time.sleep(60)
)");
  ASSERT_TRUE(run_until(io, ready, 20s)) << app.stderr_so_far();
  EXPECT_EQ(ready.get(), Readiness::ready);
  EXPECT_TRUE(notices.app_announced());
  const auto listen = notices.take_listen();
  ASSERT_TRUE(listen);
  EXPECT_EQ(listen->port, port);
}

// The port a tcp_listener printed ("port <n>"), once it has.
std::optional<std::uint16_t> printed_port(SpawnedProcess& listener) {
  if (!listener.wait_for_output("\n", 10s)) return std::nullopt;
  const std::string& out = listener.stdout_so_far();
  if (out.rfind("port ", 0) != 0) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoul(out.substr(5)));
}

TEST(ListenNoticeLibrary, AnnouncesAnExecAndTheProgramThatFollows) {
  ScratchDirectory dir;
  RawNoticeSocket notices(dir.path() / "bus.seg");
  ASSERT_TRUE(notices.bound());
  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", R"py(
import os
os.execv("/usr/bin/python3", ["python3", "-c", "import time; print('second', flush=True); time.sleep(60)"])
)py");
  ASSERT_TRUE(app.wait_for_output("second\n", 10s)) << app.stderr_so_far();
  const std::string pid = std::to_string(app.pid());
  EXPECT_EQ(notices.next(), "hello " + pid);
  EXPECT_EQ(notices.next(), "exec " + pid);
  EXPECT_EQ(notices.next(), "hello " + pid);
}

TEST(ListenNoticeLibrary, NamesAProcessItSpawns) {
  ScratchDirectory dir;
  RawNoticeSocket notices(dir.path() / "bus.seg");
  ASSERT_TRUE(notices.bound());
  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", R"(
import os
child = os.posix_spawn("/bin/true", ["true"], os.environ)
os.waitpid(child, 0)
print("child", child, "end", flush=True)
)");
  const std::string pid = std::to_string(app.pid());
  const ExitResult exit = app.wait_exit(10s);
  ASSERT_EQ(exit.code, 0) << exit.stderr_text;
  ASSERT_EQ(exit.stdout_text.rfind("child ", 0), 0U) << exit.stdout_text;
  const std::string child = exit.stdout_text.substr(6, exit.stdout_text.find(" end") - 6);
  EXPECT_EQ(notices.next(), "hello " + pid);
  // /bin/true says hello itself, before or after its parent names it.
  std::vector<std::string> about_child{notices.next(), notices.next()};
  std::sort(about_child.begin(), about_child.end());
  EXPECT_EQ(about_child, (std::vector<std::string>{"hello " + child, "spawn " + child}));
}

TEST(ListenNoticeLibrary, TellsAGoProgramApart) {
  ScratchDirectory dir;
  RawNoticeSocket notices(dir.path() / "bus.seg");
  ASSERT_TRUE(notices.bound());
  SpawnedProcess go({SNAPBUS_TCP_LISTENER_GO}, {{"LD_PRELOAD", SNAPBUS_LISTEN_NOTICE_LIBRARY},
                                                {"SNAPBUS_SEGMENT", (dir.path() / "bus.seg").string()}});
  const auto port = printed_port(go);
  ASSERT_TRUE(port) << go.stdout_so_far() << go.stderr_so_far();
  const std::string pid = std::to_string(go.pid());
  EXPECT_EQ(notices.next(), "unheard " + pid);
  // This one calls libc's listen(), which real Go does not: heard all the same.
  EXPECT_EQ(notices.next(), "listen " + pid + " " + std::to_string(*port));
}

// Datagrams as the library sends them, straight to the adapter's socket.
class NoticeSender {
 public:
  explicit NoticeSender(const std::filesystem::path& segment)
      : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)), address_(segment) {}
  void send(const std::string& datagram) const {
    ASSERT_EQ(::sendto(fd_.get(), datagram.data(), datagram.size(), 0, address_.get(), address_.size),
              static_cast<ssize_t>(datagram.size()));
  }

 private:
  UniqueFd fd_;
  NoticeAddress address_;
};

TEST_F(AdapterNoticeSocket, KnowWhetherEveryRunningProgramIsHeard) {
  const NoticeSender sender(dir.path() / "bus.seg");
  const std::string self = std::to_string(::getpid());
  EXPECT_FALSE(notices.every_listen_heard());  // nothing announced: nothing is known
  sender.send("hello " + self);
  EXPECT_TRUE(notices.every_listen_heard());
  sender.send("exec " + self);
  EXPECT_FALSE(notices.every_listen_heard());
  sender.send("hello " + self);  // the exec'd program loaded the library
  EXPECT_TRUE(notices.every_listen_heard());
  sender.send("spawn " + self);  // after its own hello: nothing changes
  EXPECT_TRUE(notices.every_listen_heard());

  SpawnedProcess other({"/bin/sleep", "60"}, {});
  const std::string pid = std::to_string(other.pid());
  sender.send("spawn " + pid);
  EXPECT_FALSE(notices.every_listen_heard());
  sender.send("hello " + pid);
  EXPECT_TRUE(notices.every_listen_heard());
  sender.send("unheard " + pid);
  EXPECT_FALSE(notices.every_listen_heard());
  // A program that is gone listens no more.
  other.send_signal(SIGKILL);
  other.wait_exit(10s);
  EXPECT_TRUE(notices.every_listen_heard());
}

TEST_F(AdapterNoticeSocket, AStaticProgramStartedByTheAppIsUnheardWhileItRuns) {
  // subprocess, as a start script or a process manager runs one: by fork and exec, or posix_spawn.
  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", R"(
import subprocess, sys
child = subprocess.Popen([")" SNAPBUS_TCP_LISTENER_STATIC R"(", "0"], stdout=subprocess.PIPE)
print(child.stdout.readline().decode().strip(), "pid", child.pid, "end", flush=True)
child.wait()
)");
  ASSERT_TRUE(app.wait_for_output(" end\n", 10s)) << app.stdout_so_far() << app.stderr_so_far();
  EXPECT_FALSE(notices.every_listen_heard());
  EXPECT_TRUE(notices.app_announced());
  const std::string out = app.stdout_so_far();
  const pid_t child = std::stoi(out.substr(out.find(" pid ") + 5));
  ASSERT_EQ(::kill(child, SIGTERM), 0);
  EXPECT_EQ(app.wait_exit(10s).code, 0) << app.stderr_so_far();
  EXPECT_TRUE(notices.every_listen_heard());
}

// The app's start script execs a static server. With the other cadences at a minute, only the exec
// notice (which ends the wait at once) and LWA's pace, kept while that program runs, find it in time.
TEST_F(NoticedReadiness, KeepsLwasPaceWhileAProgramTheLibraryCannotReachRuns) {
  constexpr std::chrono::minutes kMinute{1};
  SpawnedProcess app = preloaded_python(dir.path() / "bus.seg", R"(
import os, time
time.sleep(0.2)
os.execv(")" SNAPBUS_TCP_LISTENER_STATIC R"(", ["tcp_listener_static", ")" +
                                                                    std::to_string(port) + R"("])
)");
  auto ready = start_waiting(kMinute, 10ms, kMinute);
  ASSERT_TRUE(run_until(io, ready, 20s)) << app.stdout_so_far() << app.stderr_so_far();
  EXPECT_EQ(ready.get(), Readiness::ready);
  EXPECT_TRUE(app.wait_for_output("port " + std::to_string(port) + "\n", 10s));
  EXPECT_FALSE(notices.take_listen());  // found by polling
}

}  // namespace
}  // namespace snapbus::adapter
