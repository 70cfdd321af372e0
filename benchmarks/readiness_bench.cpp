// How soon the adapter notices that the app listens, and what waiting costs, against Lambda Web
// Adapter's 10 ms poll in the same run.
//
//   build/release/benchmarks/readiness_bench --benchmark_out=benchmarks/results/readiness.json
//
// Each iteration starts the readiness wait on a port nothing listens on, lets the "app" start
// listening a few milliseconds later, and measures from listen() to the wait's return
// (notice_p50_ns, notice_p99_ns):
//   BM_ReadinessAnnouncedNotice  the app is a python3 process with the layer's listen notice library
//                                preloaded, as /opt/bootstrap starts it; the adapter waits with
//                                ListenNotices and hears the listen() (timed from just before the
//                                call, on the same monotonic clock, so the library's own datagram counts)
//   BM_ReadinessNotice           an app without the library (a listener in this process): the 1 ms poll
//   BM_LwaPollNotice             the same with LWA's 10 ms poll
// BM_*IdleCpu waits on a closed port for a second, three times, and reports the CPU it burnt over
// the three (cpu_percent of one core): while an app with the library starts (it announced itself
// and runs nothing the library does not reach, so the poll is only a 100 ms safety net), while one
// without it starts (1 ms), beside LWA's 10 ms poll (a connect every time, as LWA's) and a thread
// that only sleeps 1 ms at a time (the cost of the cadence itself).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include <boost/asio.hpp>

#include "latency_samples.h"
#include "listen_notice.h"
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

// When the wait returned, read on the thread that waited: the moment the adapter knows, not the
// later one at which this benchmark's main thread has woken up to look.
struct Noticed {
  snapbus::adapter::Readiness readiness = snapbus::adapter::Readiness::timed_out;
  Clock::time_point at;
};

asio::awaitable<Noticed> timed(asio::awaitable<snapbus::adapter::Readiness> wait) {
  const auto readiness = co_await std::move(wait);
  co_return Noticed{readiness, Clock::now()};
}

// A segment path of this run's own, so the notice socket's name is too.
std::filesystem::path bench_segment() {
  return std::filesystem::temp_directory_path() / ("snapbus-readiness-bench-" + std::to_string(::getpid()) + ".seg");
}

// A python3 with the listen notice library preloaded, as /opt/bootstrap starts the app's processes;
// `script` gets the port as sys.argv[1]. Its stdout is read through the returned pipe.
struct PreloadedApp {
  std::unique_ptr<FILE, int (*)(FILE*)> out{nullptr, ::pclose};
};

PreloadedApp start_preloaded_app(const std::string& script, std::uint16_t port) {
  const std::string command = "LD_PRELOAD='" SNAPBUS_LISTEN_NOTICE_LIBRARY "' SNAPBUS_SEGMENT='" +
                              bench_segment().string() + "' exec /usr/bin/python3 -c '" + script + "' " +
                              std::to_string(port);
  PreloadedApp app;
  app.out.reset(::popen(command.c_str(), "r"));
  return app;
}

// Sleeps 3-20 ms, then listens; prints the monotonic clock just before listen(), in ns, and exits
// 50 ms after the readiness check has come and gone (or after 5 s). Exiting at once would put the
// interpreter's teardown, milliseconds of CPU, on the core the waiting thread was about to run on.
constexpr const char* kListenLater = R"(
import random, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(random.uniform(0.003, 0.020))
before = time.monotonic_ns()
s.listen()
print(before, flush=True)
s.settimeout(5)
c, _ = s.accept()
c.recv(1)
time.sleep(0.05)
)";

// Starts, says so, and outlives the one-second wait.
constexpr const char* kStartOnly = "import time; print(1, flush=True); time.sleep(1.3)";

void BM_ReadinessAnnouncedNotice(benchmark::State& state) {
  std::vector<double> samples;
  for (auto _ : state) {
    const std::uint16_t port = snapbus::adapter::testing::free_loopback_port();
    asio::io_context io;
    snapbus::adapter::ListenNotices notices(io.get_executor(), bench_segment());
    if (!notices.receiving()) {
      state.SkipWithError(notices.error().c_str());
      break;
    }
    auto ready =
        asio::co_spawn(io,
                       timed(snapbus::adapter::wait_until_ready(
                           check_for(port, snapbus::adapter::kRefusedRetry), 5s, [](std::string_view) {}, &notices)),
                       asio::use_future);
    std::thread waiter([&io] { io.run(); });
    PreloadedApp app = start_preloaded_app(kListenLater, port);
    // The app's time is read after the wait: this thread, woken by the app's output, would otherwise
    // compete with the waiting one for the two cores just when it should notice.
    const Noticed noticed = ready.get();
    long long before_listen_ns = 0;
    const bool printed = app.out && std::fscanf(app.out.get(), "%lld", &before_listen_ns) == 1;
    waiter.join();
    if (!printed || noticed.readiness != snapbus::adapter::Readiness::ready) {
      state.SkipWithError("the app did not listen, or was not noticed within 5 s");
      break;
    }
    const double ns = static_cast<double>(
                          std::chrono::duration_cast<std::chrono::nanoseconds>(noticed.at.time_since_epoch()).count()) -
                      static_cast<double>(before_listen_ns);
    samples.push_back(ns);
    state.SetIterationTime(ns / 1e9);
  }
  state.counters["notice_p50_ns"] = snapbus::bench::percentile(samples, 0.50);
  state.counters["notice_p99_ns"] = snapbus::bench::percentile(samples, 0.99);
}
BENCHMARK(BM_ReadinessAnnouncedNotice)->UseManualTime()->Iterations(60)->Unit(benchmark::kMicrosecond);

void notice_latency(benchmark::State& state, std::chrono::milliseconds retry) {
  std::mt19937 random(42);
  std::uniform_int_distribution<int> delay_us(3000, 20000);
  std::vector<double> samples;
  for (auto _ : state) {
    const std::uint16_t port = snapbus::adapter::testing::free_loopback_port();
    asio::io_context io;
    auto ready = asio::co_spawn(
        io, timed(snapbus::adapter::wait_until_ready(check_for(port, retry), 5s, [](std::string_view) {})),
        asio::use_future);
    std::thread waiter([&io] { io.run(); });
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    UniqueFd listener = snapbus::adapter::testing::bind_loopback(port);
    ::listen(listener.get(), 4);
    const auto listening = Clock::now();
    const Noticed noticed = ready.get();
    waiter.join();
    if (noticed.readiness != snapbus::adapter::Readiness::ready) {
      state.SkipWithError("not ready within 5 s");  // no sample: a timeout is no notice time
      break;
    }
    const double ns = std::chrono::duration<double, std::nano>(noticed.at - listening).count();
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

// CPU burnt over wall time, summed over every iteration: one figure for the whole run, not the
// last second's alone.
class CpuShare {
 public:
  void add(double cpu, double wall) {
    cpu_ += cpu;
    wall_ += wall;
  }
  double percent() const { return wall_ > 0 ? 100.0 * cpu_ / wall_ : 0; }

 private:
  double cpu_ = 0;
  double wall_ = 0;
};

void idle_cpu(benchmark::State& state, std::chrono::milliseconds retry) {
  CpuShare share;
  for (auto _ : state) {
    const std::uint16_t port = snapbus::adapter::testing::free_loopback_port();
    asio::io_context io;
    const double cpu_before = cpu_seconds();
    const auto start = Clock::now();
    auto done = asio::co_spawn(
        io, snapbus::adapter::wait_until_ready(check_for(port, retry), 1s, [](std::string_view) {}), asio::use_future);
    io.run();
    share.add(cpu_seconds() - cpu_before, std::chrono::duration<double>(Clock::now() - start).count());
    (void)done.get();
  }
  state.counters["cpu_percent"] = share.percent();
}

// An app with the library that has started but does not listen yet: the wait has heard its hello.
void BM_ReadinessAnnouncedIdleCpu(benchmark::State& state) {
  CpuShare share;
  for (auto _ : state) {
    const std::uint16_t port = snapbus::adapter::testing::free_loopback_port();
    asio::io_context io;
    snapbus::adapter::ListenNotices notices(io.get_executor(), bench_segment());
    PreloadedApp app = start_preloaded_app(kStartOnly, port);
    int started = 0;
    if (!app.out || std::fscanf(app.out.get(), "%d", &started) != 1) {
      state.SkipWithError("the app did not start");
      break;
    }
    const double cpu_before = cpu_seconds();
    const auto start = Clock::now();
    auto done =
        asio::co_spawn(io,
                       snapbus::adapter::wait_until_ready(
                           check_for(port, snapbus::adapter::kRefusedRetry), 1s, [](std::string_view) {}, &notices),
                       asio::use_future);
    io.run();
    share.add(cpu_seconds() - cpu_before, std::chrono::duration<double>(Clock::now() - start).count());
    (void)done.get();
    if (!notices.app_announced()) {
      state.SkipWithError("the app's hello was not heard");
      break;
    }
  }
  state.counters["cpu_percent"] = share.percent();
}
BENCHMARK(BM_ReadinessAnnouncedIdleCpu)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_ReadinessIdleCpu(benchmark::State& state) { idle_cpu(state, snapbus::adapter::kRefusedRetry); }
BENCHMARK(BM_ReadinessIdleCpu)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_LwaPollIdleCpu(benchmark::State& state) { idle_cpu(state, 10ms); }
BENCHMARK(BM_LwaPollIdleCpu)->Iterations(3)->Unit(benchmark::kMillisecond);

// The floor for any 1 ms cadence on this machine: a thread that only sleeps 1 ms at a time. On a
// VM each wake-up costs far more than on bare metal, and this shows how much of the readiness
// wait's CPU is that.
void BM_Sleep1msIdleCpu(benchmark::State& state) {
  CpuShare share;
  for (auto _ : state) {
    const double cpu_before = cpu_seconds();
    const auto start = Clock::now();
    while (Clock::now() - start < 1s) std::this_thread::sleep_for(1ms);
    share.add(cpu_seconds() - cpu_before, std::chrono::duration<double>(Clock::now() - start).count());
  }
  state.counters["cpu_percent"] = share.percent();
}
BENCHMARK(BM_Sleep1msIdleCpu)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
