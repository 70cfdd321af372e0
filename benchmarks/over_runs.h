// A benchmark run several times, every run with processes of its own, and reported as the median,
// smallest and largest over the runs: on a 2-vCPU VM where the scheduler places the processes decides
// much of one run's figure (the same build gave 30 to 58 us added by proxy mode, and 0.87 to 1.53x
// nginx's added latency through the adapter, unpinned), and one run draws one placement.
//
//   BENCHMARK(BM_Something)->UseManualTime()->Iterations(4000)->Apply(snapbus::bench::over_runs);
//   // JSON: BM_Something/..._median, ..._min, ..._max (and Google Benchmark's _mean, _stddev, _cv)
#pragma once

#include <algorithm>
#include <vector>

#include <benchmark/benchmark.h>

namespace snapbus::bench {

inline constexpr int kRuns = 5;

inline void over_runs(benchmark::internal::Benchmark* benchmark) {
  benchmark->Repetitions(kRuns)
      ->ReportAggregatesOnly(true)
      ->ComputeStatistics(
          "min", [](const std::vector<double>& values) { return *std::min_element(values.begin(), values.end()); })
      ->ComputeStatistics(
          "max", [](const std::vector<double>& values) { return *std::max_element(values.begin(), values.end()); });
}

}  // namespace snapbus::bench
