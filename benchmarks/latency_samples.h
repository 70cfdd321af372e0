// Percentiles of latency samples, for benchmarks that report p50/p99 as counters.
//
//   std::vector<double> ns = ...;
//   state.counters["rtt_p50_ns"] = percentile(ns, 0.50);
//   // Two paths sampled once each per round, in the same rounds: what one adds to the other.
//   state.counters["added_p50_ns"] = percentile(paired_differences(adapter, trivial), 0.50);
//   // How much the path's own tail exceeds its baseline's, and how much pairing alone adds to a p99.
//   state.counters["growth_p99_ns"] = percentile(adapter, 0.99) - percentile(trivial, 0.99);
//   state.counters["pairing_noise_p99_ns"] = percentile(lagged_differences(trivial, 1), 0.99);
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

// minuend[i] - subtrahend[i]: samples taken in the same rounds, so each difference is one round's,
// and a slow spell of the machine that spans the round falls on both and cancels. What each path's
// processes do by themselves does not cancel: the differences' p50 is what one path adds in a
// typical round, but their p99 also holds the two paths' own spread (lagged_differences measures it).
inline std::vector<double> paired_differences(const std::vector<double>& minuend,
                                              const std::vector<double>& subtrahend) {
  if (minuend.size() != subtrahend.size()) throw std::logic_error("paired samples of unequal counts");
  std::vector<double> differences(minuend.size());
  for (std::size_t i = 0; i < minuend.size(); ++i) differences[i] = minuend[i] - subtrahend[i];
  return differences;
}

// samples[i] - samples[i + lag]: one path against itself `lag` samples later (a round later, for a
// path sampled `lag` times a round). The paths added nothing to each other, so the p99 of these is
// what pairing alone puts into a paired p99 when this path is the baseline: its own spread.
inline std::vector<double> lagged_differences(const std::vector<double>& samples, std::size_t lag) {
  if (lag == 0) throw std::logic_error("a lag of no samples");
  std::vector<double> differences;
  for (std::size_t i = 0; i + lag < samples.size(); ++i) differences.push_back(samples[i] - samples[i + lag]);
  return differences;
}

}  // namespace snapbus::bench
