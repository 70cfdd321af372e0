// The order in which a benchmark visits its paths in each round: shuffled anew every round, from a
// fixed seed (the same sequence every run).
//
//   snapbus::bench::RoundOrder order(paths.size());
//   for (auto _ : state) {
//     for (const std::size_t i : order.next()) samples[i].push_back(measure(i));
//   }
//
// A rotating order (round + k) % n keeps each path's predecessor nearly fixed, and whatever one path
// leaves behind (an emulator writing its REPORT after the answer) then always lands on the same
// other path. Shuffled, every path follows each of the others equally often.
#pragma once

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <random>
#include <vector>

namespace snapbus::bench {

class RoundOrder {
 public:
  explicit RoundOrder(std::size_t paths) : order_(paths) { std::iota(order_.begin(), order_.end(), std::size_t{0}); }

  const std::vector<std::size_t>& next() {
    std::shuffle(order_.begin(), order_.end(), random_);
    return order_;
  }

 private:
  std::vector<std::size_t> order_;
  std::mt19937 random_{20261205};
};

}  // namespace snapbus::bench
