# Binaries for Amazon Linux 2023, where the layer runs (SNAPBUS_PORTABLE_BINARIES, the `layer` preset):
# nothing newer than its glibc 2.34, and no shared library it may lack. libstdc++ (AL2023's is GCC 11's,
# older than the GCC 12 that builds here), Boost.JSON, Cap'n Proto/kj, zlib and brotli are linked in
# from their static archives, fmt header-only (Debian ships no libfmt.a). Included from the top-level
# CMakeLists.txt before its find_package calls.
#
#   cmake --preset layer      # SNAPBUS_PORTABLE_BINARIES=ON; packaging/ then builds the layer zip
#
# The layer's executable (the adapter, cli/CMakeLists.txt) goes further: a static PIE, glibc and the
# unwinder linked in too, so it needs no shared library and no particular glibc at all. The shared
# objects (the Python module, the listen notice library) are loaded into a process that already has
# glibc, so they link it and libgcc_s (only old GCC_ symbol versions; AL2023's glibc package requires
# libgcc) dynamically.
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

# libstdc++ in every module (the executable is linked static whole, cli/CMakeLists.txt: there
# -static-libstdc++ would put -Bdynamic back before libc); strip at link time (the layer ships no debug
# information); --as-needed drops a shared library nothing references (capnp's -latomic on x86-64).
# --gc-sections drops the parts of libstdc++.a nothing calls, among them std::random_device's use of
# arc4random (glibc 2.36), which the COW-string compatibility code would otherwise pull in into a
# module; our own sections go too.
add_compile_options(-ffunction-sections -fdata-sections)
# x86-64-v2 (SSE4.2, POPCNT: every x86-64 CPU since 2009; an older one would stop on SIGILL, and
# Lambda's x86-64 hosts are far newer). With SSE4.1, and with
# -fno-trapping-math (nothing here unmasks floating-point traps), GCC makes ceil one instruction even
# at -Os, so std::unordered_map's rehash policy no longer calls libm, and the Python module needs no
# libm (only libc, ld.so and libgcc_s).
if(CMAKE_SYSTEM_PROCESSOR STREQUAL "x86_64")
  add_compile_options(-march=x86-64-v2 -fno-trapping-math)
endif()
add_link_options(-s -Wl,--as-needed -Wl,--gc-sections
  $<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,MODULE_LIBRARY>:-static-libstdc++>)
