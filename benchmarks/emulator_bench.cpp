// The emulator's own latency, so later benchmarks can subtract it:
//   BM_EmulatorEmptyInvocation   POST {} to the RIE path -> runtime gets it from invocation/next ->
//                                posts {} back -> the client has the answer (rtt_p50_ns, rtt_p99_ns);
//                                interleaved with it, the baseline: one keep-alive HTTP/1.1 exchange
//                                with a trivial server in a process of its own (loopback_rtt_*), and
//                                the ratio of the two p50s
//   BM_EmulatorStreamChunkRelay  the runtime writes one 64-byte chunk of a streamed response -> the
//                                front door client has it (chunk_p50_ns, chunk_p99_ns)
//   BM_IdleConnectionMemory      the front door's RSS slope over 1000 idle keep-alive connections
//                                (emulator_bytes_per_connection) against the same connections to a
//                                bare Beast server process (baseline_bytes_per_connection), and their ratio
//   BM_FreshEnvironmentAfterCrash  a runtime crashes in an invocation -> the next invocation is
//                                answered by a fresh environment (fresh_p50_ns, fresh_p99_ns)
//   BM_InitAtStart               baseline: the same runtime's Init at emulator start, from the ready
//                                file to the first invocation answered (init_p50_ns, init_p99_ns)
// The runtime side is this process (a thread parked in invocation/next), so only the emulator and
// loopback HTTP are measured; the crash benchmarks run this executable as the function
// (--crashing-runtime). Build with the release preset; run through benchmarks/run.sh.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "bench_processes.h"
#include "latency_samples.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

using snapbus::bench::connect_loopback;
using snapbus::bench::percentile;

// How the function is started: a runtime that never polls, or this executable as a runtime.
std::vector<std::string> idle_function() { return {"/bin/sleep", "3600"}; }

// A directory of its own for each emulator, removed after it.
struct ScratchDir {
  ScratchDir()
      : path(std::filesystem::temp_directory_path() / ("snapbus-emulator-bench-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::filesystem::path path;
};

std::vector<std::string> after_separator(const std::vector<std::string>& function) {
  std::vector<std::string> options{"--"};
  options.insert(options.end(), function.begin(), function.end());
  return options;
}

// `snapbus emulate` running `function`, in a directory of its own (stopped before it is removed).
class Emulator : private ScratchDir, public snapbus::bench::EmulatorProcess {
 public:
  explicit Emulator(const std::vector<std::string>& function = idle_function())
      : EmulatorProcess(SNAPBUS_EXECUTABLE, path, after_separator(function)) {}
};

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

constexpr const char* kInvokePath = "/2015-03-31/functions/function/invocations";
constexpr const char* kCrashEvent = "\"crash\"";

void runtime_loop(std::uint16_t port, const char* crash_time_file = nullptr) {
  // A minimal runtime client: parked in invocation/next, answers every event with {}, until the
  // emulator shuts down and the connection ends. With a crash_time_file it exits on the event
  // "crash", mid-invocation as a crash would, after writing the time there (the steady clock is
  // CLOCK_MONOTONIC, the same in every process on the machine).
  try {
    asio::io_context io;
    auto socket = connect_loopback(io, port);
    beast::flat_buffer buffer;
    for (;;) {
      auto event = exchange(socket, buffer, http::verb::get, "/2018-06-01/runtime/invocation/next", "");
      if (crash_time_file != nullptr && event.body() == kCrashEvent) {
        std::ofstream(crash_time_file) << Clock::now().time_since_epoch().count();
        std::_Exit(1);
      }
      const std::string id(event["Lambda-Runtime-Aws-Request-Id"]);
      exchange(socket, buffer, http::verb::post, "/2018-06-01/runtime/invocation/" + id + "/response", "{}");
    }
  } catch (const std::exception&) {
    // The emulator went away: the end of the run.
  }
}

void BM_EmulatorEmptyInvocation(benchmark::State& state) {
  Emulator emulator;
  std::thread runtime([port = emulator.runtime_api()] { runtime_loop(port); });
  const snapbus::bench::LoopbackEchoServer bare_server;
  asio::io_context io;
  auto client = connect_loopback(io, emulator.front_door());
  auto to_bare_server = connect_loopback(io, bare_server.port());
  beast::flat_buffer buffer;
  beast::flat_buffer bare_buffer;
  const auto timed = [](auto exchange_once) {
    const auto t0 = Clock::now();
    exchange_once();
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  };
  bool failed = false;
  const auto invoke = [&] {
    if (exchange(client, buffer, http::verb::post, kInvokePath, "{}").result() != http::status::ok) failed = true;
  };
  const auto bare_round_trip = [&] { exchange(to_bare_server, bare_buffer, http::verb::post, "/", "{}"); };
  for (int i = 0; i < 50; ++i) {  // warm-up, alike: Init, first-invocation work, connection set-up
    invoke();
    bare_round_trip();
  }
  std::vector<double> samples;
  std::vector<double> loopback;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  loopback.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const double ns = timed(invoke);
    samples.push_back(ns);
    loopback.push_back(timed(bare_round_trip));
    state.SetIterationTime(ns / 1e9);
  }
  to_bare_server.close();  // the bare server exits with its connection
  emulator.stop();
  runtime.join();
  if (failed) state.SkipWithError("an invocation failed");
  state.counters["rtt_p50_ns"] = percentile(samples, 0.50);
  state.counters["rtt_p99_ns"] = percentile(samples, 0.99);
  state.counters["loopback_rtt_p50_ns"] = percentile(loopback, 0.50);
  state.counters["loopback_rtt_p99_ns"] = percentile(loopback, 0.99);
  state.counters["rtt_p50_to_loopback_rtt_p50_ratio"] = percentile(samples, 0.50) / percentile(loopback, 0.50);
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
  auto client = connect_loopback(io, emulator.front_door());
  const std::string request =
      "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  asio::write(client, asio::buffer(request));
  auto poll = connect_loopback(io, emulator.runtime_api());
  beast::flat_buffer buffer;
  auto event = exchange(poll, buffer, http::verb::get, "/2018-06-01/runtime/invocation/next", "");
  const std::string id(event["Lambda-Runtime-Aws-Request-Id"]);
  auto stream = connect_loopback(io, emulator.runtime_api());
  const std::string head = "POST /2018-06-01/runtime/invocation/" + id +
                           "/response HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
                           "Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n";
  asio::write(stream, asio::buffer(head));
  std::string received;
  long long n = 0;
  const auto relay_chunk = [&] {
    // 64 bytes, each chunk unique so the client knows exactly when this one has arrived.
    char payload[65];
    std::snprintf(payload, sizeof payload, "%064lld", n++);
    const std::string chunk = "40\r\n" + std::string(payload, 64) + "\r\n";
    const auto t0 = Clock::now();
    asio::write(stream, asio::buffer(chunk));
    const std::size_t at = read_until(client, received, std::string(payload, 64));
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    received.erase(0, at + 64);
    return ns;
  };
  for (int i = 0; i < 50; ++i) relay_chunk();  // warm-up: the stream's first pieces, buffers grown
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const double ns = relay_chunk();
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
  }
  asio::write(stream, asio::buffer(std::string("0\r\n\r\n")));
  state.counters["chunk_p50_ns"] = percentile(samples, 0.50);
  state.counters["chunk_p99_ns"] = percentile(samples, 0.99);
}
BENCHMARK(BM_EmulatorStreamChunkRelay)->UseManualTime()->Iterations(5000)->Unit(benchmark::kMicrosecond);

// Resident memory of a process: VmRSS in /proc/<pid>/status (kB there).
std::int64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  throw std::runtime_error("no VmRSS for pid " + std::to_string(pid));
}

// One connection of the bare server: every request answered with an empty 404, kept alive.
class BareConnection : public std::enable_shared_from_this<BareConnection> {
 public:
  explicit BareConnection(tcp::socket socket) : socket_(std::move(socket)) {}
  void read() {
    request_ = {};
    http::async_read(socket_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->answer();
    });
  }

 private:
  void answer() {
    response_ = {http::status::not_found, 11};
    response_.keep_alive(true);
    response_.prepare_payload();
    http::async_write(socket_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->read();
    });
  }
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::empty_body> response_;
};

void accept_forever(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<BareConnection>(std::move(socket))->read();
    accept_forever(acceptor);
  });
}

// The baseline for memory per connection: a bare Beast/Asio server, one thread, in its own process
// so that its RSS is measured the way the emulator's is.
class BareServer {
 public:
  BareServer() {
    int ready[2];
    if (::pipe(ready) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      asio::io_context io;
      tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      const std::uint16_t port = acceptor.local_endpoint().port();
      if (::write(ready[1], &port, sizeof port) != sizeof port) _exit(1);
      accept_forever(acceptor);
      io.run();
      _exit(0);
    }
    ::close(ready[1]);
    const bool started = ::read(ready[0], &port_, sizeof port_) == sizeof port_;
    ::close(ready[0]);
    if (!started) throw std::runtime_error("the bare server did not start");
  }
  ~BareServer() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  BareServer(const BareServer&) = delete;
  BareServer& operator=(const BareServer&) = delete;
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

constexpr int kIdleConnections = 1000;

// `count` connections to `port`, each idle and kept alive after one invocation (the bare server
// answers it with 404).
std::vector<tcp::socket> open_idle(asio::io_context& io, std::uint16_t port, int count) {
  std::vector<tcp::socket> sockets;
  sockets.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    auto socket = connect_loopback(io, port);
    beast::flat_buffer buffer;
    if (!exchange(socket, buffer, http::verb::post, kInvokePath, "{}").keep_alive()) {
      throw std::runtime_error("the server did not keep an idle connection alive");
    }
    sockets.push_back(std::move(socket));
  }
  return sockets;
}

// The RSS slope of `server` over kIdleConnections idle connections, in bytes per connection.
double bytes_per_idle_connection(pid_t server, std::uint16_t port) {
  asio::io_context io;
  // Warm-up, closed again: the first connections page in code and grow the heap once.
  open_idle(io, port, 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::int64_t before = rss_bytes(server);
  const auto idle = open_idle(io, port, kIdleConnections);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return static_cast<double>(rss_bytes(server) - before) / kIdleConnections;
}

void BM_IdleConnectionMemory(benchmark::State& state) {
  std::vector<double> emulator_bytes;
  std::vector<double> baseline_bytes;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    {
      Emulator emulator;
      std::thread runtime([port = emulator.runtime_api()] { runtime_loop(port); });
      emulator_bytes.push_back(bytes_per_idle_connection(emulator.pid(), emulator.front_door()));
      emulator.stop();
      runtime.join();
    }
    {
      const BareServer server;
      baseline_bytes.push_back(bytes_per_idle_connection(server.pid(), server.port()));
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double emulator = percentile(emulator_bytes, 0.50);
  const double baseline = percentile(baseline_bytes, 0.50);
  state.counters["emulator_bytes_per_connection"] = emulator;
  state.counters["baseline_bytes_per_connection"] = baseline;
  state.counters["emulator_to_baseline_ratio"] = baseline > 0 ? emulator / baseline : 0;
}
BENCHMARK(BM_IdleConnectionMemory)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

// The function for the crash benchmarks: this executable as a runtime that exits on the event
// "crash" (see runtime_loop and main).
std::vector<std::string> crashing_function(const std::filesystem::path& crash_time_file) {
  return {std::filesystem::read_symlink("/proc/self/exe").string(), "--crashing-runtime", crash_time_file.string()};
}

std::filesystem::path crash_time_file() {
  return std::filesystem::temp_directory_path() / ("snapbus-emulator-bench-crash-" + std::to_string(::getpid()));
}

// One invocation on a connection of its own (the front door may close one after a failure).
http::response<http::string_body> invoke(std::uint16_t front_door, const std::string& event) {
  asio::io_context io;
  auto client = connect_loopback(io, front_door);
  beast::flat_buffer buffer;
  return exchange(client, buffer, http::verb::post, kInvokePath, event);
}

void BM_FreshEnvironmentAfterCrash(benchmark::State& state) {
  const auto crash_file = crash_time_file();
  const Emulator emulator(crashing_function(crash_file));
  if (invoke(emulator.front_door(), "{}").result() != http::status::ok) state.SkipWithError("Init failed");
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    invoke(emulator.front_door(), kCrashEvent);  // answered with the crash's error
    const bool answered = invoke(emulator.front_door(), "{}").result() == http::status::ok;
    const auto done = Clock::now();
    if (!answered) state.SkipWithError("the fresh environment did not answer");
    std::ifstream in(crash_file);
    Clock::rep crashed = 0;
    in >> crashed;
    const double ns =
        std::chrono::duration<double, std::nano>(done - Clock::time_point(Clock::duration(crashed))).count();
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
  }
  std::filesystem::remove(crash_file);
  state.counters["fresh_p50_ns"] = percentile(samples, 0.50);
  state.counters["fresh_p99_ns"] = percentile(samples, 0.99);
}
BENCHMARK(BM_FreshEnvironmentAfterCrash)->UseManualTime()->Iterations(50)->Unit(benchmark::kMillisecond);

void BM_InitAtStart(benchmark::State& state) {
  const auto crash_file = crash_time_file();
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const Emulator emulator(crashing_function(crash_file));
    const bool answered = invoke(emulator.front_door(), "{}").result() == http::status::ok;
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - emulator.ready_at()).count();
    if (!answered) state.SkipWithError("Init failed");
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["init_p50_ns"] = percentile(samples, 0.50);
  state.counters["init_p99_ns"] = percentile(samples, 0.99);
}
BENCHMARK(BM_InitAtStart)->UseManualTime()->Iterations(50)->Unit(benchmark::kMillisecond);

}  // namespace

// `emulator_bench --crashing-runtime <file>` is the function of the crash benchmarks, started by
// the emulator with AWS_LAMBDA_RUNTIME_API (127.0.0.1:<port>).
int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--crashing-runtime") == 0) {
    const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
    if (api == nullptr) return 2;
    const std::string address(api);
    runtime_loop(static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))), argv[2]);
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
