// Publish -> subscriber wake latency, and publish -> every ack, with 1, 4 and 16 subscriber
// processes, against two baselines measured the same way in the same run: a bare two-process
// futex ping-pong, and a bare fan-out (N processes waiting on one futex word, woken at once, each
// acking through one shared atomic counter and a wake) -- the best N processes can do on this
// machine, so the 16-subscriber row is judged against what 2 vCPUs allow, not against one pair.
//
//   build/release/benchmarks/wake_latency_bench --benchmark_out=benchmarks/results/wake_latency.json
//
// Each iteration: the publisher stamps CLOCK_MONOTONIC, publishes, and waits for every ack; each
// subscriber stamps the moment its futex wait returns. Reported per benchmark:
//   wake_p50_ns / wake_p99_ns   publish -> a subscriber's wait returns (every subscriber, every round)
//   round_p50_ns / round_p99_ns publish -> the last ack is seen by the publisher
// The baselines do the same with raw futex words and nothing else.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "latency_samples.h"
#include "snapbus/futex.h"
#include "snapbus/publisher.h"
#include "snapbus/subscriber.h"

namespace {

using namespace std::chrono_literals;
using snapbus::bench::percentile;

constexpr int kMaxSubscribers = 16;

std::uint64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Shared between the benchmark process and its children (MAP_SHARED | MAP_ANONYMOUS).
struct SharedStamps {
  std::atomic<std::uint64_t> wake_ns[kMaxSubscribers];
  std::atomic<std::uint32_t> ping;
  std::atomic<std::uint32_t> pong;
  std::atomic<std::uint32_t> acks;  // fan-out: every child adds one per round
  std::atomic<std::uint32_t> stop;
};

SharedStamps* map_stamps() {
  void* memory = mmap(nullptr, sizeof(SharedStamps), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) std::abort();
  return new (memory) SharedStamps{};
}

void report(benchmark::State& state, const std::vector<std::uint64_t>& wake, const std::vector<std::uint64_t>& round) {
  state.counters["wake_p50_ns"] = percentile(wake, 0.50);
  state.counters["wake_p99_ns"] = percentile(wake, 0.99);
  state.counters["round_p50_ns"] = percentile(round, 0.50);
  state.counters["round_p99_ns"] = percentile(round, 0.99);
}

void reap(const std::vector<pid_t>& children) {
  for (pid_t pid : children) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

void BM_BareFutexPingPong(benchmark::State& state) {
  SharedStamps* shared = map_stamps();
  const pid_t child = ::fork();
  if (child == 0) {
    std::uint32_t seen = 0;
    while (shared->stop.load() == 0) {
      snapbus::futex_wait(&shared->ping, seen, snapbus::FutexClock::now() + 1s);
      const std::uint32_t now = shared->ping.load(std::memory_order_acquire);
      if (now == seen) continue;
      shared->wake_ns[0].store(mono_ns(), std::memory_order_relaxed);
      seen = now;
      shared->pong.store(now, std::memory_order_release);
      snapbus::futex_wake_all(&shared->pong);
    }
    ::_exit(0);
  }
  std::vector<std::uint64_t> wake;
  std::vector<std::uint64_t> round;
  std::uint32_t counter = 0;
  for (auto _ : state) {
    const std::uint32_t next = ++counter;
    const std::uint64_t start = mono_ns();
    shared->ping.store(next, std::memory_order_release);
    snapbus::futex_wake_all(&shared->ping);
    while (shared->pong.load(std::memory_order_acquire) != next) {
      snapbus::futex_wait(&shared->pong, next - 1, snapbus::FutexClock::now() + 1s);
    }
    const std::uint64_t end = mono_ns();
    wake.push_back(shared->wake_ns[0].load() - start);
    round.push_back(end - start);
    state.SetIterationTime(static_cast<double>(end - start) / 1e9);
  }
  shared->stop.store(1);
  reap({child});
  report(state, wake, round);
  munmap(shared, sizeof(SharedStamps));
}
BENCHMARK(BM_BareFutexPingPong)->UseManualTime()->Iterations(20000);

void BM_BareFutexFanOut(benchmark::State& state) {
  const int waiters = static_cast<int>(state.range(0));
  SharedStamps* shared = map_stamps();
  std::vector<pid_t> children;
  for (int i = 0; i < waiters; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::uint32_t seen = 0;
      while (shared->stop.load() == 0) {
        snapbus::futex_wait(&shared->ping, seen, snapbus::FutexClock::now() + 1s);
        const std::uint32_t now = shared->ping.load(std::memory_order_acquire);
        if (now == seen) continue;
        shared->wake_ns[i].store(mono_ns(), std::memory_order_relaxed);
        seen = now;
        shared->acks.fetch_add(1, std::memory_order_acq_rel);
        snapbus::futex_wake_all(&shared->acks);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  std::vector<std::uint64_t> wake;
  std::vector<std::uint64_t> round;
  std::uint32_t counter = 0;
  for (auto _ : state) {
    const std::uint32_t next = ++counter;
    const std::uint32_t target = next * static_cast<std::uint32_t>(waiters);
    const std::uint64_t start = mono_ns();
    shared->ping.store(next, std::memory_order_release);
    snapbus::futex_wake_all(&shared->ping);
    for (std::uint32_t acked = shared->acks.load(std::memory_order_acquire); acked != target;
         acked = shared->acks.load(std::memory_order_acquire)) {
      snapbus::futex_wait(&shared->acks, acked, snapbus::FutexClock::now() + 1s);
    }
    const std::uint64_t end = mono_ns();
    for (int i = 0; i < waiters; ++i) wake.push_back(shared->wake_ns[i].load() - start);
    round.push_back(end - start);
    state.SetIterationTime(static_cast<double>(end - start) / 1e9);
  }
  shared->stop.store(1);
  reap(children);
  report(state, wake, round);
  munmap(shared, sizeof(SharedStamps));
}
BENCHMARK(BM_BareFutexFanOut)->Arg(1)->Arg(4)->Arg(16)->UseManualTime()->Iterations(5000);

void BM_PublishToAck(benchmark::State& state) {
  const int subscribers = static_cast<int>(state.range(0));
  const auto dir = std::filesystem::temp_directory_path() / ("snapbus-wake-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "bus.seg";
  SharedStamps* shared = map_stamps();
  auto publisher = snapbus::Publisher::acquire({.path = path, .slot_count = kMaxSubscribers + 4});

  std::vector<pid_t> children;
  for (int i = 0; i < subscribers; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto sub = snapbus::Subscriber::open(path, {.name = "bench-" + std::to_string(i)});
      // The state the slot was claimed at: a publish right after the claim is still seen.
      std::uint32_t seen = sub.joined_state().seq;
      while (shared->stop.load() == 0) {
        sub.wait_for_change(seen, snapbus::FutexClock::now() + 1s);
        const std::uint32_t now = sub.seq();
        if (now == seen) continue;
        shared->wake_ns[i].store(mono_ns(), std::memory_order_relaxed);
        const snapbus::StateSnapshot s = sub.state();
        sub.acknowledge({.seq = s.seq, .handled_generation = s.generation});
        seen = s.seq;
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  // Start measuring only once every subscriber holds its slot.
  while (static_cast<int>(snapbus::read_slots(publisher.segment()).size()) < subscribers) {
    std::this_thread::sleep_for(1ms);
  }

  std::vector<std::uint64_t> wake;
  std::vector<std::uint64_t> round;
  for (auto _ : state) {
    const std::uint64_t start = mono_ns();
    const auto now = publisher.transition(snapbus::Phase::after_restore);
    const auto acks = publisher.wait_for_acks(now.seq, snapbus::FutexClock::now() + 5s);
    const std::uint64_t end = mono_ns();
    if (!acks.all_ok()) {
      std::string problems = "a subscriber did not ack:";
      for (const std::string& problem : acks.problems()) problems += " " + problem + ";";
      state.SkipWithError(problems.c_str());
      break;
    }
    for (int i = 0; i < subscribers; ++i) wake.push_back(shared->wake_ns[i].load() - start);
    round.push_back(end - start);
    state.SetIterationTime(static_cast<double>(end - start) / 1e9);
  }
  shared->stop.store(1);
  publisher.transition(snapbus::Phase::running);  // wakes the subscribers so they see stop
  reap(children);
  report(state, wake, round);
  munmap(shared, sizeof(SharedStamps));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_PublishToAck)->Arg(1)->Arg(4)->Arg(16)->UseManualTime()->Iterations(5000);

}  // namespace

BENCHMARK_MAIN();
