# Binaries for Amazon Linux 2023, where the layer runs (SNAPBUS_PORTABLE_BINARIES, the `layer` preset):
# nothing newer than its glibc 2.34, and no shared library it may lack. libstdc++ (AL2023's is GCC 11's,
# older than the GCC 12 that builds here), Boost.JSON, Cap'n Proto/kj, zlib and brotli are linked in
# from their static archives, fmt header-only (Debian ships no libfmt.a). Included from the top-level
# CMakeLists.txt before its find_package calls.
#
#   cmake --preset layer      # SNAPBUS_PORTABLE_BINARIES=ON; packaging/ then builds the layer zip
#
# libgcc stays shared (libgcc_s.so.1, needing only old GCC_ symbol versions): Debian's static unwinder
# (libgcc_eh.a) calls _dl_find_object, which is glibc 2.35. AL2023 always has libgcc_s: its glibc
# package requires libgcc, which glibc loads itself for pthread_cancel.
#
# The dev presets keep the shared libraries: faster links, and the sanitizers need them.

# Every find_library from here on takes the static archive: Cap'n Proto and kj (CapnProtoConfig.cmake's
# own search), zlib (FindZLIB) and brotli (the adapter's pkg-config targets, which with --static also
# name brotlicommon, brotlienc's own need). Boost's config picks its static variant by its own variable.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(PKG_CONFIG_ARGN --static CACHE STRING "Extra pkg-config arguments: the static link lines")
set(Boost_USE_STATIC_LIBS ON)

# fmt compiled into each binary that uses it. The target keeps fmt's own name so no consumer changes.
add_library(fmt::fmt INTERFACE IMPORTED)
set_target_properties(fmt::fmt PROPERTIES INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)

# libstdc++ in every executable and module; strip at link time (the layer ships no debug information);
# --as-needed drops a shared library nothing references (capnp's -latomic on x86-64). --gc-sections
# drops the parts of libstdc++.a nothing calls, among them std::random_device's use of arc4random (glibc
# 2.36), which the COW-string compatibility code would otherwise pull in; our own sections go too.
add_compile_options(-ffunction-sections -fdata-sections)
# x86-64-v2 (SSE4.2, POPCNT: every x86-64 CPU since 2009; an older one would stop on SIGILL, and
# Lambda's x86-64 hosts are far newer). With SSE4.1, and with
# -fno-trapping-math (nothing here unmasks floating-point traps), GCC makes ceil one instruction even
# at -Os, so std::unordered_map's rehash policy no longer calls libm (cli/CMakeLists.txt has its
# other caller).
if(CMAKE_SYSTEM_PROCESSOR STREQUAL "x86_64")
  add_compile_options(-march=x86-64-v2 -fno-trapping-math)
endif()
add_link_options(-static-libstdc++ -s -Wl,--as-needed -Wl,--gc-sections)
