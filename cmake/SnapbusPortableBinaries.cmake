# Binaries for Amazon Linux 2023, where the layer runs (SNAPBUS_PORTABLE_BINARIES, the `layer` preset):
# the only shared libraries they may need are glibc's (AL2023 has glibc 2.34), so everything else is
# linked in: libstdc++ and libgcc (AL2023's are GCC 11's, older than the GCC 12 that builds here),
# Boost.JSON, Cap'n Proto/kj, zlib and brotli from their static archives, fmt header-only (Debian ships
# no libfmt.a). Included from the top-level CMakeLists.txt before its find_package calls.
#
#   cmake --preset layer      # SNAPBUS_PORTABLE_BINARIES=ON; packaging/ then builds the layer zip
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

# libstdc++ and libgcc in every executable and module; strip at link time (the layer ships no debug
# information); --as-needed drops a shared library nothing references (capnp's -latomic on x86-64).
add_link_options(-static-libstdc++ -static-libgcc -s -Wl,--as-needed)
