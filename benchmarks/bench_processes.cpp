#include "bench_processes.h"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "snapbus/unique_fd.h"

namespace snapbus::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

ChildProcess::ChildProcess(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
                           const std::filesystem::path& stdout_file, const std::filesystem::path& stderr_file) {
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ != 0) return;
  if (std::freopen(stdout_file.c_str(), "w", stdout) == nullptr ||
      std::freopen(stderr_file.c_str(), "w", stderr) == nullptr) {
    _exit(126);
  }
  std::vector<std::string> environment = extra_env;
  for (std::string& assignment : environment) ::putenv(assignment.data());
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  argv.reserve(copy.size() + 1);
  for (auto& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  _exit(127);
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  pid_ = -1;
}

namespace {

std::uint16_t port_of(const boost::json::object& ready, const char* key) {
  const std::string address(ready.at(key).as_string());
  return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

}  // namespace

EmulatorProcess::EmulatorProcess(const std::string& executable, const std::filesystem::path& dir,
                                 const std::vector<std::string>& options, const std::vector<std::string>& extra_env) {
  const std::filesystem::path ready = dir / "ready.json";
  // One left by an earlier emulator in the same directory would name its ports, long closed.
  std::filesystem::remove(ready);
  std::vector<std::string> args = {executable,           "emulate", "--port",       "0",
                                   "--runtime-api-port", "0",       "--ready-file", ready.string()};
  args.insert(args.end(), options.begin(), options.end());
  // Woken by inotify as the file is written, not by a poll: BM_InitAtStart times Init from here, and
  // the emulator starts the function right after it writes the file. Watched before it can appear.
  const UniqueFd watch(::inotify_init1(IN_CLOEXEC));
  if (!watch || ::inotify_add_watch(watch.get(), dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    throw std::runtime_error("inotify failed for " + dir.string());
  }
  process_.emplace(args, extra_env, dir / "emulator.out", dir / "emulator.err");
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::stringstream text;
    text << std::ifstream(ready).rdbuf();
    boost::system::error_code partly_written;
    const auto json = boost::json::parse(text.str(), partly_written);
    if (!partly_written && json.is_object()) {
      ready_at_ = Clock::now();
      front_door_ = port_of(json.as_object(), "frontDoor");
      runtime_api_ = port_of(json.as_object(), "runtimeApi");
      return;
    }
    pollfd changed{.fd = watch.get(), .events = POLLIN, .revents = 0};
    if (::poll(&changed, 1, 100) > 0) {  // 100 ms at most: a file written some other way is still seen
      char events[4096];
      static_cast<void>(::read(watch.get(), events, sizeof events));
    }
  }
  throw std::runtime_error("the emulator did not start; see " + (dir / "emulator.err").string());
}

tcp::socket connect_loopback(asio::io_context& io, std::uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket.set_option(tcp::no_delay(true));
  return socket;
}

TempDir::TempDir(const std::string& name) {
  std::string pattern = (fs::temp_directory_path() / ("snapbus-" + name + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                             fs::perms::others_exec);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

namespace {

void serve_one_connection(tcp::acceptor& acceptor) {
  try {
    tcp::socket socket = acceptor.accept();
    socket.set_option(tcp::no_delay(true));
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      http::read(socket, buffer, request);
      http::response<http::string_body> response{http::status::ok, 11};
      response.body() = "{}";
      response.prepare_payload();
      http::write(socket, response);
    }
  } catch (const std::exception&) {
    // The caller closed its connection: the end of the run.
  }
}

}  // namespace

LoopbackEchoServer::LoopbackEchoServer() {
  int ready[2];
  if (::pipe(ready) != 0) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::close(ready[0]);
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::uint16_t port = acceptor.local_endpoint().port();
    if (::write(ready[1], &port, sizeof port) != sizeof port) ::_exit(1);
    ::close(ready[1]);
    serve_one_connection(acceptor);
    ::_exit(0);
  }
  ::close(ready[1]);
  const bool started = ::read(ready[0], &port_, sizeof port_) == sizeof port_;
  ::close(ready[0]);
  if (!started) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    throw std::runtime_error("the loopback echo server did not start");
  }
}

LoopbackEchoServer::~LoopbackEchoServer() {
  // Never connected to (a run that failed early): it would wait in accept() for ever.
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
}

OnOneCore::OnOneCore(bool wanted) : wanted_(wanted) {
  if (!wanted_) return;
  if (::sched_getaffinity(0, sizeof saved_, &saved_) != 0) throw std::runtime_error("sched_getaffinity failed");
  int first = 0;
  while (first < CPU_SETSIZE && !CPU_ISSET(first, &saved_)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  if (::sched_setaffinity(0, sizeof one, &one) != 0) throw std::runtime_error("sched_setaffinity failed");
}

OnOneCore::~OnOneCore() {
  if (wanted_) ::sched_setaffinity(0, sizeof saved_, &saved_);
}

}  // namespace snapbus::bench
