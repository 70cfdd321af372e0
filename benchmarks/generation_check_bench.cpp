// The hot path: "which generation am I in?" against what it must compete with.
//
//   build/release/benchmarks/generation_check_bench --benchmark_out=benchmarks/results/generation_check.json
//
// Baselines in the same run: a plain acquire load of a local atomic (the floor), stat() of a marker
// file (what /tmp-marker workarounds pay), and a raw getpid syscall (the cheapest kernel round trip).
// Also the consistent copy of the whole state under the seqlock.
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>

#include "snapbus/publisher.h"
#include "snapbus/seqlock.h"
#include "snapbus/subscriber.h"

namespace {

// One publisher and one subscriber for the whole run, on a private segment.
struct Fixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("snapbus-bench-" + std::to_string(::getpid()));
  std::optional<snapbus::Publisher> publisher;
  std::optional<snapbus::Subscriber> subscriber;
  std::filesystem::path marker = dir / "restored.marker";

  Fixture() {
    std::filesystem::create_directories(dir);
    publisher.emplace(snapbus::Publisher::acquire({.path = dir / "bus.seg", .slot_count = 4}));
    subscriber.emplace(snapbus::Subscriber::open(dir / "bus.seg", {.name = "bench"}));
    publisher->transition(snapbus::Phase::after_restore);
    std::ofstream(marker) << "1";
  }
  ~Fixture() {
    subscriber.reset();
    publisher.reset();
    std::filesystem::remove_all(dir);
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

void BM_PlainAtomicLoad(benchmark::State& state) {
  std::atomic<std::uint64_t> word{1};
  for (auto _ : state) {
    benchmark::DoNotOptimize(word.load(std::memory_order_acquire));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_PlainAtomicLoad);

void BM_SnapbusGeneration(benchmark::State& state) {
  const snapbus::Subscriber& sub = *fixture().subscriber;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sub.generation());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SnapbusGeneration);

void BM_StatMarkerFile(benchmark::State& state) {
  const std::string marker = fixture().marker.string();
  struct stat status {};
  for (auto _ : state) benchmark::DoNotOptimize(::stat(marker.c_str(), &status));
}
BENCHMARK(BM_StatMarkerFile);

void BM_GetpidSyscall(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(::syscall(SYS_getpid));
}
BENCHMARK(BM_GetpidSyscall);

void BM_SeqlockReadWholeState(benchmark::State& state) {
  const snapbus::Subscriber& sub = *fixture().subscriber;
  for (auto _ : state) benchmark::DoNotOptimize(snapbus::read_state(sub.segment().state()));
}
BENCHMARK(BM_SeqlockReadWholeState);

}  // namespace

BENCHMARK_MAIN();
