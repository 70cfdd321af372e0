// Test support for the end-to-end emulator tests: runs the real `snapbus emulate` in its own process
// group with a test-unique marker, talks HTTP to it over loopback, and checks nothing survives it.
//
//   EmulatorProcess emu("my_test", {"--snapstart", "--", "/bin/sleep", "600"});
//   ASSERT_TRUE(emu.started());
//   auto next = std::async([&] { return emu.runtime_call("GET", "/2018-06-01/runtime/invocation/next"); });
//   auto answer = http_call(emu.front_door_port(), "POST", std::string(kRiePath), "{}");
//   EXPECT_EQ(emu.stop(), 0);
//   emu.expect_no_survivors();
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace snapbus::emulator::testing {

using namespace std::chrono_literals;

struct HttpResult {
  int status = 0;                              // 0 when the call failed or timed out
  std::map<std::string, std::string> headers;  // names lower-cased; trailers included
  std::string body;
  std::string error;
  [[nodiscard]] std::string header(const std::string& lower_name) const;
};

HttpResult http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = {}, const std::map<std::string, std::string>& headers = {},
                     std::chrono::milliseconds timeout = 30s);

class RawConnection {
  // A plain TCP client for what a HTTP library hides: hand-written chunks, trailers, malformed requests.
 public:
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  [[nodiscard]] bool connected() const { return fd_ >= 0; }
  void send(const std::string& data);
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout);
  // Reads until everything received so far contains `needle`; false on timeout or EOF.
  [[nodiscard]] const std::string& received() const { return received_; }
  // How many reads brought what was received: bytes the peer wrote at once come in one.
  [[nodiscard]] int reads() const { return reads_; }

 private:
  int fd_ = -1;
  std::string received_;
  int reads_ = 0;
};

std::string test_dir(const std::string& name);
// A fresh directory under $SNAPBUS_TEST_TMPDIR.

std::string write_script(const std::string& path, const std::string& text);
// Writes an executable file and returns its path.

std::string testdata(const std::string& name);
inline constexpr const char* kPython = "/usr/bin/python3";

class EmulatorProcess {
 public:
  EmulatorProcess(const std::string& name, std::vector<std::string> args, bool wait_ready = true);
  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  [[nodiscard]] bool started() const { return front_door_port_ != 0; }
  [[nodiscard]] std::uint16_t front_door_port() const { return front_door_port_; }
  [[nodiscard]] std::uint16_t runtime_api_port() const { return runtime_api_port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& marker() const { return marker_; }

  HttpResult runtime_call(const std::string& method, const std::string& target, const std::string& body = {},
                          const std::map<std::string, std::string>& headers = {},
                          std::chrono::milliseconds timeout = 30s) const;
  HttpResult invoke(const std::string& payload, std::chrono::milliseconds timeout = 30s) const;
  // POST to the RIE path.

  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // The exit code once the emulator has exited by itself.
  int stop(int signal_number = 15, std::chrono::milliseconds timeout = 20s);
  // Signals the emulator and returns its exit code (-1 if it had to be killed).

  [[nodiscard]] std::string log() const;          // stdout: the Lambda log lines
  [[nodiscard]] std::string diagnostics() const;  // stderr
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout = 20s) const;
  bool wait_for_diagnostic(const std::string& needle, std::chrono::milliseconds timeout = 20s) const;
  [[nodiscard]] std::string report() const;  // the --json report

  void expect_no_survivors(std::chrono::milliseconds grace = 5s);
  // Asserts (gtest) that no process carries this test's marker and the emulator's group is empty.

 private:
  std::string dir_;
  std::string marker_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  std::uint16_t front_door_port_ = 0;
  std::uint16_t runtime_api_port_ = 0;
};

}  // namespace snapbus::emulator::testing
