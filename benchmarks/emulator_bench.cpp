// The emulator's own latency, so later benchmarks can subtract it:
//   BM_EmulatorEmptyInvocation   POST {} to the RIE path -> runtime gets it from invocation/next ->
//                                posts {} back -> the client has the answer (rtt_p50_ns, rtt_p99_ns)
//   BM_EmulatorStreamChunkRelay  the runtime writes one 64-byte chunk of a streamed response -> the
//                                front door client has it (chunk_p50_ns, chunk_p99_ns)
//   BM_LoopbackHttpRoundTrip     baseline: one keep-alive HTTP/1.1 exchange with a trivial server
// The runtime side is this process (a thread parked in invocation/next), so only the emulator and
// loopback HTTP are measured. Build with the release preset; run through benchmarks/run.sh.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "latency_samples.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

using snapbus::bench::percentile;

std::uint16_t port_after_colon(const std::string& text, const std::string& key) {
  const auto at = text.find("\"" + key + "\":\"");
  if (at == std::string::npos) throw std::runtime_error("no " + key + " in ready file");
  const auto colon = text.find(':', at + key.size() + 4);
  return static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1)));
}

class Emulator {
 public:
  Emulator() {
    dir_ = std::filesystem::temp_directory_path() / ("snapbus-emulator-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const std::string ready = (dir_ / "ready.json").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen("/dev/null", "w", stdout);
      std::freopen((dir_ / "stderr.log").c_str(), "w", stderr);
      ::execl(SNAPBUS_EXECUTABLE, SNAPBUS_EXECUTABLE, "emulate", "--port", "0", "--runtime-api-port", "0",
              "--ready-file", ready.c_str(), "--", "/bin/sleep", "3600", static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      std::ifstream in(ready);
      std::stringstream text;
      text << in.rdbuf();
      if (!text.str().empty()) {
        front_door_ = port_after_colon(text.str(), "frontDoor");
        runtime_api_ = port_after_colon(text.str(), "runtimeApi");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("the emulator did not start; see " + (dir_ / "stderr.log").string());
  }
  ~Emulator() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::uint16_t front_door() const { return front_door_; }
  std::uint16_t runtime_api() const { return runtime_api_; }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t front_door_ = 0;
  std::uint16_t runtime_api_ = 0;
};

tcp::socket connect(asio::io_context& io, std::uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket.set_option(tcp::no_delay(true));
  return socket;
}

http::response<http::string_body> exchange(tcp::socket& socket, beast::flat_buffer& buffer, http::verb verb,
                                           const std::string& target, const std::string& body) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return res;
}

void runtime_loop(std::uint16_t port) {
  // A minimal runtime client: parked in invocation/next, answers every event with {}, until the
  // emulator shuts down and the connection ends.
  try {
    asio::io_context io;
    auto socket = connect(io, port);
    beast::flat_buffer buffer;
    for (;;) {
      auto event = exchange(socket, buffer, http::verb::get, "/2018-06-01/runtime/invocation/next", "");
      const std::string id(event["Lambda-Runtime-Aws-Request-Id"]);
      exchange(socket, buffer, http::verb::post, "/2018-06-01/runtime/invocation/" + id + "/response", "{}");
    }
  } catch (const std::exception&) {
    // The emulator went away: the end of the run.
  }
}

void BM_EmulatorEmptyInvocation(benchmark::State& state) {
  Emulator emulator;
  std::thread runtime(runtime_loop, emulator.runtime_api());
  asio::io_context io;
  auto client = connect(io, emulator.front_door());
  beast::flat_buffer buffer;
  for (int i = 0; i < 50; ++i) {  // warm-up: Init, first-invocation work, connection set-up
    exchange(client, buffer, http::verb::post, "/2015-03-31/functions/function/invocations", "{}");
  }
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto res = exchange(client, buffer, http::verb::post, "/2015-03-31/functions/function/invocations", "{}");
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    if (res.result() != http::status::ok) state.SkipWithError("invocation failed");
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
  }
  emulator.stop();
  runtime.join();
  state.counters["rtt_p50_ns"] = percentile(samples, 0.50);
  state.counters["rtt_p99_ns"] = percentile(samples, 0.99);
}
BENCHMARK(BM_EmulatorEmptyInvocation)->UseManualTime()->Iterations(5000)->Unit(benchmark::kMicrosecond);

std::size_t read_until(tcp::socket& socket, std::string& received, const std::string& needle) {
  std::size_t at = 0;
  while ((at = received.find(needle)) == std::string::npos) {
    char buf[4096];
    const std::size_t n = socket.read_some(asio::buffer(buf));
    received.append(buf, n);
  }
  return at;
}

void BM_EmulatorStreamChunkRelay(benchmark::State& state) {
  Emulator emulator;
  asio::io_context io;
  auto client = connect(io, emulator.front_door());
  const std::string request =
      "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  asio::write(client, asio::buffer(request));
  auto poll = connect(io, emulator.runtime_api());
  beast::flat_buffer buffer;
  auto event = exchange(poll, buffer, http::verb::get, "/2018-06-01/runtime/invocation/next", "");
  const std::string id(event["Lambda-Runtime-Aws-Request-Id"]);
  auto stream = connect(io, emulator.runtime_api());
  const std::string head = "POST /2018-06-01/runtime/invocation/" + id +
                           "/response HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
                           "Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n";
  asio::write(stream, asio::buffer(head));
  std::string received;
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  long long n = 0;
  for (auto _ : state) {
    // 64 bytes, each chunk unique so the client knows exactly when this one has arrived.
    char payload[65];
    std::snprintf(payload, sizeof payload, "%064lld", n++);
    const std::string chunk = "40\r\n" + std::string(payload, 64) + "\r\n";
    const auto t0 = Clock::now();
    asio::write(stream, asio::buffer(chunk));
    const std::size_t at = read_until(client, received, std::string(payload, 64));
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    received.erase(0, at + 64);
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
  }
  asio::write(stream, asio::buffer(std::string("0\r\n\r\n")));
  state.counters["chunk_p50_ns"] = percentile(samples, 0.50);
  state.counters["chunk_p99_ns"] = percentile(samples, 0.99);
}
BENCHMARK(BM_EmulatorStreamChunkRelay)->UseManualTime()->Iterations(5000)->Unit(benchmark::kMicrosecond);

void BM_LoopbackHttpRoundTrip(benchmark::State& state) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::thread server([&acceptor] {
    try {
      tcp::socket socket = acceptor.accept();
      socket.set_option(tcp::no_delay(true));
      beast::flat_buffer buffer;
      for (;;) {
        http::request<http::string_body> req;
        http::read(socket, buffer, req);
        http::response<http::string_body> res{http::status::ok, 11};
        res.body() = "{}";
        res.prepare_payload();
        http::write(socket, res);
      }
    } catch (const std::exception&) {
    }
  });
  {
    auto client = connect(io, port);
    beast::flat_buffer buffer;
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(state.max_iterations));
    for (auto _ : state) {
      const auto t0 = Clock::now();
      exchange(client, buffer, http::verb::post, "/", "{}");
      const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
      samples.push_back(ns);
      state.SetIterationTime(ns / 1e9);
    }
    state.counters["rtt_p50_ns"] = percentile(samples, 0.50);
    state.counters["rtt_p99_ns"] = percentile(samples, 0.99);
  }
  server.join();
}
BENCHMARK(BM_LoopbackHttpRoundTrip)->UseManualTime()->Iterations(5000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
