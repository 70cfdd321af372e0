# Cross-compiling for 64-bit Arm Linux (Lambda's arm64, Graviton) on an x86-64 Debian machine, with
# Debian's cross compiler and its arm64 multiarch libraries (the `layer-arm64` preset):
#
#   sudo dpkg --add-architecture arm64 && sudo apt-get update
#   sudo apt-get install g++-aarch64-linux-gnu libboost-json1.81-dev:arm64 libcapnp-dev:arm64 ...
#   cmake --preset layer-arm64 && cmake --build --preset layer-arm64 -j2
#
# (`./setup.sh --arm64` does both.) The arm64 libraries live beside the host's, in
# /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu, so there is no sysroot: the search
# for libraries and packages is kept to that architecture's directories, while programs that run
# during the build (capnp, Python for cffi) are the host's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# pkg-config (brotli) must read the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

# What the build runs (the capnp compiler, Python) comes from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
