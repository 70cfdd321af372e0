"""Writes the two archives snapbus ships, from what the `layer` preset built (packaging/CMakeLists.txt).

    make_package.py layer --output L.zip --adapter snapbus --bootstrap bootstrap.sh \
        --listen-notice libsnapbus-listen-notice.so --python-package DIR --zero-code-pth F
    make_package.py wheel --output-dir D --pyproject pyproject.toml --python-package DIR --platform P

The layer zip is what Lambda unpacks into /opt: extensions/snapbus (the adapter, which Lambda starts
because it is an executable under extensions/), bootstrap (the exec wrapper),
lib/libsnapbus-listen-notice.so (which bootstrap preloads into the app's processes, so the adapter
hears the app's listen()), python/snapbus (the package, where Lambda's Python looks: /opt/python
is on its sys.path), python/snapbus-zero-code.pth (zero-code mode under a managed Python runtime,
whose bootstrap.py adds /opt/python as a site directory) and python/sitecustomize.py (zero-code mode
behind a run.sh that sets PYTHONPATH=/opt/python:..., dropping the startup directory bootstrap put
first: a copy of snapbus/_startup/sitecustomize.py).

The wheel holds the same package and native module, tagged for the stable ABI (abi3) of the oldest
Python the package declares and for glibc 2.34 (manylinux_2_34), with cffi as its one dependency. It is
written here rather than by setuptools because setup.py compiles its own native module, and the wheel
must carry the portable one the layer carries.

Both archives keep each file's permission bits (a zip stores them in external_attr; Lambda and pip
restore them), list entries in sorted order, and date every entry 1980-01-01, so the same inputs give
the same bytes.
"""
import argparse
import base64
import hashlib
import pathlib
import re
import stat
import sys
import tomllib
import zipfile

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
EXECUTABLE = 0o755
REGULAR = 0o644


def package_files(package_dir: pathlib.Path) -> list[pathlib.Path]:
    """The package's files, without the bytecode an import may have left beside them."""
    files = sorted(p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    if not any(p.name == "_native.abi3.so" for p in files):
        raise SystemExit(f"{package_dir}: no _native.abi3.so; build the snapbus_python target first")
    return files


def mode_of(path: pathlib.Path) -> int:
    return EXECUTABLE if path.stat().st_mode & stat.S_IXUSR else REGULAR


def add_entry(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.create_system = 3  # Unix, so unzip and Lambda read the mode from external_attr
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data, compresslevel=9)


def write_layer(args: argparse.Namespace) -> None:
    entries = [("bootstrap", args.bootstrap, EXECUTABLE), ("extensions/snapbus", args.adapter, EXECUTABLE),
               ("lib/libsnapbus-listen-notice.so", args.listen_notice, REGULAR)]
    for path in package_files(args.python_package):
        relative = path.relative_to(args.python_package).as_posix()
        entries.append((f"python/snapbus/{relative}", path, mode_of(path)))
    entries.append(("python/snapbus-zero-code.pth", args.zero_code_pth, REGULAR))
    entries.append(("python/sitecustomize.py", args.python_package / "_startup" / "sitecustomize.py", REGULAR))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.output, "w") as archive:
        for name, path, mode in sorted(entries):
            # resolve(): the build tree may hold symlinks; the zip holds the files they point to.
            add_entry(archive, name, path.resolve().read_bytes(), mode)
    print(f"layer: {args.output} ({args.output.stat().st_size} bytes, {len(entries)} files)")


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def wheel_metadata(project: dict, readme: pathlib.Path) -> str:
    """METADATA (core metadata 2.1) from pyproject.toml's [project] table."""
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}",
             f"Summary: {project['description']}", f"Requires-Python: {project['requires-python']}"]
    lines += [f"Requires-Dist: {dependency}" for dependency in project.get("dependencies", [])]
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme.read_text()


def oldest_python_tag(requires_python: str) -> str:
    """cp311 from ">=3.11": the abi3 module runs on that Python and every later one."""
    match = re.fullmatch(r">=\s*3\.(\d+)", requires_python.strip())
    if match is None:
        raise SystemExit(f"requires-python '{requires_python}': expected the form '>=3.N'")
    return f"cp3{match.group(1)}"


def write_wheel(args: argparse.Namespace) -> None:
    project = tomllib.loads(args.pyproject.read_text())["project"]
    name, version = project["name"], project["version"]
    tag = f"{oldest_python_tag(project['requires-python'])}-abi3-{args.platform}"
    dist_info = f"{name}-{version}.dist-info"
    files = {}
    for path in package_files(args.python_package):
        files[f"{name}/{path.relative_to(args.python_package).as_posix()}"] = (path.resolve().read_bytes(),
                                                                                mode_of(path))
    files[f"{dist_info}/METADATA"] = (wheel_metadata(project, args.pyproject.parent / project["readme"]).encode(),
                                      REGULAR)
    files[f"{dist_info}/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: snapbus packaging/make_package.py\n"
                                   f"Root-Is-Purelib: false\nTag: {tag}\n").encode(), REGULAR
    files[f"{dist_info}/top_level.txt"] = f"{name}\n".encode(), REGULAR
    record = "".join(f"{entry},{record_hash(data)},{len(data)}\n" for entry, (data, _) in sorted(files.items()))
    record += f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode(), REGULAR

    output = args.output_dir / f"{name}-{version}-{tag}.whl"
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for stale in args.output_dir.glob(f"{name}-*.whl"):
        stale.unlink()
    with zipfile.ZipFile(output, "w") as archive:
        # RECORD last, as the wheel format recommends; everything else in sorted order.
        for entry in sorted(files, key=lambda e: (e.endswith("/RECORD"), e)):
            data, mode = files[entry]
            add_entry(archive, entry, data, mode)
    print(f"wheel: {output} ({output.stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    layer = sub.add_parser("layer", help="write the Lambda layer zip")
    layer.add_argument("--output", type=pathlib.Path, required=True)
    layer.add_argument("--adapter", type=pathlib.Path, required=True, help="the snapbus executable")
    layer.add_argument("--bootstrap", type=pathlib.Path, required=True, help="adapter/bootstrap.sh")
    layer.add_argument("--listen-notice", type=pathlib.Path, required=True,
                       help="the listen notice library, libsnapbus-listen-notice.so")
    layer.add_argument("--python-package", type=pathlib.Path, required=True, help="the built snapbus/ package")
    layer.add_argument("--zero-code-pth", type=pathlib.Path, required=True,
                       help="bindings/python/snapbus-zero-code.pth")
    wheel = sub.add_parser("wheel", help="write the wheel")
    wheel.add_argument("--output-dir", type=pathlib.Path, required=True)
    wheel.add_argument("--pyproject", type=pathlib.Path, required=True, help="bindings/python/pyproject.toml")
    wheel.add_argument("--python-package", type=pathlib.Path, required=True, help="the built snapbus/ package")
    wheel.add_argument("--platform", required=True, help="the platform tag, e.g. manylinux_2_34_x86_64")
    args = parser.parse_args()
    (write_layer if args.command == "layer" else write_wheel)(args)


if __name__ == "__main__":
    sys.exit(main())
