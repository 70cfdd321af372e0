// What proxy mode adds: the same runtime client against `snapbus emulate` directly and through
// `snapbus proxy`, in the same run, one call on each path in each round, in a shuffled order (so load
// on the machine moves both sides together, and neither always follows the other). Goal: under 50 us added at p50 on
// loopback.
//   BM_ProxyBufferedInvocation  POST {} to the RIE path -> the runtime (RuntimeClient: next, then
//                               post_response with the payload) -> the answer at the caller:
//                               direct_rtt_*, proxied_rtt_*, added_rtt_* (percentiles of each
//                               iteration's proxied - direct, the two taken back to back); and,
//                               interleaved too, one keep-alive HTTP exchange with a bare Beast
//                               server in a process of its own (loopback_rtt_*). The proxy relays
//                               two calls per invocation, but the invocation/next long poll is
//                               parked before the invocation comes and the emulator's answer to the
//                               response is off the caller's path: what lies on it is one hop more
//                               each way, so added_rtt_p50_to_loopback_rtt_p50_ratio near 1 is the
//                               floor
//   BM_ProxyStreamChunkRelay    the runtime writes one 64-byte chunk of a streamed response -> the
//                               caller at the front door has it: direct_chunk_*, proxied_chunk_*,
//                               added_chunk_*
//   .../one_core:1              the same with every process on one core (bench_processes.h's OnOneCore)
// Each is run several times, every run with processes of its own, and reported as the median, min
// and max over the runs (over_runs.h says why).
// Each path has its own emulator (a function has one runtime); the function they start is idle,
// the runtime is this process. The proxy runs on-demand (no SnapStart bracket): only forwarding is
// measured. Build with the release preset; run through benchmarks/run.sh.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "bench_processes.h"
#include "latency_samples.h"
#include "over_runs.h"
#include "round_order.h"
#include "snapbus/runtime_client.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

using snapbus::bench::connect_loopback;
using snapbus::bench::over_runs;
using snapbus::bench::paired_differences;
using snapbus::bench::percentile;

constexpr const char* kInvokePath = "/2015-03-31/functions/function/invocations";
constexpr const char* kNextPath = "/2018-06-01/runtime/invocation/next";
constexpr int kWarmUp = 50;

double ns_since(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

// The run's directory under /tmp: removed when the benchmark exits (its processes have stopped by
// then).
fs::path scratch_dir(const std::string& name) {
  static const snapbus::bench::TempDir root("proxy-bench");
  fs::path dir = root.path() / name;
  fs::create_directories(dir);
  return dir;
}

// `snapbus emulate` of an idle function: the runtime is this process.
class Emulator : public snapbus::bench::EmulatorProcess {
 public:
  explicit Emulator(const std::string& name)
      : EmulatorProcess(SNAPBUS_EXECUTABLE, scratch_dir(name), {"--", "/bin/sleep", "3600"}) {}
};

std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// `snapbus proxy` in front of an emulator's Runtime API (on-demand: no bracket).
class Proxy {
 public:
  explicit Proxy(std::uint16_t runtime_api)
      : dir_(scratch_dir("proxy")),
        port_(free_port()),
        process_({SNAPBUS_EXECUTABLE, "proxy"},
                 {"AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(runtime_api),
                  "SNAPBUS_PROXY_PORT=" + std::to_string(port_), "SNAPBUS_SEGMENT=" + (dir_ / "snapbus.seg").string()},
                 "/dev/null", dir_ / "proxy.log") {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    asio::io_context io;
    while (Clock::now() < deadline) {
      try {
        static_cast<void>(connect_loopback(io, port_));
        return;
      } catch (const boost::system::system_error&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    throw std::runtime_error("the proxy did not listen; see " + (dir_ / "proxy.log").string());
  }
  void stop() { process_.stop(); }
  std::uint16_t port() const { return port_; }

 private:
  fs::path dir_;
  std::uint16_t port_;
  snapbus::bench::ChildProcess process_;
};

// A runtime on snapbus's RuntimeClient in its own thread: answers every event with its payload
// until invocation/next fails (the emulator, or the proxy, went away).
class EchoRuntime {
 public:
  explicit EchoRuntime(std::uint16_t runtime_api)
      : thread_([runtime_api] {
          asio::io_context io;
          asio::co_spawn(io, loop(io.get_executor(), runtime_api), asio::detached);
          io.run();
        }) {}
  ~EchoRuntime() { thread_.join(); }
  EchoRuntime(const EchoRuntime&) = delete;
  EchoRuntime& operator=(const EchoRuntime&) = delete;

 private:
  static asio::awaitable<void> loop(asio::any_io_executor executor, std::uint16_t runtime_api) {
    snapbus::lambda::RuntimeClient runtime(executor, {.host = "127.0.0.1", .port = std::to_string(runtime_api)});
    for (;;) {
      auto event = co_await runtime.next();
      if (!event) co_return;
      if (!co_await runtime.post_response(event->request_id, std::move(event->payload))) co_return;
    }
  }
  std::thread thread_;
};

http::response<http::string_body> exchange(tcp::socket& socket, beast::flat_buffer& buffer, http::verb verb,
                                           const std::string& target, const std::string& body) {
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request);
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return response;
}

// Each path's percentiles, and those of what the proxied sample of an iteration adds to the direct
// one taken beside it.
void report(benchmark::State& state, const std::string& figure, const std::vector<double>& direct,
            const std::vector<double>& proxied) {
  const std::vector<double> added = paired_differences(proxied, direct);
  for (const double p : {0.50, 0.99}) {
    const std::string name = figure + (p == 0.50 ? "_p50_ns" : "_p99_ns");
    state.counters["direct_" + name] = percentile(direct, p);
    state.counters["proxied_" + name] = percentile(proxied, p);
    state.counters["added_" + name] = percentile(added, p);
  }
  state.counters["proxied_to_direct_" + figure + "_p50_ratio"] = percentile(proxied, 0.50) / percentile(direct, 0.50);
}

// A caller at one path's front door.
class Caller {
 public:
  explicit Caller(std::uint16_t front_door) : socket_(connect_loopback(io_, front_door)) {}
  double invoke() {
    const auto start = Clock::now();
    const auto answer = exchange(socket_, buffer_, http::verb::post, kInvokePath, "{}");
    const double ns = ns_since(start);
    if (answer.result() != http::status::ok || answer.body() != "{}") throw std::runtime_error("invocation failed");
    return ns;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

void BM_ProxyBufferedInvocation(benchmark::State& state) {
  const snapbus::bench::OnOneCore pinned(state.range(0) == 1);
  Emulator direct_emulator("buffered-direct");
  Emulator proxied_emulator("buffered-proxied");
  Proxy proxy(proxied_emulator.runtime_api());
  snapbus::bench::LoopbackEchoServer bare_server;
  std::vector<double> direct;
  std::vector<double> proxied;
  std::vector<double> loopback;
  {
    EchoRuntime direct_runtime(direct_emulator.runtime_api());
    EchoRuntime proxied_runtime(proxy.port());
    Caller to_direct(direct_emulator.front_door());
    Caller to_proxied(proxied_emulator.front_door());
    Caller to_bare_server(bare_server.port());
    for (int i = 0; i < kWarmUp; ++i) {  // Init, first-invocation work, connection set-up on every hop
      to_direct.invoke();
      to_proxied.invoke();
      to_bare_server.invoke();
    }
    direct.reserve(static_cast<std::size_t>(state.max_iterations));
    proxied.reserve(static_cast<std::size_t>(state.max_iterations));
    loopback.reserve(static_cast<std::size_t>(state.max_iterations));
    // The three in a new shuffled order each round (round_order.h): whatever one path leaves to do
    // after its answer (an emulator's REPORT) falls on each of the others alike, the yardstick too,
    // which in a fixed place always came after an emulator's path.
    std::vector<std::vector<double>*> samples{&direct, &proxied, &loopback};
    std::vector<Caller*> callers{&to_direct, &to_proxied, &to_bare_server};
    snapbus::bench::RoundOrder order(callers.size());
    for (auto _ : state) {
      for (const std::size_t i : order.next()) samples[i]->push_back(callers[i]->invoke());
      state.SetIterationTime(proxied.back() / 1e9);
    }
    direct_emulator.stop();  // the runtimes' invocation/next fail: their threads end
    proxied_emulator.stop();
  }
  proxy.stop();
  report(state, "rtt", direct, proxied);
  state.counters["loopback_rtt_p50_ns"] = percentile(loopback, 0.50);
  state.counters["loopback_rtt_p99_ns"] = percentile(loopback, 0.99);
  state.counters["added_rtt_p50_to_loopback_rtt_p50_ratio"] =
      state.counters["added_rtt_p50_ns"] / percentile(loopback, 0.50);
}
BENCHMARK(BM_ProxyBufferedInvocation)
    ->ArgName("one_core")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(5000)
    ->Unit(benchmark::kMicrosecond)
    ->Apply(over_runs);

// One streamed invocation held open: the caller's request at the front door, the runtime's
// streamed response (raw chunks, so the time is the relay's alone).
class OpenStream {
 public:
  OpenStream(std::uint16_t front_door, std::uint16_t runtime_api)
      : caller_(connect_loopback(io_, front_door)),
        poll_(connect_loopback(io_, runtime_api)),
        stream_(connect_loopback(io_, runtime_api)) {
    const std::string request =
        std::string("POST ") + kInvokePath + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    asio::write(caller_, asio::buffer(request));
    beast::flat_buffer buffer;
    const auto event = exchange(poll_, buffer, http::verb::get, kNextPath, "");
    const std::string id(event["Lambda-Runtime-Aws-Request-Id"]);
    const std::string head = "POST /2018-06-01/runtime/invocation/" + id +
                             "/response HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
                             "Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n";
    asio::write(stream_, asio::buffer(head));
  }
  // 64 bytes, each chunk unique, so the caller knows exactly when this one has arrived.
  double relay_chunk() {
    char payload[65];
    std::snprintf(payload, sizeof payload, "%064lld", sent_++);
    const std::string piece(payload, 64);
    const std::string chunk = "40\r\n" + piece + "\r\n";
    const auto start = Clock::now();
    asio::write(stream_, asio::buffer(chunk));
    std::size_t at = 0;
    while ((at = received_.find(piece)) == std::string::npos) {
      char buffer[4096];
      received_.append(buffer, caller_.read_some(asio::buffer(buffer)));
    }
    const double ns = ns_since(start);
    received_.erase(0, at + piece.size());
    return ns;
  }
  void finish() { asio::write(stream_, asio::buffer(std::string("0\r\n\r\n"))); }

 private:
  asio::io_context io_;
  tcp::socket caller_;
  tcp::socket poll_;
  tcp::socket stream_;
  std::string received_;
  long long sent_ = 0;
};

void BM_ProxyStreamChunkRelay(benchmark::State& state) {
  Emulator direct_emulator("stream-direct");
  Emulator proxied_emulator("stream-proxied");
  Proxy proxy(proxied_emulator.runtime_api());
  OpenStream to_direct(direct_emulator.front_door(), direct_emulator.runtime_api());
  OpenStream to_proxied(proxied_emulator.front_door(), proxy.port());
  for (int i = 0; i < kWarmUp; ++i) {
    to_direct.relay_chunk();
    to_proxied.relay_chunk();
  }
  std::vector<double> direct;
  std::vector<double> proxied;
  direct.reserve(static_cast<std::size_t>(state.max_iterations));
  proxied.reserve(static_cast<std::size_t>(state.max_iterations));
  bool direct_first = true;
  for (auto _ : state) {
    if (direct_first) direct.push_back(to_direct.relay_chunk());
    proxied.push_back(to_proxied.relay_chunk());
    if (!direct_first) direct.push_back(to_direct.relay_chunk());
    direct_first = !direct_first;
    state.SetIterationTime(proxied.back() / 1e9);
  }
  to_direct.finish();
  to_proxied.finish();
  report(state, "chunk", direct, proxied);
}
BENCHMARK(BM_ProxyStreamChunkRelay)->UseManualTime()->Iterations(5000)->Unit(benchmark::kMicrosecond)->Apply(over_runs);

}  // namespace

BENCHMARK_MAIN();
