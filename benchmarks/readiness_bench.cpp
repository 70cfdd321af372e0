// How soon the adapter notices that the app listens, and what waiting costs, against Lambda Web
// Adapter's 10 ms poll in the same run.
//
//   build/release/benchmarks/readiness_bench --benchmark_out=benchmarks/results/readiness.json
//
// Each iteration starts the readiness wait on a port nothing listens on, lets the "app" start
// listening a few milliseconds later, and measures from listen() to the wait's return
// (notice_p50_ns, notice_p99_ns). BM_ReadinessIdleCpu waits on a closed port for a second and
// reports the CPU it burnt (cpu_percent of one core), beside LWA's 10 ms poll and a thread that
// only sleeps 1 ms at a time (the cost of the cadence itself).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include <boost/asio.hpp>

#include "latency_samples.h"
#include "readiness.h"
#include "snapbus/unique_fd.h"
#include "testing/loopback_socket.h"

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using snapbus::UniqueFd;
using snapbus::adapter::ReadinessCheck;
using snapbus::adapter::ReadinessProtocol;

ReadinessCheck check_for(std::uint16_t port, std::chrono::milliseconds retry) {
  return {.host = "127.0.0.1", .port = port, .protocol = ReadinessProtocol::tcp, .refused_retry = retry};
}

void notice_latency(benchmark::State& state, std::chrono::milliseconds retry) {
  std::mt19937 random(42);
  std::uniform_int_distribution<int> delay_us(3000, 20000);
  std::vector<double> samples;
  for (auto _ : state) {
    const std::uint16_t port = snapbus::adapter::testing::free_loopback_port();
    asio::io_context io;
    auto ready = asio::co_spawn(
        io, snapbus::adapter::wait_until_ready(check_for(port, retry), 5s, [](std::string_view) {}), asio::use_future);
    std::thread waiter([&io] { io.run(); });
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    UniqueFd listener = snapbus::adapter::testing::bind_loopback(port);
    ::listen(listener.get(), 4);
    const auto listening = Clock::now();
    ready.wait();
    const auto noticed = Clock::now();
    waiter.join();
    if (ready.get() != snapbus::adapter::Readiness::ready) state.SkipWithError("not ready within 5 s");
    const double ns = std::chrono::duration<double, std::nano>(noticed - listening).count();
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["notice_p50_ns"] = snapbus::bench::percentile(samples, 0.50);
  state.counters["notice_p99_ns"] = snapbus::bench::percentile(samples, 0.99);
}

void BM_ReadinessNotice(benchmark::State& state) { notice_latency(state, snapbus::adapter::kRefusedRetry); }
BENCHMARK(BM_ReadinessNotice)->UseManualTime()->Iterations(200)->Unit(benchmark::kMicrosecond);

// Baseline: the same wait polling every 10 ms, as LWA does.
void BM_LwaPollNotice(benchmark::State& state) { notice_latency(state, 10ms); }
BENCHMARK(BM_LwaPollNotice)->UseManualTime()->Iterations(200)->Unit(benchmark::kMicrosecond);

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void idle_cpu(benchmark::State& state, std::chrono::milliseconds retry) {
  double percent = 0;
  for (auto _ : state) {
    const std::uint16_t port = snapbus::adapter::testing::free_loopback_port();
    asio::io_context io;
    const double cpu_before = cpu_seconds();
    const auto start = Clock::now();
    auto done = asio::co_spawn(
        io, snapbus::adapter::wait_until_ready(check_for(port, retry), 1s, [](std::string_view) {}), asio::use_future);
    io.run();
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    percent = 100.0 * (cpu_seconds() - cpu_before) / wall;
    (void)done.get();
  }
  state.counters["cpu_percent"] = percent;
}

void BM_ReadinessIdleCpu(benchmark::State& state) { idle_cpu(state, snapbus::adapter::kRefusedRetry); }
BENCHMARK(BM_ReadinessIdleCpu)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_LwaPollIdleCpu(benchmark::State& state) { idle_cpu(state, 10ms); }
BENCHMARK(BM_LwaPollIdleCpu)->Iterations(3)->Unit(benchmark::kMillisecond);

// The floor for any 1 ms cadence on this machine: a thread that only sleeps 1 ms at a time. On a
// VM each wake-up costs far more than on bare metal, and this shows how much of the readiness
// wait's CPU is that.
void BM_Sleep1msIdleCpu(benchmark::State& state) {
  double percent = 0;
  for (auto _ : state) {
    const double cpu_before = cpu_seconds();
    const auto start = Clock::now();
    while (Clock::now() - start < 1s) std::this_thread::sleep_for(1ms);
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    percent = 100.0 * (cpu_seconds() - cpu_before) / wall;
  }
  state.counters["cpu_percent"] = percent;
}
BENCHMARK(BM_Sleep1msIdleCpu)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
