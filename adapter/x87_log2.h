// log2 without libm, for the layer's binary: brotli's encoder calls log2 (its cost estimates) and
// nothing else the adapter runs needs libm, so with this one the dynamic loader never maps libm.
//
//   double bits = snapbus::adapter::x87_log2(1024.0);  // 10.0
//
// The portable link (cmake/SnapbusPortableBinaries.cmake) points brotli's log2 here with
// --defsym; libm then drops out of the binary's NEEDED list (--as-needed), and the serving
// adapter's resident memory loses libm's pages, about 0.3 MB of the 4 MB the issue allows.
// x87's FYL2X computes y * log2(x) in extended precision; rounding that to double can differ from
// glibc's correctly rounded result in the last bit, which an encoder's cost estimate does not feel.
#pragma once

namespace snapbus::adapter {

double x87_log2(double x) noexcept;

}  // namespace snapbus::adapter

// The symbol the link points log2 at (C linkage: a name the linker can be given).
extern "C" double snapbus_x87_log2(double x) noexcept;
