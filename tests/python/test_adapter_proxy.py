"""Proxy mode end to end (issue 11): the adapter as a Runtime API proxy in front of a runtime
client snapbus does not replace, under `snapbus emulate --snapstart` with the layer of the build
tree (SNAPBUS_OPT_DIR), as Lambda runs it:

    /opt/extensions/snapbus   SNAPBUS_MODE=proxy: the proxy on 127.0.0.1:SNAPBUS_PROXY_PORT
    /opt/bootstrap            the runtime; execs $LAMBDA_TASK_ROOT/run.sh with AWS_LAMBDA_RUNTIME_API
                              pointed at the proxy

The clients: the web-mode adapter as a plain LWA-style client (SNAPBUS_BRACKET=off, found through
AWS_LWA_LAMBDA_RUNTIME_API_PROXY), and programs/runtime_client.py, a custom runtime that never
calls restore/next. Answers are read off the socket (raw HTTP/1.1), so chunks, their arrival
times and trailers are seen as sent. Every wait is bounded; the emulator's process group is
killed at teardown.
"""
import json
import os
import pathlib
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import PROGRAMS, PYTHON, free_port, read_records, wait_until

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE_FASTAPI = REPO / "examples" / "fastapi"
RIE_PATH = "/2015-03-31/functions/function/invocations"
WORKERS = 4
# Init of four uvicorn workers on two busy cores takes seconds; this only bounds a hang.
INIT_TIMEOUT_S = 40
STOP_TIMEOUT_S = 15
PROXY_RESTORE_LINE = "proxy: restore/next (the proxy's, before the client's first invocation/next)"
# Chunks are sent this far apart.
CHUNK_GAP_S = 0.3


@pytest.fixture(scope="session")
def opt_dir(cli) -> pathlib.Path:
    built = os.environ.get("SNAPBUS_OPT_DIR")
    if not built:
        pytest.skip("SNAPBUS_OPT_DIR is not set (run through ctest)")
    path = pathlib.Path(built)
    if not (path / "bootstrap").is_file() or not (path / "extensions" / "snapbus").exists():
        pytest.fail(f"{path} is not a built layer: build the snapbus_opt target first")
    return path


def write_task_root(root: pathlib.Path, run_sh_body: str) -> pathlib.Path:
    """A task root whose handler run.sh runs run_sh_body (sh, set -eu)."""
    root.mkdir()
    run_sh = root / "run.sh"
    run_sh.write_text("#!/bin/sh\nset -eu\n" + run_sh_body)
    run_sh.chmod(run_sh.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return root


# ---- a raw HTTP/1.1 exchange ----------------------------------------------------------------------

class Answer:
    """One HTTP answer as it came off the socket."""

    def __init__(self):
        self.status_line = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[tuple[bytes, float]] = []  # each body piece and when it was complete
        self.trailers: list[tuple[str, str]] = []
        self.complete = False  # False: the connection ended inside the body

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    @property
    def body(self) -> bytes:
        return b"".join(data for data, _ in self.chunks)

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def comparable(self) -> tuple:
        """Everything but what differs per call (the request id, the date); chunk boundaries
        depend on timing, the bytes they carry do not."""
        varying = {"x-amzn-requestid", "date"}
        return (self.status_line, [(n.lower(), v) for n, v in self.headers if n.lower() not in varying],
                self.body, [(n.lower(), v) for n, v in self.trailers], self.complete)


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float):
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def _fill(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no complete answer in time")
        self.sock.settimeout(remaining)
        got = self.sock.recv(65536)
        if not got:
            raise EOFError
        self.buffer += got

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode("latin-1")

    def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def fields(self) -> list[tuple[str, str]]:
        found = []
        while line := self.line():
            name, _, value = line.partition(":")
            found.append((name, value.strip()))
        return found


def http_exchange(address: str, method: str, path: str, body: bytes = b"", headers=(),
                  timeout: float = 30) -> Answer:
    host, port = address.rsplit(":", 1)
    request = [f"{method} {path} HTTP/1.1", f"Host: {address}", "Connection: close",
               f"Content-Length: {len(body)}", *(f"{n}: {v}" for n, v in headers)]
    answer = Answer()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode() + body)
        reader = _Reader(sock, time.monotonic() + timeout)
        try:
            answer.status_line = reader.line()
            answer.headers = reader.fields()
            if (answer.header("Transfer-Encoding") or "").lower() == "chunked":
                while size := int(reader.line().split(";")[0], 16):
                    answer.chunks.append((reader.exactly(size), time.monotonic()))
                    reader.exactly(2)
                answer.trailers = reader.fields()
            else:
                answer.chunks.append((reader.exactly(int(answer.header("Content-Length") or 0)), time.monotonic()))
            answer.complete = True
        except EOFError:
            pass
    return answer


def assert_arrived_apart(answer: Answer, pieces: list[bytes], gap_s: float = CHUNK_GAP_S) -> None:
    """Each piece arrived by itself, well after the previous one (they are sent gap_s apart): none
    was held back to go with the next. (A quarter of the gap leaves room for a busy machine.)"""
    assert [data for data, _ in answer.chunks] == pieces, answer.chunks
    times = [t for _, t in answer.chunks]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert all(gap > gap_s / 4 for gap in gaps), f"chunks arrived together: gaps {gaps}"


# ---- one `snapbus emulate --snapstart` run --------------------------------------------------------

class Emulation:
    def __init__(self, cli: pathlib.Path, processes, directory: pathlib.Path):
        self.cli = cli
        self.processes = processes
        self.dir = directory
        self.dir.mkdir(exist_ok=True)
        self.ready_file = directory / "ready.json"
        self.report_file = directory / "report.json"
        self.stdout_path = directory / "emulator.stdout"
        self.stderr_path = directory / "emulator.stderr"
        self.proc: subprocess.Popen | None = None
        self.front_door = ""

    def start(self, task_root: pathlib.Path, env: dict, *, opt: pathlib.Path | None = None, command=(),
              args=()) -> "Emulation":
        argv = [str(self.cli), "emulate", "--snapstart", "--task-root", str(task_root), "--handler", "run.sh",
                "--port", "0", "--runtime-api-port", "0", "--ready-file", str(self.ready_file),
                "--json", str(self.report_file), "--timeout", "10", "--init-timeout", str(INIT_TIMEOUT_S),
                "--shutdown-timeout", "2", *args]
        if opt is not None:
            argv += ["--opt", str(opt)]
        variables = {"PYTHON": PYTHON, "PYTHONDONTWRITEBYTECODE": "1", "SNAPBUS_CLI": self.cli, **env}
        for key, value in variables.items():
            argv += ["--env", f"{key}={value}"]
        if command:
            argv += ["--", *map(str, command)]
        with open(self.stdout_path, "w") as stdout, open(self.stderr_path, "w") as stderr:
            self.proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, start_new_session=True, cwd=self.dir)
        self.processes.started.append((self.proc, self.stderr_path))
        wait_until(lambda: self.ready_file.exists() or self.proc.poll() is not None, 20, "the ready file")
        assert self.ready_file.exists(), f"the emulator exited with {self.proc.returncode}\n{self.output()}"
        self.front_door = json.loads(self.ready_file.read_text())["frontDoor"]
        return self

    def output(self) -> str:
        return (f"--- emulator stdout ---\n{self.stdout_path.read_text(errors='replace')[-6000:]}\n"
                f"--- emulator stderr ---\n{self.stderr_path.read_text(errors='replace')[-6000:]}")

    def lines(self) -> list[str]:
        return (self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")).splitlines()

    def wait_for_line(self, text: str, timeout: float = INIT_TIMEOUT_S) -> str:
        def found():
            line = next((line for line in self.lines() if text in line), None)
            assert line or self.proc.poll() is None, f"the emulator exited before {text!r}\n{self.output()}"
            return line
        return wait_until(found, timeout, repr(text), interval=0.05)

    def wait_restored(self) -> None:
        line = self.wait_for_line("RESTORE_REPORT")
        assert "Status:" not in line, f"the restore failed: {line}\n{self.output()}"

    def wait_exit(self, timeout: float = INIT_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the emulator did not exit within {timeout} s\n{self.output()}") from None

    def stop(self) -> int:
        """SIGTERM: an orderly shutdown, which writes the JSON report."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.wait_exit(STOP_TIMEOUT_S)

    def report(self) -> dict:
        assert self.report_file.exists(), f"no JSON report\n{self.output()}"
        return json.loads(self.report_file.read_text())

    def invoke(self, event: dict, timeout: float = 30) -> Answer:
        """The RIE path: the event as it is, the function's answer as it is (streamed ones with
        their error trailers)."""
        return http_exchange(self.front_door, "POST", RIE_PATH, json.dumps(event).encode(),
                             [("Content-Type", "application/json")], timeout)

    def get(self, path: str, timeout: float = 30) -> Answer:
        """A Function URL request."""
        return http_exchange(self.front_door, "GET", path, timeout=timeout)


def proxy_env(tmp_path: pathlib.Path, **extra) -> dict:
    """Proxy mode for the extension; the segment is this test's."""
    return {"SNAPBUS_MODE": "proxy", "SNAPBUS_PROXY_PORT": free_port(), "SNAPBUS_SEGMENT": tmp_path / "snapbus.seg",
            **extra}


def lwa_style_client(app_command: str) -> str:
    """run.sh: the app in the background, then the web-mode adapter without its own bracket,
    talking to the proxy as LWA would."""
    return f"""{app_command} &
SNAPBUS_MODE=web SNAPBUS_BRACKET=off AWS_LWA_LAMBDA_RUNTIME_API_PROXY="127.0.0.1:$SNAPBUS_PROXY_PORT" \\
  exec "$SNAPBUS_CLI" adapter
"""


def runtime_client(subscriber_args: str = "") -> str:
    """run.sh: optionally a subscriber process in the background, then the custom runtime."""
    subscriber = f'"$PYTHON" {PROGRAMS / "subscriber.py"} {subscriber_args} &\n' if subscriber_args else ""
    return f'{subscriber}exec "$PYTHON" {PROGRAMS / "runtime_client.py"}\n'


@pytest.fixture
def emulation(cli, processes, tmp_path):
    return lambda name="function": Emulation(cli, processes, tmp_path / name)


# ---- a: LWA (here the web-mode adapter as a plain client) behind the proxy --------------------------

def test_lwa_style_client_gets_every_workers_after_restore_hooks_first_and_streams(emulation, opt_dir, tmp_path):
    app_log = tmp_path / "app.log"
    app = (f'"$PYTHON" -m uvicorn hook_timing_app:app --app-dir {PROGRAMS} --host 127.0.0.1 --port "$AWS_LWA_PORT" '
           f'--workers {WORKERS} --log-level warning')
    root = write_task_root(tmp_path / "task", lwa_style_client(app))
    function = emulation().start(root, proxy_env(tmp_path, AWS_LWA_PORT=free_port(), APP_LOG=app_log,
                                                 SNAPBUS_EXPECT_SUBSCRIBERS=WORKERS,
                                                 AWS_LWA_INVOKE_MODE="response_stream",
                                                 # not "/": only invocations are recorded as requests
                                                 AWS_LWA_READINESS_CHECK_PATH="/health"), opt=opt_dir)
    # Sent during Init: the event waits in the emulator's queue, so it is handed over the moment
    # the client's first invocation/next gets through, after the bracket if the proxy waited.
    answers = [function.get("/", timeout=INIT_TIMEOUT_S)]
    function.wait_restored()
    function.wait_for_line(PROXY_RESTORE_LINE, timeout=1)
    answers += [function.get("/") for _ in range(7)]
    streamed = function.get(f"/stream?chunks=3&gap_ms={int(CHUNK_GAP_S * 1000)}")

    records = read_records(app_log)
    workers = {r["pid"] for r in records if r["event"] == "subscribed"}
    assert len(workers) == WORKERS, records
    hooks = [r for r in records if r["event"] == "after-restore"]
    assert sorted(r["pid"] for r in hooks) == sorted(workers), f"one after-restore per worker: {hooks}"
    assert all(r["generation"] == 1 for r in hooks), hooks
    requests = [r for r in records if r["event"] == "request"]
    assert len(requests) == 9
    assert max(r["t_ns"] for r in hooks) < min(r["t_ns"] for r in requests), \
        "a request reached a worker before every after-restore hook had ended"
    for answer in answers:
        assert answer.status == 200, answer.comparable()
        body = json.loads(answer.body)
        assert body["pid"] in workers
        assert body["generation"] == 1 and body["hookGeneration"] == 1, body

    assert streamed.status == 200 and streamed.complete, streamed.comparable()
    assert streamed.header("Content-Type").startswith("text/plain")
    assert_arrived_apart(streamed, [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"])

    assert function.stop() == 0, function.output()
    report = function.report()
    assert report["restore"]["status"] == "success"
    assert [i["status"] for i in report["invocations"]] == ["success"] * 9, report


def test_example_fastapi_behind_the_proxy_answers_from_restored_workers_only(emulation, opt_dir, tmp_path):
    root = write_task_root(tmp_path / "task", lwa_style_client(f'PORT="$AWS_LWA_PORT" {EXAMPLE_FASTAPI / "run.sh"}'))
    function = emulation().start(root, proxy_env(tmp_path, AWS_LWA_PORT=free_port(), WORKERS=WORKERS,
                                                 SNAPBUS_EXPECT_SUBSCRIBERS=WORKERS), opt=opt_dir)
    function.wait_restored()
    for _ in range(8):
        answer = function.get("/")
        assert answer.status == 200, answer.comparable()
        body = json.loads(answer.body)
        assert body["generation"] == 1 and body["pool"]["opened_at_generation"] == 1, body
    status = subprocess.run([str(function.cli), "status", "--json", "--segment", str(tmp_path / "snapbus.seg")],
                            capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["state"]["generation"] == 1 and state["state"]["source"] == "runtime-api-proxy", state
    subscribers = state["subscribers"]
    assert len(subscribers) == WORKERS and all(s["handled_generation"] == 1 and s["outcome"] == "ok"
                                               for s in subscribers), subscribers
    assert function.stop() == 0, function.output()


# ---- b: a client that never calls restore/next ------------------------------------------------------

def test_client_without_restore_next_gets_the_bracket_and_its_answers_through(emulation, opt_dir, tmp_path):
    hooks_log = tmp_path / "hooks.log"
    client_log = tmp_path / "client.log"
    root = write_task_root(tmp_path / "task",
                           runtime_client(f"--log {hooks_log} --hooks 2 --hook-sleep 0.2 --lifetime 120"))
    env = proxy_env(tmp_path, SNAPBUS_EXPECT_SUBSCRIBERS=1, RUNTIME_CLIENT_LOG=client_log)
    function = emulation().start(root, env, opt=opt_dir)
    event = {"kind": "echo", "text": "through the proxy", "n": [1, 2, 3]}
    echoed = function.invoke(event, timeout=INIT_TIMEOUT_S)  # sent during Init, as in the test above
    function.wait_restored()
    function.wait_for_line(PROXY_RESTORE_LINE, timeout=1)
    assert echoed.status == 200 and echoed.body == json.dumps(event).encode(), echoed.comparable()
    streamed = function.invoke({"kind": "stream", "chunks": ["one", "two", "three"],
                                "gapMs": int(CHUNK_GAP_S * 1000)})
    assert streamed.status == 200 and streamed.complete and not streamed.trailers, streamed.comparable()
    assert_arrived_apart(streamed, [b"one", b"two", b"three"])

    client = read_records(client_log)
    assert [r["api"] for r in client] == [f"127.0.0.1:{env['SNAPBUS_PROXY_PORT']}"] * 2, client
    hooks = [r for r in read_records(hooks_log) if r["phase"] == "after-restore"]
    assert sorted((r["hook"], r["generation"]) for r in hooks) == [("h1", 1), ("h2", 1)], hooks
    assert max(r["t_ns"] for r in hooks) < client[0]["t_ns"], \
        "the client got its first event before the subscriber's after-restore hooks had ended"
    assert function.stop() == 0, function.output()


# ---- c: the same calls, with the proxy in between and without it ------------------------------------

CALLS = [
    {"kind": "echo", "text": "h\u00e9llo", "nested": {"list": [1, 2.5, None, True]}},
    {"kind": "error", "errorType": "Function.CustomError", "message": "it broke"},
    {"kind": "stream", "chunks": ["first ", "second ", "third"], "gapMs": 30, "contentType": "text/csv"},
    {"kind": "stream-error", "chunks": ["partial ", "answer"], "gapMs": 30, "errorType": "Function.MidStream"},
    {"kind": "stream-error", "chunks": ["no ", "declaration"], "errorType": "Function.Undeclared",
     "declareTrailers": False},
    {"kind": "echo", "text": "still alive"},
]


def report_outcomes(report: dict) -> dict:
    """What the report says of each phase and invocation, without durations, ids and memory."""
    return {"init": report["init"]["status"], "restore": report["restore"]["status"],
            "invocations": [(i["status"], i["errorType"]) for i in report["invocations"]],
            "exitCode": report["exitCode"]}


def test_answers_and_report_are_the_same_with_the_proxy_and_without(emulation, opt_dir, tmp_path):
    direct = emulation("direct").start(write_task_root(tmp_path / "direct-task", "exit 1\n"), {},
                                       command=[PYTHON, PROGRAMS / "runtime_client.py"])
    direct_answers = [direct.invoke(call) for call in CALLS]
    assert direct.stop() == 0, direct.output()

    proxied = emulation("proxied").start(write_task_root(tmp_path / "proxied-task", runtime_client()),
                                         proxy_env(tmp_path), opt=opt_dir)
    proxied_answers = [proxied.invoke(call) for call in CALLS]
    assert proxied.stop() == 0, proxied.output()
    assert any(PROXY_RESTORE_LINE in line for line in proxied.lines()), proxied.output()

    # What the direct run answered is what the calls ask for, so equal answers are right answers.
    echo, error, stream, stream_error, undeclared, alive = direct_answers
    assert echo.status == 200 and echo.body == json.dumps(CALLS[0]).encode()
    assert error.header("X-Amz-Function-Error") == "Unhandled" and b"Function.CustomError" in error.body
    assert stream.body == b"first second third" and stream.header("Content-Type") == "text/csv"
    assert ("Lambda-Runtime-Function-Error-Type", "Function.MidStream") in stream_error.trailers
    assert ("Lambda-Runtime-Function-Error-Type", "Function.Undeclared") in undeclared.trailers
    assert alive.body == json.dumps(CALLS[-1]).encode()

    for call, without, through in zip(CALLS, direct_answers, proxied_answers):
        assert through.comparable() == without.comparable(), f"{call['kind']} differs through the proxy"
    direct_report, proxied_report = report_outcomes(direct.report()), report_outcomes(proxied.report())
    assert direct_report["invocations"] == [("success", None), ("error", "Function.CustomError"),
                                            ("success", None), ("error", "Function.MidStream"),
                                            ("error", "Function.Undeclared"), ("success", None)]
    assert proxied_report == direct_report


# ---- d: a failing after-restore hook behind the proxy -------------------------------------------------

def test_failing_after_restore_hook_becomes_restore_error_naming_process_and_hook(emulation, opt_dir, tmp_path):
    hooks_log = tmp_path / "hooks.log"
    root = write_task_root(tmp_path / "task", runtime_client(
        f"--log {hooks_log} --hooks 2 --fail h1 --fail-phase after-restore --lifetime 120"))
    function = emulation().start(root, proxy_env(tmp_path, SNAPBUS_EXPECT_SUBSCRIBERS=1), opt=opt_dir,
                                 args=["--exit-on-failure"])
    assert function.wait_exit() == 4, function.output()

    report = function.report()
    assert report["restore"]["status"] == "error" and report["restore"]["errorType"] == "Runtime.AfterRestoreError", report
    assert report["invocations"] == []
    subscriber_pid = read_records(hooks_log)[0]["pid"]
    # The emulator's log line for the restore/error it received: its message names process and hook.
    received = [line for line in function.stdout_path.read_text().splitlines() if line.startswith("Error: ")]
    assert len(received) == 1, function.output()
    assert f"pid {subscriber_pid}" in received[0] and "after-restore hook 'h1' failed" in received[0], received
    # It came from the proxy (the client knows nothing of other processes).
    assert any(line.startswith("[snapbus] proxy: restore/error: Runtime.AfterRestoreError") for line in function.lines()), \
        function.output()
