#include "x87_log2.h"

namespace snapbus::adapter {

double x87_log2(double x) noexcept {
  long double result = 0;
  // FYL2X: ST(1) * log2(ST(0)), popping both; with ST(1) = 1 that is log2(x).
  asm("fyl2x" : "=t"(result) : "0"(static_cast<long double>(x)), "u"(1.0L) : "st(1)");
  return static_cast<double>(result);
}

}  // namespace snapbus::adapter

extern "C" double snapbus_x87_log2(double x) noexcept { return snapbus::adapter::x87_log2(x); }
