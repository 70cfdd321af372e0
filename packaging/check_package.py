r"""Checks what the `layer` preset built: the layer zip and the wheel (ctest: packaging_layer, packaging_wheel).

    check_package.py layer --package-dir build/layer/packaging --snapbus build/default/cli/snapbus \
        --task-root examples/fastapi --bootstrap adapter/bootstrap.sh
    check_package.py wheel --package-dir build/layer/packaging --pyproject bindings/python/pyproject.toml

An arm64 layer (the layer-arm64 preset, cross-compiled) is checked the same way under qemu-user: add
--machine aarch64, --python build/layer-arm64/packaging/check-python/python3 (an arm64 interpreter),
--python-path with the arm64 cffi backend, and --optional. Its adapter then runs under the host's
emulator, and the app's workers in the arm64 interpreter.

The layer: its layout and modes, that its adapter is a static PIE (no shared library at all), that every
other ELF in it needs nothing newer than Amazon Linux 2023 has (glibc 2.34, GCC 11's libgcc_s; no
libstdc++ at all, it is linked in) and no shared library but those, that its adapter was built without
the emulator, and that it runs: unzipped as the function's /opt under `snapbus
emulate --snapstart` (the default build's emulator) with /opt/bootstrap as the exec wrapper, the adapter
from the layer hears the app listen through the layer's listen notice library, brackets the snapshot for
the example FastAPI app's workers, whose hooks come from the layer's Python package, and a request through
the front door is answered by a restored worker.

The wheel: its tag and metadata, that RECORD matches its files, that its native module is the layer's,
and that pip installs it offline and it imports.

Exits 77 (ctest: skipped) when the layer preset has not been built, and prints how to build it; with
SNAPBUS_REQUIRE_LAYER=1 (CI, which builds it first) that is a failure instead, unless --optional. Also 77
when this machine cannot run the layer's architecture or has no interpreter for it.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
import zipfile

SKIPPED = 77
ZERO_CODE_PTH = pathlib.Path(__file__).resolve().parent.parent / "bindings" / "python" / "snapbus-zero-code.pth"
HOST_PYTHON = "/usr/bin/python3"
# What readelf calls each architecture the layer is built for, and the preset that builds it.
ELF_MACHINES = {"x86_64": "Advanced Micro Devices X86-64", "aarch64": "AArch64"}
PRESETS = {"x86_64": "layer", "aarch64": "layer-arm64"}
# Amazon Linux 2023: glibc 2.34, and GCC 11's libgcc_s (always there: AL2023's glibc requires libgcc).
# libstdc++ is linked in, so no GLIBCXX_/CXXABI_ version may appear at all.
MAX_GLIBC = (2, 34)
MAX_GCC = (7, 0, 0)  # every libgcc_s since GCC 7 has these versions; GCC 12 added GCC_12.0.0
ALLOWED_LIBRARIES = {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libpthread.so.0",
                     "libdl.so.2", "librt.so.1", "libgcc_s.so.1"}
EXECUTABLE = 0o755
WAIT_SECONDS = 90
# The adapter resolving localhost: well under a second; under qemu-user a few.
RESOLVE_SECONDS = 20


def fail(message: str) -> None:
    raise SystemExit(f"FAIL: {message}")


class Target:
    """The architecture the package was built for, and how this machine runs its Python code."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.machine: str = args.machine
        self.python: str = str(args.python.absolute())
        self.python_path: str | None = str(args.python_path.absolute()) if args.python_path else None
        self.optional: bool = args.optional
        self.preset = PRESETS[self.machine]
        # What one run of Python may take: the checks' own bound natively, twice that under qemu-user.
        self.timeout = 30 if self.machine == platform.machine() else 60

    def python_env(self, env: dict[str, str]) -> dict[str, str]:
        """`env` with the interpreter's own extra path (its architecture's cffi backend) last on PYTHONPATH."""
        if self.python_path:
            env["PYTHONPATH"] = ":".join(p for p in (env.get("PYTHONPATH"), self.python_path) if p)
        return env

    def run_isolated(self, code: str, first: pathlib.Path, cwd: str | None = None) -> subprocess.CompletedProcess:
        """`code` in isolated mode (-I: no PYTHONPATH, no user site), with `first` first on sys.path and the
        interpreter's own extra path last."""
        extra = [self.python_path] if self.python_path else []
        prologue = "import sys; sys.path.insert(0, sys.argv[1]); sys.path += sys.argv[2:]; "
        return subprocess.run([self.python, "-I", "-c", prologue + code, str(first), *extra],
                              capture_output=True, text=True, timeout=self.timeout, cwd=cwd)

    def skip(self, why: str) -> None:
        print(f"SKIPPED: {why}")
        sys.exit(SKIPPED)

    def require_runnable(self) -> None:
        """Skips unless this machine runs the target's executables (natively, or through binfmt_misc)."""
        how = "./setup.sh --arm64 builds the interpreter, puts Debian's arm64 cffi backend beside it and " \
              "registers qemu-aarch64"
        try:
            run = subprocess.run([self.python, "-c", "import platform; print(platform.machine())"],
                                 capture_output=True, text=True, timeout=self.timeout)
        except OSError as error:
            self.skip(f"cannot run {self.python} ({error}); {how}")
        if run.returncode != 0 or run.stdout.strip() != self.machine:
            fail(f"{self.python} does not run as {self.machine}: {run.stdout}{run.stderr}")
        backend = self.run_isolated("import _cffi_backend", pathlib.Path("."))
        if backend.returncode != 0:
            self.skip(f"{self.python} has no cffi backend (the package's native module needs it); {how}")


def built_package(package_dir: pathlib.Path, pattern: str, target: Target) -> pathlib.Path:
    found = sorted(package_dir.glob(pattern))
    if not found:
        how = f"build it with `cmake --preset {target.preset} && cmake --build --preset {target.preset} -j2`"
        if os.environ.get("SNAPBUS_REQUIRE_LAYER") == "1" and not target.optional:
            fail(f"no {pattern} in {package_dir} (SNAPBUS_REQUIRE_LAYER=1); {how}")
        print(f"SKIPPED: no {pattern} in {package_dir}; {how}")
        sys.exit(SKIPPED)
    if len(found) > 1:
        fail(f"more than one {pattern} in {package_dir}: {[p.name for p in found]}")
    return found[0]


def scratch_directory() -> tempfile.TemporaryDirectory:
    """A fresh directory under the test's SNAPBUS_TEST_TMPDIR (ctest sets it), removed afterwards."""
    root = os.environ.get("SNAPBUS_TEST_TMPDIR")
    if root:
        pathlib.Path(root).mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=root)


# ---- the layer ----------------------------------------------------------------------------------------

def check_layout(layer: zipfile.ZipFile, bootstrap_source: pathlib.Path) -> None:
    modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in layer.infolist()}
    for name in ("bootstrap", "extensions/snapbus"):
        if modes.get(name) != EXECUTABLE:
            fail(f"{name}: mode {oct(modes.get(name, 0))} in the zip, expected 0755")
    for name in ("python/snapbus/__init__.py", "python/snapbus/_native.abi3.so",
                 "python/snapbus/_startup/sitecustomize.py"):
        if name not in modes:
            fail(f"the zip has no {name}")
    if "lib/libsnapbus-listen-notice.so" not in modes:
        fail("the zip has no lib/libsnapbus-listen-notice.so")
    if "python/snapbus-zero-code.pth" not in modes:
        fail("the zip has no python/snapbus-zero-code.pth")
    if "python/sitecustomize.py" not in modes:
        fail("the zip has no python/sitecustomize.py")
    top_level = ("bootstrap", "extensions/snapbus", "lib/libsnapbus-listen-notice.so", "python/snapbus-zero-code.pth",
                 "python/sitecustomize.py")
    strays = [n for n in modes if n not in top_level and not n.startswith("python/snapbus/")]
    if strays or any("__pycache__" in n for n in modes):
        fail(f"unexpected entries in the zip: {strays or [n for n in modes if '__pycache__' in n]}")
    if layer.read("bootstrap") != bootstrap_source.read_bytes():
        fail("the zip's bootstrap differs from adapter/bootstrap.sh")
    print(f"layout: {len(modes)} files; bootstrap and extensions/snapbus 0755")


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True, timeout=60).stdout


def version_needs(path: pathlib.Path) -> dict[str, set[str]]:
    """{library: {symbol versions}} from the ELF's version-needs section."""
    needs: dict[str, set[str]] = {}
    library = None
    for line in readelf("--version-info", str(path)).splitlines():
        if match := re.search(r"File: (\S+)", line):
            library = match.group(1)
            needs.setdefault(library, set())
        elif (match := re.search(r"Name: (\S+)", line)) and library is not None:
            needs[library].add(match.group(1))
    return needs


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("_", 1)[1].split("."))


def check_machine_and_stripped(path: pathlib.Path, name: str, machine: str) -> tuple[str, str]:
    """The machine the ELF is built for, and its file header."""
    header = readelf("--file-header", str(path))
    built_for = re.search(r"Machine:\s+(.+)", header).group(1).strip()
    if built_for != ELF_MACHINES[machine]:
        fail(f"{name} is built for {built_for}, expected {ELF_MACHINES[machine]}")
    if ".symtab" in readelf("--section-headers", str(path)):
        fail(f"{name} is not stripped")
    return built_for, header


def needed_libraries(path: pathlib.Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf("--dynamic", str(path)))


def check_static_pie(path: pathlib.Path, name: str, machine: str) -> None:
    """The adapter: a position-independent executable with no program interpreter and no shared library,
    so it runs on any Linux whatever its glibc, and ASLR still moves it."""
    built_for, header = check_machine_and_stripped(path, name, machine)
    if "Position-Independent Executable" not in header:
        fail(f"{name} is not a position-independent executable")
    if "INTERP" in readelf("--program-headers", str(path)):
        fail(f"{name} names a program interpreter: it is linked dynamically, not as a static PIE")
    if needed := needed_libraries(path):
        fail(f"{name} needs shared libraries {needed}: it should be a static PIE")
    print(f"{name}: {built_for}, {path.stat().st_size} bytes, stripped; "
          "a static PIE (no interpreter, no shared library)")


def check_elf(path: pathlib.Path, name: str, machine: str) -> None:
    built_for, _ = check_machine_and_stripped(path, name, machine)
    needed = set(needed_libraries(path))
    if missing := needed - ALLOWED_LIBRARIES:
        fail(f"{name} needs shared libraries Amazon Linux 2023 may not have: {sorted(missing)}")
    versions = {v for vs in version_needs(path).values() for v in vs}
    if odd := [v for v in versions if not re.fullmatch(r"[A-Z]+_\d+(\.\d+)*", v)]:
        fail(f"{name} needs symbol versions no other glibc promises to keep: {odd}")
    versions = sorted(versions, key=lambda v: (v.split("_")[0], version_key(v)))
    glibc = [v for v in versions if v.startswith("GLIBC_")]
    newest = max(glibc, key=version_key)
    if version_key(newest) > MAX_GLIBC:
        fail(f"{name} needs {newest}, newer than Amazon Linux 2023's glibc 2.34")
    if cxx := [v for v in versions if v.startswith(("GLIBCXX_", "CXXABI_"))]:
        fail(f"{name} needs libstdc++ symbol versions {cxx}: libstdc++ should be linked in")
    if gcc := [v for v in versions if v.startswith("GCC_") and version_key(v) > MAX_GCC]:
        fail(f"{name} needs libgcc_s symbol versions {gcc}, newer than GCC 11's")
    print(f"{name}: {built_for}, {path.stat().st_size} bytes, stripped; needs {sorted(needed)}; newest GLIBC {newest}; "
          f"no GLIBCXX/CXXABI; versions: {' '.join(versions)}")


def check_without_emulator(adapter: pathlib.Path) -> None:
    # The stripped binary has no symbol table, but a polymorphic type keeps its mangled type name.
    if b"N7snapbus8emulator" in adapter.read_bytes():
        fail("extensions/snapbus holds a type of snapbus::emulator")
    run = subprocess.run([str(adapter), "emulate"], capture_output=True, text=True, timeout=30)
    if run.returncode != 2 or "built without the emulator" not in run.stderr:
        fail(f"`extensions/snapbus emulate` exited {run.returncode}: {run.stderr.strip()}")
    print("extensions/snapbus: built without the emulator ('snapbus emulate' says so; no snapbus::emulator type)")


def check_python_import(python_dir: pathlib.Path, target: Target) -> None:
    run = target.run_isolated("import snapbus; print(snapbus.__file__, snapbus.abi_version())", python_dir)
    if run.returncode != 0 or not run.stdout.startswith(str(python_dir)):
        fail(f"importing snapbus from the layer's python/: {run.stdout}{run.stderr}")
    print(f"python/snapbus imports: {run.stdout.strip()}")


def check_zero_code_pth(python_dir: pathlib.Path, target: Target) -> None:
    """What a managed Python runtime's bootstrap.py does with PYTHONPATH unset (site.addsitedir of
    /opt/python) starts zero-code mode through the layer's .pth, and leaves it off without the variable."""
    code = ("import site, sys; site.addsitedir(sys.argv[1]); import snapbus._bridge as bridge; "
            "print(bridge._installed)")
    for zero_code, expected in (("1", "True"), (None, "False")):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SNAPBUS_ZERO_CODE")}
        if zero_code is not None:
            env["SNAPBUS_ZERO_CODE"] = zero_code
        # SNAPBUS_PYTHON_BRIDGE=0: only the zero-code start may install the bridge.
        env["SNAPBUS_PYTHON_BRIDGE"] = "0"
        run = subprocess.run([target.python, "-c", code, str(python_dir)], capture_output=True, text=True,
                             timeout=target.timeout, env=target.python_env(env))
        if run.returncode != 0 or run.stdout.strip() != expected:
            fail(f"python/snapbus-zero-code.pth with SNAPBUS_ZERO_CODE={zero_code}: expected the bridge installed "
                 f"= {expected}, got {run.stdout.strip()!r} {run.stderr.strip()}")
    print("python/snapbus-zero-code.pth: a site directory /opt/python starts zero-code mode only when it is on")


def check_layer_sitecustomize(python_dir: pathlib.Path, target: Target) -> None:
    """A run.sh that replaces PYTHONPATH with /opt/python:... (some of LWA's examples) still gets zero-code
    mode, through python/sitecustomize.py; off, that file imports nothing of snapbus."""
    code = "import sys; print('snapbus._bridge' in sys.modules and sys.modules['snapbus._bridge']._installed)"
    for zero_code, expected in (("1", "True"), ("0", "False")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPBUS_")}
        env |= {"PYTHONPATH": str(python_dir), "SNAPBUS_ZERO_CODE": zero_code, "SNAPBUS_PYTHON_BRIDGE": "0"}
        run = subprocess.run([target.python, "-c", code], capture_output=True, text=True, timeout=target.timeout,
                             env=target.python_env(env))
        if run.returncode != 0 or run.stdout.strip() != expected:
            fail(f"python/sitecustomize.py with PYTHONPATH=/opt/python and SNAPBUS_ZERO_CODE={zero_code}: expected "
                 f"the bridge installed = {expected}, got {run.stdout.strip()!r} {run.stderr.strip()}")
    print("python/sitecustomize.py: PYTHONPATH=/opt/python alone starts zero-code mode only when it is on")


def process_running(executable: pathlib.Path) -> bool:
    """A process runs `executable`: natively, or under qemu-user through binfmt_misc (whose /proc exe
    is qemu, with the executable's path among its arguments)."""
    for process in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            if pathlib.Path(os.readlink(process / "exe")) == executable:
                return True
            if str(executable).encode() in (process / "cmdline").read_bytes().split(b"\0"):
                return True
        except OSError:
            continue
    return False


def check_adapter_runs(opt: pathlib.Path, snapbus: pathlib.Path, task_root: pathlib.Path, work: pathlib.Path,
                       target: Target) -> None:
    """The layer unzipped as /opt: its adapter runs the SnapStart bracket around two uvicorn workers."""
    workers = 2
    ready = work / "ready.json"
    env = dict(os.environ, SNAPBUS_SEGMENT=str(work / "snapbus.seg"))
    app_port = free_port()
    command = [str(snapbus), "emulate", "--snapstart", "--port", "0", "--runtime-api-port", "0",
               "--ready-file", str(ready), "--opt", str(opt), "--exec-wrapper", str(opt / "bootstrap"),
               "--handler", "run.sh", "--task-root", str(task_root),
               "--function-name", "snapbus-layer-check", "--env", f"AWS_LWA_PORT={app_port}",
               "--env", "AWS_LWA_READINESS_CHECK_PATH=/", "--env", f"WORKERS={workers}",
               "--env", f"SNAPBUS_EXPECT_SUBSCRIBERS={workers}", "--env", f"PYTHON={target.python}"]
    if target.python_path:
        command += ["--env", f"PYTHONPATH={target.python_path}"]
    log = (work / "emulator.log").open("w+")
    emulator = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not (ready.exists() and ready.stat().st_size) and time.monotonic() < deadline:
            if emulator.poll() is not None:
                break
            time.sleep(0.1)
        if not (ready.exists() and ready.stat().st_size):
            fail(f"the emulator did not come up within {WAIT_SECONDS} s")
        if not process_running(opt / "extensions" / "snapbus"):
            fail("no process runs the layer's extensions/snapbus")
        front_door = json.loads(ready.read_text())["frontDoor"]
        with urllib.request.urlopen(f"http://{front_door}/", timeout=60) as response:
            answer = json.load(response)
        # The worker's pool was reopened by its after-restore hook, run by the layer's Python package
        # when the layer's adapter published the restore.
        if answer.get("generation") != 1 or answer["pool"]["opened_at_generation"] != 1:
            fail(f"the request was answered by a worker that missed its after-restore hooks: {answer}")
        print(f"adapter from the layer: restore bracketed, request answered by worker pid {answer['pid']} "
              f"(generation {answer['generation']}, pool reopened at generation 1)")
        # bootstrap preloaded the layer's listen notice library into uvicorn, and the adapter heard it listen.
        log.flush()
        announced = re.search(rf"app ready on port {app_port} after .* \(pid \d+ announced its listen\(\) on port "
                              rf"{app_port}\)", (work / "emulator.log").read_text(errors="replace"))
        if not announced:
            fail("the adapter did not hear the app's listen() (lib/libsnapbus-listen-notice.so, preloaded by bootstrap)")
        print(f"listen notice: {announced.group(0)}")
    except BaseException:
        log.seek(0)
        print(log.read(), file=sys.stderr)
        raise
    finally:
        if emulator.poll() is None:
            emulator.send_signal(signal.SIGTERM)
            try:
                emulator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                emulator.kill()
                emulator.wait(timeout=30)
        log.close()


def with_own_nsswitch(command: list[str], nsswitch: pathlib.Path) -> list[str] | None:
    """`command` run with `nsswitch` over /etc/nsswitch.conf, in a mount namespace of its own whose mounts
    nothing outside sees, or None where this machine does not allow that (unshare and mount need root, and
    a file to mount over): tried first with `true` as the command."""
    def wrapped(inner: list[str]) -> list[str]:
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/nsswitch.conf && exec "$@"', str(nsswitch), *inner]

    if shutil.which("unshare") is None or not pathlib.Path("/etc/nsswitch.conf").is_file():
        return None
    if subprocess.run(wrapped(["true"]), capture_output=True, timeout=30).returncode != 0:
        return None
    return wrapped(command)


def check_adapter_resolves_names(adapter: pathlib.Path, work: pathlib.Path) -> None:
    """The static adapter's own getaddrinfo: `localhost` as the app's host (AWS_LWA_HOST) and as the
    Runtime API's. The app answers its readiness check; no Runtime API listens, so the adapter then stops
    on a refused connection to localhost, which it could only try once resolved. Where a mount namespace
    can be had, /etc/nsswitch.conf names for hosts only a module no glibc has: a static glibc would try to
    load it and find no address, so this passes only if the adapter keeps to the modules built into it
    (files and dns, net/resolve_endpoints.cpp)."""
    class Healthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    nsswitch = work / "nsswitch.conf"
    nsswitch.write_text("hosts: snapbus-no-such-module\n")
    plain = [str(adapter), "adapter"]
    command = with_own_nsswitch(plain, nsswitch)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthy) as app:
        threading.Thread(target=app.serve_forever, daemon=True).start()
        app_port, api_port = app.server_address[1], free_port()
        env = dict(os.environ, AWS_LWA_HOST="localhost", AWS_LWA_PORT=str(app_port), AWS_LWA_READINESS_CHECK_PATH="/",
                   AWS_LAMBDA_RUNTIME_API=f"localhost:{api_port}", SNAPBUS_SEGMENT=str(work / "resolve.seg"))
        try:
            run = subprocess.run(command or plain, env=env, capture_output=True, text=True, timeout=RESOLVE_SECONDS)
            outcome, log = f"exit {run.returncode}", run.stderr
        except subprocess.TimeoutExpired as timeout:
            # An app it cannot resolve is never ready, and the adapter waits for readiness without end.
            outcome, log = f"still running after {RESOLVE_SECONDS} s", timeout.stderr or ""
            log = log.decode(errors="replace") if isinstance(log, bytes) else log
        app.shutdown()
    if f"app ready on port {app_port}" not in log or f"connect to localhost:{api_port}" not in log:
        fail(f"the layer's adapter did not resolve localhost ({outcome}):\n{log.strip()}")
    how = ("with /etc/nsswitch.conf naming only a module it cannot load (a mount namespace of its own)" if command
           else "with the system's /etc/nsswitch.conf (no mount namespace to replace it in: that needs root)")
    print(f"extensions/snapbus: resolved localhost for the app (ready on port {app_port}) and for the Runtime API, "
          f"{how}")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for the app (the emulator's own ports are chosen by the kernel)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_layer(args: argparse.Namespace) -> None:
    target = Target(args)
    zip_path = built_package(args.package_dir, "snapbus-layer-*.zip", target)
    target.require_runnable()
    print(f"layer zip: {zip_path} ({zip_path.stat().st_size} bytes)")
    with zipfile.ZipFile(zip_path) as layer:
        check_layout(layer, args.bootstrap)
        # A zip older than the build it sits in (a build of only the adapter target) must not pass.
        built_adapter = args.package_dir.parent / "cli" / "snapbus"
        if built_adapter.is_file() and layer.read("extensions/snapbus") != built_adapter.read_bytes():
            fail(f"the zip's extensions/snapbus is not {built_adapter}: the zip is stale "
                 "(cmake --build --preset layer writes it again)")
        if layer.read("python/snapbus-zero-code.pth") != ZERO_CODE_PTH.read_bytes():
            fail(f"the zip's python/snapbus-zero-code.pth differs from {ZERO_CODE_PTH}")
        if layer.read("python/sitecustomize.py") != layer.read("python/snapbus/_startup/sitecustomize.py"):
            fail("the zip's python/sitecustomize.py differs from python/snapbus/_startup/sitecustomize.py")
    with scratch_directory() as temp:
        work = pathlib.Path(temp)
        opt = work / "opt"
        # unzip, as Lambda unpacks a layer: it restores the modes from the zip, so they are checked again.
        subprocess.run(["unzip", "-q", str(zip_path), "-d", str(opt)], check=True, timeout=60)
        for name in ("bootstrap", "extensions/snapbus"):
            path = opt / name
            if path.is_symlink() or not path.is_file() or not os.access(path, os.X_OK):
                fail(f"{name} is not an executable regular file after unzip")
        adapter = opt / "extensions" / "snapbus"
        check_static_pie(adapter, "extensions/snapbus", target.machine)
        for path in sorted(p for p in opt.rglob("*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"):
            if path != adapter:
                check_elf(path, path.relative_to(opt).as_posix(), target.machine)
        check_without_emulator(adapter)
        check_adapter_resolves_names(adapter, work)
        check_python_import(opt / "python", target)
        check_zero_code_pth(opt / "python", target)
        check_layer_sitecustomize(opt / "python", target)
        check_adapter_runs(opt, args.snapbus, args.task_root, work, target)
    print("layer: ok")


# ---- the wheel ----------------------------------------------------------------------------------------

def check_wheel(args: argparse.Namespace) -> None:
    target = Target(args)
    wheel = built_package(args.package_dir, "snapbus-*.whl", target)
    target.require_runnable()
    project = tomllib.loads(args.pyproject.read_text())["project"]
    oldest = re.fullmatch(r">=\s*3\.(\d+)", project["requires-python"]).group(1)
    expected_tag = f"cp3{oldest}-abi3-manylinux_2_34_{target.machine}"
    expected_name = f"{project['name']}-{project['version']}-{expected_tag}.whl"
    if wheel.name != expected_name:
        fail(f"the wheel is {wheel.name}, expected {expected_name}")
    dist_info = f"{project['name']}-{project['version']}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        wheel_file = archive.read(f"{dist_info}/WHEEL").decode()
        requires = re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE)
        if not any(re.match(r"cffi\b", r) for r in requires):
            fail(f"METADATA does not declare cffi: Requires-Dist {requires}")
        if f"Tag: {expected_tag}\n" not in wheel_file or "Root-Is-Purelib: false" not in wheel_file:
            fail(f"WHEEL does not match the file name:\n{wheel_file}")
        for line in archive.read(f"{dist_info}/RECORD").decode().splitlines():
            entry, digest, size = line.rsplit(",", 2)
            if entry.endswith("/RECORD"):
                continue
            data = archive.read(entry)
            actual = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if digest != actual or int(size) != len(data):
                fail(f"RECORD is wrong for {entry}")
        native = archive.read("snapbus/_native.abi3.so")
    layer = built_package(args.package_dir, "snapbus-layer-*.zip", target)
    with zipfile.ZipFile(layer) as archive:
        if archive.read("python/snapbus/_native.abi3.so") != native:
            fail("the wheel's native module is not the layer's")
    print(f"wheel: {wheel.name} ({wheel.stat().st_size} bytes); Requires-Dist: {', '.join(requires)}; "
          f"Requires-Python: {project['requires-python']}; native module identical to the layer's")

    with scratch_directory() as temp:
        site = pathlib.Path(temp) / "site"
        # The host's pip installs for the target's platform (a foreign one only with --platform).
        foreign = [] if target.machine == platform.machine() else [
            "--platform", f"manylinux_2_34_{target.machine}", "--only-binary", ":all:"]
        install = subprocess.run([HOST_PYTHON, "-m", "pip", "install", "--no-index", "--no-deps",
                                  "--disable-pip-version-check", *foreign, "--target", str(site), str(wheel)],
                                 capture_output=True, text=True, timeout=120)
        if install.returncode != 0:
            fail(f"pip install of the wheel failed:\n{install.stdout}{install.stderr}")
        run = target.run_isolated("import snapbus; print(snapbus.__file__, snapbus.abi_version(), snapbus.generation())",
                                  site, cwd=temp)
        if run.returncode != 0:
            fail(f"importing the installed wheel failed: {run.stderr}")
        path, abi, generation = run.stdout.split()
        if not path.startswith(str(site)) or abi != "1" or generation != "0":
            fail(f"the installed wheel imports as {run.stdout.strip()}")
        print(f"pip install --no-index --target: ok; imports from {path} (ABI {abi})")
    print("wheel: ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    layer = sub.add_parser("layer")
    layer.add_argument("--package-dir", type=pathlib.Path, required=True)
    layer.add_argument("--snapbus", type=pathlib.Path, required=True, help="a snapbus built with the emulator")
    layer.add_argument("--task-root", type=pathlib.Path, required=True, help="examples/fastapi")
    layer.add_argument("--bootstrap", type=pathlib.Path, required=True, help="adapter/bootstrap.sh")
    wheel = sub.add_parser("wheel")
    wheel.add_argument("--package-dir", type=pathlib.Path, required=True)
    wheel.add_argument("--pyproject", type=pathlib.Path, required=True)
    for command in (layer, wheel):
        command.add_argument("--machine", choices=sorted(ELF_MACHINES), default=platform.machine(),
                             help="the architecture the package is built for (default: this machine's)")
        command.add_argument("--python", type=pathlib.Path, default=pathlib.Path(HOST_PYTHON),
                             help="the interpreter, of that architecture, that runs the package's Python code")
        command.add_argument("--python-path", type=pathlib.Path,
                             help="a directory that interpreter needs on PYTHONPATH (its cffi backend)")
        command.add_argument("--optional", action="store_true",
                             help="skip when the package is not built, even with SNAPBUS_REQUIRE_LAYER=1")
    args = parser.parse_args()
    if shutil.which("readelf") is None or shutil.which("unzip") is None:
        fail("readelf (binutils) and unzip are needed")
    (check_layer if args.command == "layer" else check_wheel)(args)


if __name__ == "__main__":
    main()
