// Percentiles of latency samples, for benchmarks that report p50/p99 as counters.
//
//   std::vector<double> ns = ...;
//   state.counters["rtt_p50_ns"] = percentile(ns, 0.50);
//   // Two paths sampled once each per round, in the same rounds: what one adds to the other.
//   state.counters["added_p50_ns"] = percentile(paired_differences(adapter, trivial), 0.50);
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace snapbus::bench {

// The sample at rank floor(p * (n - 1)) of the sorted samples, the lower of the two around p: with
// 150 samples, p99 is the third largest, so a p99 from a few hundred samples is nearly the maximum.
// 0 for no samples.
template <typename Sample>
double percentile(std::vector<Sample> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return static_cast<double>(samples[static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1))]);
}

// minuend[i] - subtrahend[i]: samples taken in the same rounds, so each difference is one round's.
// Its percentiles are those of the added latency itself, which the difference of two p99s is not.
inline std::vector<double> paired_differences(const std::vector<double>& minuend,
                                              const std::vector<double>& subtrahend) {
  if (minuend.size() != subtrahend.size()) throw std::logic_error("paired samples of unequal counts");
  std::vector<double> differences(minuend.size());
  for (std::size_t i = 0; i < minuend.size(); ++i) differences[i] = minuend[i] - subtrahend[i];
  return differences;
}

}  // namespace snapbus::bench
