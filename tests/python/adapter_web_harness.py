"""What the adapter's end-to-end tests (test_adapter_web_*.py, test_adapter_proxy.py) share: the
layer directory, the test app's task root, one `snapbus emulate --snapstart` run of a function
behind the adapter, and the check that every worker's after-restore hooks ended before its first
request. The function runs the way Lambda runs it with Lambda Web Adapter's layer:

    /opt/extensions/snapbus   the adapter, an external extension started with no arguments
    /opt/bootstrap            AWS_LAMBDA_EXEC_WRAPPER: execs $LAMBDA_TASK_ROOT/$_HANDLER (run.sh)

Every wait is bounded; the emulator and everything it started are killed at teardown (its
process group, through conftest's Processes).
"""
import concurrent.futures
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess

import httpx
import pytest

from conftest import PROGRAMS, PYTHON, free_port, read_records, wait_until

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE_FASTAPI = REPO / "examples" / "fastapi"
RIE_PATH = "/2015-03-31/functions/function/invocations"
# Init of four uvicorn workers on two busy cores takes a few seconds; this only bounds a hang.
INIT_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15


@pytest.fixture(scope="session")
def opt_dir(cli) -> pathlib.Path:
    """The layer in the build tree (target snapbus_opt), SNAPBUS_OPT_DIR under ctest."""
    built = os.environ.get("SNAPBUS_OPT_DIR")
    if not built:
        pytest.skip("SNAPBUS_OPT_DIR is not set (run through ctest)")
    path = pathlib.Path(built)
    if not (path / "bootstrap").is_file() or not (path / "extensions" / "snapbus").exists():
        pytest.fail(f"{path} is not a built layer: build the snapbus_opt target first")
    return path


def write_executable(path: pathlib.Path, text: str) -> pathlib.Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def make_app_task_root(tmp_path: pathlib.Path) -> pathlib.Path:
    """A task root whose run.sh serves programs/adapter_web_app.py with uvicorn: $WORKERS workers
    (default 4), keep-alive timeout $APP_KEEPALIVE_S (uvicorn's 5 s by default)."""
    root = tmp_path / "task"
    root.mkdir()
    write_executable(root / "run.sh", f"""#!/bin/sh
set -eu
exec {PYTHON} -m uvicorn adapter_web_app:app --app-dir '{PROGRAMS}' --host 127.0.0.1 --port "$AWS_LWA_PORT" \\
  --workers "${{WORKERS:-4}}" --timeout-keep-alive "${{APP_KEEPALIVE_S:-5}}" --log-level warning
""")
    return root


def node_part_missing(reason: str) -> None:
    """The tests that put a Node.js server or client behind the adapter skip without it, unless
    SNAPBUS_REQUIRE_NODE=1 (CI, where the image has Node.js and setup.sh installed the client)."""
    if os.environ.get("SNAPBUS_REQUIRE_NODE") == "1":
        pytest.fail(f"{reason}, and SNAPBUS_REQUIRE_NODE=1")
    pytest.skip(reason)


def require_node() -> str:
    node = shutil.which("node")
    if node is None:
        node_part_missing("node is not on PATH")
    return node


def make_node_app_task_root(tmp_path: pathlib.Path) -> pathlib.Path:
    """A task root whose run.sh serves programs/node_web_app.mjs on Node.js's own HTTP server (one
    process; keep-alive timeout $APP_KEEPALIVE_S, Node's 5 s by default)."""
    root = tmp_path / "task-node"
    root.mkdir()
    write_executable(root / "run.sh", f"""#!/bin/sh
set -eu
exec {require_node()} '{PROGRAMS / "node_web_app.mjs"}'
""")
    return root


class Function:
    """One `snapbus emulate` run with the adapter in front of an app. The app's log ($APP_LOG) and
    state directory are this test's; so is the segment."""

    def __init__(self, cli: pathlib.Path, opt: pathlib.Path, processes, tmp_path: pathlib.Path):
        self.cli = cli
        self.opt = opt
        self.processes = processes
        self.dir = tmp_path
        self.segment = tmp_path / "snapbus.seg"
        self.app_log = tmp_path / "app.log"
        self.app_state = tmp_path / "app-state"
        self.app_state.mkdir(exist_ok=True)
        self.ready_file = tmp_path / "ready.json"
        self.report_file = tmp_path / "report.json"
        self.stdout_path = tmp_path / "emulator.stdout"
        self.stderr_path = tmp_path / "emulator.stderr"
        self.app_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.front_door = ""

    def start(self, task_root: pathlib.Path, env: dict | None = None, *, emulator_args=(),
              init_timeout: float = INIT_TIMEOUT_S, shutdown_timeout: float = 1) -> "Function":
        variables = {"SNAPBUS_SEGMENT": self.segment, "AWS_LWA_PORT": self.app_port,
                     "APP_LOG": self.app_log, "APP_STATE_DIR": self.app_state, "PYTHON": PYTHON,
                     "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        args = [str(self.cli), "emulate", "--snapstart",
                "--opt", str(self.opt), "--exec-wrapper", str(self.opt / "bootstrap"), "--handler", "run.sh",
                "--task-root", str(task_root), "--port", "0", "--runtime-api-port", "0",
                "--ready-file", str(self.ready_file), "--json", str(self.report_file),
                "--timeout", "10", "--init-timeout", str(init_timeout), "--shutdown-timeout", str(shutdown_timeout),
                *emulator_args]
        for key, value in variables.items():
            args += ["--env", f"{key}={value}"]
        # The managed runtime's command, which Lambda hands to the exec wrapper: /opt/bootstrap
        # ignores it and execs run.sh instead, so it must never run.
        args += ["--", "/bin/false"]
        with open(self.stdout_path, "w") as stdout, open(self.stderr_path, "w") as stderr:
            self.proc = subprocess.Popen(args, stdout=stdout, stderr=stderr, start_new_session=True, cwd=self.dir)
        self.processes.started.append((self.proc, self.stderr_path))
        wait_until(lambda: self.ready_file.exists() or self.proc.poll() is not None, 20, "the ready file")
        assert self.ready_file.exists(), f"the emulator exited with {self.proc.returncode}\n{self.output()}"
        self.front_door = json.loads(self.ready_file.read_text())["frontDoor"]
        return self

    # --- what the emulator said ---

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        """Both streams, for assertion messages."""
        return f"--- emulator stdout ---\n{self.stdout()[-6000:]}\n--- emulator stderr ---\n{self.stderr()[-6000:]}"

    def adapter_lines(self) -> list[str]:
        return [line for line in (self.stdout() + self.stderr()).splitlines() if line.startswith("[snapbus] ")]

    def wait_for_output(self, text: str, timeout: float = INIT_TIMEOUT_S) -> str:
        """The first stdout line containing text; fails if the emulator exits first."""
        def found():
            for line in self.stdout().splitlines():
                if text in line:
                    return line
            assert self.proc.poll() is None, \
                f"the emulator exited ({self.proc.returncode}) before {text!r}\n{self.output()}"
            return None
        return wait_until(found, timeout, repr(text), interval=0.02)

    def wait_restored(self) -> None:
        """Until the restore phase ended, and ended well."""
        line = self.wait_for_output("RESTORE_REPORT")
        assert "Status:" not in line, f"the restore failed: {line}\n{self.output()}"

    def wait_exit(self, timeout: float = INIT_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the emulator did not exit within {timeout} s\n{self.output()}") from None

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C: an orderly shutdown that writes the JSON report."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.wait_exit(STOP_TIMEOUT_S)

    def report(self) -> dict:
        assert self.proc.poll() is not None, "the report is written at exit: stop() first"
        assert self.report_file.exists(), f"no JSON report\n{self.output()}"
        return json.loads(self.report_file.read_text())

    def status(self) -> dict:
        """`snapbus status --json` of this function's segment."""
        result = subprocess.run([str(self.cli), "status", "--json", "--segment", str(self.segment)],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    # --- what the app said ---

    def records(self, event: str | None = None) -> list[dict]:
        return [r for r in read_records(self.app_log) if event is None or r["event"] == event]

    def worker_pids(self) -> set[int]:
        return {r["pid"] for r in self.records("subscribed")}

    # --- requests ---

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=f"http://{self.front_door}", timeout=timeout)

    def invoke_raw(self, event: dict, timeout: float = 30, headers: dict | None = None) -> httpx.Response:
        """The RIE path: the event as it is, the function's result as it is. `headers`: the Invoke
        API's own (X-Amzn-Trace-Id, X-Amz-Tenant-Id, ...)."""
        with self.client(timeout) as client:
            return client.post(RIE_PATH, content=json.dumps(event),
                               headers={"content-type": "application/json", **(headers or {})})


@pytest.fixture
def function(cli, opt_dir, processes, tmp_path) -> Function:
    return Function(cli, opt_dir, processes, tmp_path)


@pytest.fixture
def task_root(tmp_path) -> pathlib.Path:
    return make_app_task_root(tmp_path)


def burst_until_every_worker_answered(function: Function, workers: int, limit: int = 40) -> list[dict]:
    """Requests sent while Init is still running, so they wait in the emulator's queue and the
    first is forwarded the moment the adapter asks for it. Each answer closes its connection and
    keeps its worker out of accept() for a while, so the next request goes to another worker."""
    answers: list[dict] = []

    def one(_):
        with function.client(timeout=60) as client:
            response = client.get("/whoami", params={"spread_ms": 300})
        assert response.status_code == 200, response.text
        return response.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers += pool.map(one, range(8))
    while len({a["pid"] for a in answers}) < workers and len(answers) < limit:
        answers.append(one(None))
    return answers


def assert_hooks_ran_before_requests(function: Function, answers: list[dict], workers: int) -> None:
    pids = function.worker_pids()
    assert len(pids) == workers, f"subscribed workers: {pids}\n{function.output()}"
    before = {r["pid"] for r in function.records("before_snapshot")}
    assert before == pids, f"before-snapshot hooks ran in {before}, workers are {pids}"
    restored = {r["pid"]: r for r in function.records("after_restore_end")}
    assert set(restored) == pids, f"after-restore hooks finished in {set(restored)}, workers are {pids}"
    assert all(r["generation"] == 1 for r in restored.values()), restored

    assert all(a["generation"] == 1 for a in answers), answers
    served = {a["pid"] for a in answers}
    assert served == pids, f"only {served} of {pids} answered {len(answers)} requests"
    requests = [r for r in function.records("request") if r["path"] == "/whoami"]
    for pid in pids:
        first = min(r["t"] for r in requests if r["pid"] == pid)
        early_ms = (restored[pid]["t"] - first) / 1e6
        assert early_ms < 0, f"worker {pid}: a request arrived {early_ms:.1f} ms before its after-restore hooks finished"
    # Stronger, and what the adapter promises: nothing is forwarded before every worker acked.
    last_hook = max(r["t"] for r in restored.values())
    first_request = min(r["t"] for r in requests)
    early_ms = (last_hook - first_request) / 1e6
    assert early_ms < 0, f"the first request arrived {early_ms:.1f} ms before the last hook finished"


def read_acked_stream(function: Function, acks: pathlib.Path, chunks: int) -> list[str]:
    """GET /stream?n=<chunks>&acks=<acks> through the Function URL front door, from the test app
    (either server): the app writes line k+1 only once acks/ack-<k> exists, which is created here
    when line k arrives, so a line held back anywhere on the way stops the stream and the app ends
    it with no-ack-<k>. Returns the lines as they came."""
    acks.mkdir()
    lines: list[str] = []
    with function.client(timeout=60) as client:
        with client.stream("GET", "/stream", params={"n": chunks, "acks": str(acks)}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            pending = b""
            for piece in response.iter_raw():
                pending += piece
                while b"\n" in pending:
                    line, _, pending = pending.partition(b"\n")
                    lines.append(line.decode())
                    if line.startswith(b"chunk-"):
                        (acks / f"ack-{len(lines) - 1}").touch()
    return lines
