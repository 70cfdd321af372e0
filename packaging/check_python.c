/* The Python interpreter the checks run an arm64 layer's Python package with, under qemu-user
 * (check_package.py --python): CPython's own main, linked with Debian's arm64 libpython3.11 (from
 * libpython3.11-dev:arm64, which the native module is built against). Debian cannot install the arm64
 * interpreter beside the host's, but its standard library is shared and lib-dynload holds each
 * architecture's modules, so this finds everything under /usr as the host's python3 does. Built by
 * the layer-arm64 preset only; never shipped. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

int main(int argc, char** argv) { return Py_BytesMain(argc, argv); }
