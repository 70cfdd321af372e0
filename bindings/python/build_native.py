"""Builds snapbus._native, the raw cffi module over the C ABI in bus/include/snapbus/snapbus.h.

The declarations are read from snapbus.h itself, so the binding cannot drift from the header.

    build_native.py emit OUT.c     # write the C source only (CMake compiles and links it)

setup.py imports ``make_ffibuilder`` and lets setuptools compile the extension. Either way the
result is one limited-API (abi3) module: cffi defines Py_LIMITED_API in the code it generates.
"""
import argparse
import pathlib

import cffi

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_HEADER = HERE.parent.parent / "bus" / "include" / "snapbus" / "snapbus.h"
MODULE_NAME = "snapbus._native"


def c_declarations(header: pathlib.Path) -> str:
    """The body of snapbus.h between its extern "C" guards, which cffi's cdef parses as is."""
    text = header.read_text()
    try:
        body = text.split('extern "C" {\n#endif', 1)[1]
        return body.rsplit("#ifdef __cplusplus", 1)[0]
    except IndexError:
        raise SystemExit(f"{header}: no extern \"C\" block; has snapbus.h changed shape?")


def make_ffibuilder(header: pathlib.Path = DEFAULT_HEADER, **extension_kwargs) -> cffi.FFI:
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(c_declarations(header))
    ffibuilder.set_source(MODULE_NAME, '#include "snapbus/snapbus.h"', **extension_kwargs)
    return ffibuilder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    emit = sub.add_parser("emit", help="write the generated C source")
    emit.add_argument("output", type=pathlib.Path)
    emit.add_argument("--header", type=pathlib.Path, default=DEFAULT_HEADER)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    make_ffibuilder(args.header).emit_c_code(str(args.output))


if __name__ == "__main__":
    main()
