// Which sanitizer this translation unit is compiled with, the same way for GCC and clang: GCC
// defines __SANITIZE_ADDRESS__ and __SANITIZE_THREAD__, clang 14 only answers __has_feature. For
// the few places whose behaviour must differ under a sanitizer (its runtime claims SIGBUS, or
// cannot fork a threaded process safely).
//
//   #if SNAPBUS_THREAD_SANITIZER
//   extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
//   #endif
//   if constexpr (snapbus::kAddressSanitizer) GTEST_SKIP() << "...";
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define SNAPBUS_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SNAPBUS_ADDRESS_SANITIZER 1
#endif
#endif
#ifndef SNAPBUS_ADDRESS_SANITIZER
#define SNAPBUS_ADDRESS_SANITIZER 0
#endif

#if defined(__SANITIZE_THREAD__)
#define SNAPBUS_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SNAPBUS_THREAD_SANITIZER 1
#endif
#endif
#ifndef SNAPBUS_THREAD_SANITIZER
#define SNAPBUS_THREAD_SANITIZER 0
#endif

namespace snapbus {

inline constexpr bool kAddressSanitizer = SNAPBUS_ADDRESS_SANITIZER != 0;
inline constexpr bool kThreadSanitizer = SNAPBUS_THREAD_SANITIZER != 0;

}  // namespace snapbus
