"""Shared fixtures: a segment per test, the real `snapbus publish`, and real processes that are
always stopped. Every wait is bounded.

Environment (ctest sets both): PYTHONPATH holds the built snapbus package; SNAPBUS_CLI is the
built `snapbus` executable, the publisher.
"""
import json
import os
import pathlib
import random
import select
import signal
import socket
import subprocess
import time

import pytest

# The adapter's end-to-end fixtures (opt_dir, function, task_root) for test_adapter_web_*.py.
pytest_plugins = ["adapter_web_harness"]

HERE = pathlib.Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
FAKE_RUNTIME = HERE / "fake_runtime"
PYTHON = "/usr/bin/python3"
PROCESS_TIMEOUT = 30


def pytest_configure(config):
    # Under ctest, keep every test's files (segments, logs) in the build tree's test-tmp.
    base = os.environ.get("SNAPBUS_TEST_TMPDIR")
    if base and not config.option.basetemp:
        os.makedirs(os.path.dirname(base), exist_ok=True)  # pytest makes (and empties) base itself
        config.option.basetemp = base


def example_subscriber(cli: pathlib.Path) -> str:
    """The C++ example subscriber of the same build."""
    return str(cli.parent.parent / "examples" / "cpp" / "example_subscriber")


@pytest.fixture(scope="session")
def cli() -> pathlib.Path:
    """The real `snapbus` executable of the CMake build."""
    executable = os.environ.get("SNAPBUS_CLI")
    if not executable:
        pytest.skip("SNAPBUS_CLI is not set (run through ctest, or see bindings/python/README.md)")
    path = pathlib.Path(executable)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build the `snapbus` target first")
    return path


class Bus:
    """One test's segment and the publisher CLI driving it."""

    def __init__(self, cli: pathlib.Path, segment: pathlib.Path):
        self.cli = cli
        self.segment = segment

    def publish(self, phase: str, timeout_ms: int = 5000) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.cli), "publish", phase, "--timeout-ms", str(timeout_ms),
                               "--segment", str(self.segment)],
                              capture_output=True, text=True, timeout=timeout_ms / 1000 + PROCESS_TIMEOUT)

    def publish_async(self, phase: str, timeout_ms: int = 5000) -> subprocess.Popen:
        return subprocess.Popen([str(self.cli), "publish", phase, "--timeout-ms", str(timeout_ms),
                                 "--segment", str(self.segment)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def status(self) -> dict:
        """`snapbus status --json` of this segment."""
        result = subprocess.run([str(self.cli), "status", "--json", "--segment", str(self.segment)],
                                capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    def publish_ok(self, phase: str) -> subprocess.CompletedProcess:
        result = self.publish(phase)
        assert result.returncode == 0, f"publish {phase}: rc {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result


@pytest.fixture
def bus(cli, tmp_path) -> Bus:
    """A fresh segment (created by `publish running`), its path exported as SNAPBUS_SEGMENT."""
    created = Bus(cli, tmp_path / "bus.seg")
    created.publish_ok("running")
    return created


class Processes:
    """Starts programs in their own process groups and kills every group at teardown."""

    def __init__(self, tmp_path: pathlib.Path):
        self.tmp_path = tmp_path
        self.started: list[tuple[subprocess.Popen, pathlib.Path]] = []

    def env(self, segment=None, **extra) -> dict:
        env = dict(os.environ)
        env["SNAPBUS_LOG_LEVEL"] = "DEBUG"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if segment is not None:
            env["SNAPBUS_SEGMENT"] = str(segment)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def start(self, args: list[str], env: dict) -> subprocess.Popen:
        stderr_path = self.tmp_path / f"stderr-{len(self.started)}.txt"
        with open(stderr_path, "w") as stderr:
            proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                    start_new_session=True, cwd=self.tmp_path)
        self.started.append((proc, stderr_path))
        return proc

    def python(self, program: str, *args, env: dict) -> subprocess.Popen:
        return self.start([PYTHON, str(PROGRAMS / program), *map(str, args)], env)

    def stderr_of(self, proc) -> str:
        for started, path in self.started:
            if started is proc:
                return path.read_text()
        return ""

    def all_stderr(self) -> str:
        return "\n".join(f"--- pid {p.pid} ---\n{path.read_text()}" for p, path in self.started)

    def stop_all(self) -> None:
        for proc, _ in self.started:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=PROCESS_TIMEOUT)
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
def processes(tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def read_line(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    """The next line of proc's stdout, read from the pipe itself so that select() sees every
    byte (a buffered reader may hold lines select() cannot know of). Fails on timeout or EOF."""
    buffer = proc.__dict__.setdefault("_unread", bytearray())
    deadline = time.monotonic() + timeout
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no line from process {proc.pid} within {timeout} s")
        readable, _, _ = select.select([proc.stdout.fileno()], [], [], remaining)
        if readable:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"process {proc.pid} closed its output (rc {proc.poll()})")
            buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode()


def read_rest(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    """The rest of proc's stdout, after what read_line() has returned, up to its end."""
    buffer = proc.__dict__.setdefault("_unread", bytearray())
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"process {proc.pid} kept its output open for {timeout} s")
        readable, _, _ = select.select([proc.stdout.fileno()], [], [], remaining)
        if readable:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                rest = bytes(buffer).decode()
                buffer.clear()
                return rest
            buffer += chunk


def read_ready(proc: subprocess.Popen, count: int, timeout: float = 20.0) -> list[int]:
    """Reads "READY <pid>" lines until count arrived."""
    pids: list[int] = []
    deadline = time.monotonic() + timeout
    while len(pids) < count:
        line = read_line(proc, max(0.0, deadline - time.monotonic()))
        if line.startswith("READY "):
            pids.append(int(line.split()[1]))
    return pids


def read_records(log: pathlib.Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def free_port() -> int:
    """A port nothing listens on now, for a server the test starts later. Taken at random below the
    kernel's ephemeral range: a port from bind(0) comes from that range, where any outgoing
    connection of a test running beside this one may take it as its own port before the server
    binds it (the app then fails to start)."""
    try:
        ephemeral_low = int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    for _ in range(100):
        port = random.randrange(10000, max(ephemeral_low, 10001))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
