#include "clock.h"

namespace snapbus {

std::uint64_t clock_ns(clockid_t clock) noexcept {
  timespec ts{};
  // CLOCK_REALTIME and CLOCK_MONOTONIC cannot fail for a valid timespec.
  clock_gettime(clock, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace snapbus
