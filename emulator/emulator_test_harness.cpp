#include "emulator_test_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <boost/algorithm/string/case_conv.hpp>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

#include "freezer.h"
#include "process_tree.h"

namespace snapbus::emulator::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A process's or thread's name: its /proc directory's comm, without the newline.
std::string comm_name(const fs::path& proc_dir) {
  std::string name = read_all(proc_dir / "comm");
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

// What a process that ignores its stop signal is doing, for the failure message: a hang seen once in a
// CI run is otherwise a mystery. Each thread's state and kernel wait channel, its kernel stack when
// readable, and which of this test's processes are still alive.
std::string describe_stuck_process(pid_t pid, const std::string& marker) {
  std::ostringstream out;
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : fs::directory_iterator(task_dir, ec)) {
    const std::string tid = task.path().filename();
    const std::string stat = read_all(task.path() / "stat");
    // The state is the field after the command name's closing parenthesis.
    const auto paren = stat.rfind(')');
    const char state = paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
    out << "  thread " << tid << " (" << comm_name(task.path()) << ") state " << state << ", waiting in "
        << read_all(task.path() / "wchan") << "\n";
    const std::string stack = read_all(task.path() / "stack");
    if (!stack.empty()) out << stack;
  }
  out << "  processes of this test still alive:";
  const std::vector<pid_t> alive_pids = processes_with_env("SNAPBUS_TEST_MARKER=" + marker);
  if (alive_pids.empty()) out << " none";
  for (pid_t alive : alive_pids) out << " " << alive << " (" << comm_name("/proc/" + std::to_string(alive)) << ")";
  return out.str();
}

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rd());
}

std::uint16_t port_of(const std::string& host_port) {
  return static_cast<std::uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
}

// Polls `read` (a file the emulator appends to) until it holds `needle`, or the timeout passes.
bool wait_until_written(const std::function<std::string()>& read, const std::string& needle,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read().find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

std::string HttpResult::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResult http_call(std::uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                     const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  HttpResult result;
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(512ULL * 1024 * 1024);
    // A synchronous read on a tcp_stream ignores its timer: run the async form on our own io_context.
    boost::system::error_code ec;
    http::async_read(stream, buffer, parser, [&](boost::system::error_code e, std::size_t) { ec = e; });
    io.run();
    if (ec) {
      result.error = ec.message();
      return result;
    }
    auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      result.headers[boost::algorithm::to_lower_copy(std::string(field.name_string()))] = std::string(field.value());
    }
    result.body = res.body();
  } catch (const std::exception& e) {
    result.error = e.what();
    result.status = 0;
  }
  return result;
}

RawConnection::RawConnection(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void RawConnection::send(const std::string& data) {
  std::size_t sent = 0;
  while (fd_ >= 0 && sent < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

bool RawConnection::read_until(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received_.find(needle) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return received_.find(needle) != std::string::npos;
    received_.append(buf, static_cast<std::size_t>(n));
    ++reads_;
  }
  return true;
}

std::string test_dir(const std::string& name) {
  const char* root = std::getenv("SNAPBUS_TEST_TMPDIR");
  fs::path dir = fs::path(root != nullptr ? root : "/tmp/snapbus-emulator-test") / (name + "-" + unique_suffix());
  fs::create_directories(dir);
  return dir.string();
}

std::string write_script(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  ::chmod(path.c_str(), 0755);
  return path;
}

std::string testdata(const std::string& name) { return std::string(SNAPBUS_EMULATOR_TESTDATA) + "/" + name; }

EmulatorProcess::EmulatorProcess(const std::string& name, std::vector<std::string> args, bool wait_ready)
    : dir_(test_dir(name)), marker_("emulator-test-" + unique_suffix()) {
  // The built `snapbus`, which ctest names (cmake/SnapbusTest.cmake).
  const char* binary = std::getenv("SNAPBUS_CLI");
  if (binary == nullptr) throw std::runtime_error("SNAPBUS_CLI is not set (run the test through ctest)");
  std::vector<std::string> argv{binary,
                                "emulate",
                                "--port",
                                "0",
                                "--runtime-api-port",
                                "0",
                                "--ready-file",
                                dir_ + "/ready.json",
                                "--json",
                                dir_ + "/report.json",
                                "--env",
                                "SNAPBUS_TEST_MARKER=" + marker_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string out = dir_ + "/stdout.log";
  const std::string err = dir_ + "/stderr.log";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  ::setpgid(pid_, pid_);
  if (!wait_ready) return;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string ready = read_all(dir_ + "/ready.json");
    if (!ready.empty()) {
      auto value = boost::json::parse(ready).as_object();
      front_door_port_ = port_of(std::string(value.at("frontDoor").as_string()));
      runtime_api_port_ = port_of(std::string(value.at("runtimeApi").as_string()));
      return;
    }
    if (wait_exit(0ms)) return;
    std::this_thread::sleep_for(10ms);
  }
}

EmulatorProcess::~EmulatorProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

HttpResult EmulatorProcess::runtime_call(const std::string& method, const std::string& target, const std::string& body,
                                         const std::map<std::string, std::string>& headers,
                                         std::chrono::milliseconds timeout) const {
  return http_call(runtime_api_port_, method, target, body, headers, timeout);
}

HttpResult EmulatorProcess::invoke(const std::string& payload, std::chrono::milliseconds timeout) const {
  return http_call(front_door_port_, "POST", "/2015-03-31/functions/function/invocations", payload, {}, timeout);
}

std::optional<int> EmulatorProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (reaped_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

int EmulatorProcess::stop(int signal_number, std::chrono::milliseconds timeout) {
  if (reaped_) return exit_code_;
  ::kill(pid_, signal_number);
  if (auto code = wait_exit(timeout)) return *code;
  ADD_FAILURE() << "the emulator (pid " << pid_ << ") did not exit within " << timeout.count() << " ms after signal "
                << signal_number << ":\n"
                << describe_stuck_process(pid_, marker_) << "\nits stderr:\n"
                << diagnostics() << "\nits log:\n"
                << log();
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  reaped_ = true;
  return -1;
}

std::string EmulatorProcess::log() const { return read_all(dir_ + "/stdout.log"); }
std::string EmulatorProcess::diagnostics() const { return read_all(dir_ + "/stderr.log"); }
std::string EmulatorProcess::report() const { return read_all(dir_ + "/report.json"); }

bool EmulatorProcess::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const {
  return wait_until_written([this] { return log(); }, needle, timeout);
}

bool EmulatorProcess::wait_for_diagnostic(const std::string& needle, std::chrono::milliseconds timeout) const {
  return wait_until_written([this] { return diagnostics(); }, needle, timeout);
}

void EmulatorProcess::expect_no_survivors(std::chrono::milliseconds grace) {
  EXPECT_TRUE(reaped_) << "the emulator itself is still running";
  const auto deadline = std::chrono::steady_clock::now() + grace;
  std::vector<pid_t> left;
  for (;;) {
    left = processes_with_env("SNAPBUS_TEST_MARKER=" + marker_);
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(10ms);
  }
  for (pid_t pid : left) {
    ADD_FAILURE() << "process " << pid << " (" << comm_name("/proc/" + std::to_string(pid))
                  << ") outlived the emulator";
    ::kill(pid, SIGKILL);
  }
  EXPECT_EQ(::kill(-pid_, 0), -1) << "the emulator's process group still has members";
  if (auto cgroup = freezer_cgroup_path(freezer_cgroup_name(pid_))) {
    while (std::filesystem::exists(*cgroup) && std::chrono::steady_clock::now() < deadline + grace) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(std::filesystem::exists(*cgroup)) << *cgroup << " was left behind";
  }
}

}  // namespace snapbus::emulator::testing
