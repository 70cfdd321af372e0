"""Builds the snapbus package offline: `pip install --no-build-isolation bindings/python`.

The C ABI comes from the bus sources beside this directory (../../bus, with ../../base), compiled with the
system g++ into position-independent objects and linked into one limited-API module
(snapbus/_native.abi3.so), so no CMake build is needed. Needs: g++ (C++20), capnp (generates
lifecycle.capnp.h), Boost >= 1.81 headers, Python headers, cffi.

Build settings from the environment: CXX (default g++), SNAPBUS_BUILD_JOBS (parallel compiles,
default 2).
"""
import os
import pathlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = pathlib.Path(__file__).resolve().parent
BUS = HERE.parent.parent / "bus"
BASE = HERE.parent.parent / "base"
sys.path.insert(0, str(HERE))
from build_native import make_ffibuilder  # noqa: E402 - lives beside this file

CXX = os.environ.get("CXX", "g++")
CXXFLAGS = ["-std=c++20", "-O2", "-fPIC", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-DNDEBUG"]


def library_sources(directory: pathlib.Path, target: str) -> list[pathlib.Path]:
    """The sources of one library of the checkout, as its CMakeLists.txt lists them."""
    cmake_lists = directory / "CMakeLists.txt"
    if not cmake_lists.exists():
        raise SystemExit(f"{directory}: sources not found; build from a snapbus checkout")
    match = re.search(rf"add_library\({target} STATIC([^)]*)\)", cmake_lists.read_text())
    if match is None:
        raise SystemExit(f"{cmake_lists}: no add_library({target} STATIC ...) to take the sources from")
    return [directory / name for name in match.group(1).split()]


def bus_sources() -> list[pathlib.Path]:
    """The bus and the small library it uses (base/)."""
    return library_sources(BASE, "snapbus_base") + library_sources(BUS, "snapbus_bus")


class BuildWithBus(build_ext):
    """Compiles the bus into objects first, then links them into the cffi module."""

    def run(self):
        objects = self._compile_bus(pathlib.Path(self.build_temp) / "bus")
        for extension in self.extensions:
            extension.extra_objects = [str(o) for o in objects]
        super().run()

    def _compile_bus(self, out_dir: pathlib.Path) -> list[pathlib.Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        generated = out_dir / "generated"
        generated.mkdir(exist_ok=True)
        subprocess.run(["capnp", "compile", f"-oc++:{generated}", f"--src-prefix={BUS}", str(BUS / "lifecycle.capnp")],
                       check=True)
        includes = [f"-I{BUS / 'include'}", f"-I{BASE / 'include'}", f"-I{BUS}", f"-I{generated}"]

        def compile_one(source: pathlib.Path) -> pathlib.Path:
            target = out_dir / f"{source.parent.name}_{source.stem}.o"
            command = [CXX, *CXXFLAGS, *includes, "-c", str(source), "-o", str(target)]
            print(" ".join(command))
            subprocess.run(command, check=True)
            return target

        with ThreadPoolExecutor(max_workers=int(os.environ.get("SNAPBUS_BUILD_JOBS", "2"))) as pool:
            return list(pool.map(compile_one, bus_sources()))


ffibuilder = make_ffibuilder(include_dirs=[str(BUS / "include")], libraries=["stdc++"], py_limited_api=True)

setup(
    ext_modules=[ffibuilder.distutils_extension(str(HERE / "build" / "cffi"))],
    cmdclass={"build_ext": BuildWithBus},
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
