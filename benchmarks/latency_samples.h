// Percentiles of latency samples, for benchmarks that report p50/p99 as counters.
//
//   std::vector<double> ns = ...;
//   state.counters["rtt_p50_ns"] = percentile(ns, 0.50);
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace snapbus::bench {

// Nearest-rank on a sorted copy; 0 for no samples.
inline double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1))];
}

}  // namespace snapbus::bench
