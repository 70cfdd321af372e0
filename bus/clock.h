// Nanosecond readings of the kernel clocks the segment records.
//
//   std::uint64_t now = snapbus::clock_ns(CLOCK_REALTIME);
//
// Plain u64 nanoseconds because that is what the segment stores (lifecycle.capnp *WallNs/*MonoNs).
#pragma once

#include <time.h>

#include <cstdint>

namespace snapbus {

std::uint64_t clock_ns(clockid_t clock) noexcept;

}  // namespace snapbus
