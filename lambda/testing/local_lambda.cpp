#include "local_lambda.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

namespace snapbus::lambda::testing {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::uint16_t port_of(std::string_view host_port) {
  return static_cast<std::uint16_t>(std::stoi(std::string(host_port.substr(host_port.rfind(':') + 1))));
}

}  // namespace

net::NetResult<net::Response> front_door_call(std::uint16_t port, boost::beast::http::verb method,
                                              const std::string& target, const std::string& body) {
  boost::asio::io_context io;
  net::HttpClient client(io.get_executor(), {"127.0.0.1", std::to_string(port)});
  net::Request request{method, target, 11};
  request.body() = body;
  return run_until_done(io, client.request(std::move(request)));
}

net::NetResult<net::Response> invoke(std::uint16_t port, const std::string& payload) {
  return front_door_call(port, boost::beast::http::verb::post, "/2015-03-31/functions/function/invocations", payload);
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool wait_for_line_count(const std::filesystem::path& path, std::size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (read_lines(path).size() < count) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::optional<std::string> wait_for_line(const std::filesystem::path& path, const std::string& prefix,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (const auto& line : read_lines(path)) {
      if (line.rfind(prefix, 0) == 0) return line;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

std::string executable_from_environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

LocalLambda::LocalLambda(const std::filesystem::path& dir, const std::vector<std::string>& args) : dir_(dir) {
  std::vector<std::string> argv{executable_from_environment("SNAPBUS_CLI"),
                                "emulate",
                                "--port",
                                "0",
                                "--runtime-api-port",
                                "0",
                                "--ready-file",
                                (dir_ / "ready.json").string(),
                                "--json",
                                (dir_ / "report.json").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  pointers.reserve(argv.size() + 1);
  for (auto& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  const std::string out = (dir_ / "stdout.log").string();
  const std::string err = (dir_ / "stderr.log").string();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), 2);
    ::execv(pointers[0], pointers.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && !wait_exit(0ms)) {
    const std::string ready = read_file(dir_ / "ready.json");
    if (!ready.empty()) {
      front_door_port_ = port_of(boost::json::parse(ready).at("frontDoor").as_string());
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
}

LocalLambda::~LocalLambda() {
  if (!exit_code_ && pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::optional<int> LocalLambda::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exit_code_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  return exit_code_;
}

int LocalLambda::stop() {
  if (!exit_code_) ::kill(pid_, SIGTERM);
  if (auto code = wait_exit(20s)) return *code;
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  exit_code_ = -1;
  return -1;
}

std::string LocalLambda::log() const { return read_file(dir_ / "stdout.log"); }
std::string LocalLambda::diagnostics() const { return read_file(dir_ / "stderr.log"); }
std::string LocalLambda::report() const { return read_file(dir_ / "report.json"); }

}  // namespace snapbus::lambda::testing
