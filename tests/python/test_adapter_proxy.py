"""Proxy mode end to end (issue 11): the adapter as a Runtime API proxy in front of a runtime
client snapbus does not replace, under `snapbus emulate --snapstart` with the layer of the build
tree (adapter_web_harness.Function), as Lambda runs it:

    /opt/extensions/snapbus   SNAPBUS_MODE=proxy: the proxy on 127.0.0.1:SNAPBUS_PROXY_PORT
    /opt/bootstrap            execs $LAMBDA_TASK_ROOT/run.sh with AWS_LAMBDA_RUNTIME_API pointed
                              at the proxy

The clients: the web-mode adapter as a plain LWA-style client (SNAPBUS_BRACKET=off, found through
AWS_LWA_LAMBDA_RUNTIME_API_PROXY), and programs/runtime_client.py, a custom runtime that never
calls restore/next (in one case it does). Answers on the RIE path are read off the socket (raw HTTP/1.1), so their
chunks and trailers are seen as sent.
"""
import json
import pathlib
import socket
import time

import pytest

from adapter_web_harness import (EXAMPLE_FASTAPI, Function, assert_hooks_ran_before_requests,
                                 burst_until_every_worker_answered, write_executable)
from conftest import PROGRAMS, PYTHON, free_port, read_records

WORKERS = 4
PROXY_RESTORE = "[snapbus] proxy: restore/next (the proxy's, before the client's first invocation/next)"
CLIENT_RESTORE = "[snapbus] proxy: restore/next (the client's)"
RIE_PATH = "/2015-03-31/functions/function/invocations"


# ---- a raw HTTP/1.1 exchange ----------------------------------------------------------------------

class Answer:
    """One HTTP answer as it came off the socket."""

    def __init__(self):
        self.status_line = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.trailers: list[tuple[str, str]] = []
        self.complete = False  # False: the connection ended inside the body

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

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


def invoke(function: Function, event: dict, timeout: float = 30, on_chunk=lambda index: None) -> Answer:
    """POST the event to the RIE path: the function's answer as it is, a streamed one with its
    error trailers. on_chunk(k) is called as soon as chunk k of a chunked answer is in."""
    host, port = function.front_door.rsplit(":", 1)
    body = json.dumps(event).encode()
    request = [f"POST {RIE_PATH} HTTP/1.1", f"Host: {function.front_door}", "Connection: close",
               "Content-Type: application/json", f"Content-Length: {len(body)}"]
    answer = Answer()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode() + body)
        reader = _Reader(sock, time.monotonic() + timeout)
        try:
            answer.status_line = reader.line()
            answer.headers = reader.fields()
            if (answer.header("Transfer-Encoding") or "").lower() == "chunked":
                while size := int(reader.line().split(";")[0], 16):
                    answer.chunks.append(reader.exactly(size))
                    reader.exactly(2)
                    on_chunk(len(answer.chunks) - 1)
                answer.trailers = reader.fields()
            else:
                answer.chunks.append(reader.exactly(int(answer.header("Content-Length") or 0)))
            answer.complete = True
        except EOFError:
            pass
    return answer


# ---- the functions ------------------------------------------------------------------------------

def proxy_env(**extra) -> dict:
    return {"SNAPBUS_MODE": "proxy", "SNAPBUS_PROXY_PORT": free_port(), **extra}


def task_root(directory: pathlib.Path, run_sh_body: str) -> pathlib.Path:
    directory.mkdir()
    write_executable(directory / "run.sh", "#!/bin/sh\nset -eu\n" + run_sh_body)
    return directory


def lwa_style_task_root(directory: pathlib.Path, app_command: str) -> pathlib.Path:
    """run.sh: the app in the background, then the web-mode adapter without its own bracket,
    talking to the proxy as LWA would."""
    return task_root(directory, f"""{app_command} &
SNAPBUS_MODE=web SNAPBUS_BRACKET=off AWS_LWA_LAMBDA_RUNTIME_API_PROXY="127.0.0.1:$SNAPBUS_PROXY_PORT" \\
  exec "$SNAPBUS_CLI" adapter
""")


def runtime_client_task_root(directory: pathlib.Path, subscriber_args: str = "") -> pathlib.Path:
    """run.sh: a subscriber process in the background (with subscriber_args), then the runtime."""
    subscriber = f'"$PYTHON" {PROGRAMS / "subscriber.py"} {subscriber_args} &\n' if subscriber_args else ""
    return task_root(directory, f'{subscriber}exec "$PYTHON" {PROGRAMS / "runtime_client.py"}\n')


def ran_the_bracket(function: Function, around: str = PROXY_RESTORE) -> bool:
    return any(line.startswith(around) for line in function.adapter_lines())


# ---- a: LWA (here the web-mode adapter as a plain client) behind the proxy --------------------------

def test_lwa_style_client_gets_every_workers_after_restore_hooks_first_and_streams(function, tmp_path):
    app = (f'"$PYTHON" -m uvicorn adapter_web_app:app --app-dir {PROGRAMS} --host 127.0.0.1 --port "$AWS_LWA_PORT" '
           f'--workers {WORKERS} --log-level warning')
    function.start(lwa_style_task_root(tmp_path / "task", app),
                   proxy_env(SNAPBUS_CLI=function.cli, SNAPBUS_EXPECT_SUBSCRIBERS=WORKERS,
                             AWS_LWA_READINESS_CHECK_PATH="/healthz", AWS_LWA_INVOKE_MODE="response_stream"))
    answers = burst_until_every_worker_answered(function, WORKERS)  # sent during Init
    function.wait_restored()
    assert ran_the_bracket(function), function.output()
    assert_hooks_ran_before_requests(function, answers, WORKERS)

    # Through the Function URL front door: the app sends chunk k+1 only once chunk k got here.
    acks = tmp_path / "acks"
    acks.mkdir()
    lines: list[str] = []
    with function.client(timeout=60) as client:
        with client.stream("GET", "/stream", params={"n": 4, "acks": str(acks)}) as response:
            assert response.status_code == 200
            pending = b""
            for piece in response.iter_raw():
                pending += piece
                while b"\n" in pending:
                    line, _, pending = pending.partition(b"\n")
                    lines.append(line.decode())
                    (acks / f"ack-{len(lines) - 1}").touch()
    assert [line.split()[0] for line in lines] == [f"chunk-{k}" for k in range(4)], lines

    assert function.stop() == 0, function.output()
    report = function.report()
    assert report["restore"]["status"] == "success", report
    assert all(i["status"] == "success" for i in report["invocations"]), report


def test_example_fastapi_behind_the_proxy_answers_from_restored_workers_only(function, tmp_path):
    root = lwa_style_task_root(tmp_path / "task", f'PORT="$AWS_LWA_PORT" {EXAMPLE_FASTAPI / "run.sh"}')
    function.start(root, proxy_env(SNAPBUS_CLI=function.cli, WORKERS=WORKERS, SNAPBUS_EXPECT_SUBSCRIBERS=WORKERS))
    with function.client(timeout=60) as client:  # sent during Init
        answers = [client.get("/", headers={"connection": "close"}) for _ in range(8)]
    function.wait_restored()
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["generation"] == 1 and body["pool"]["opened_at_generation"] == 1, body
    status = function.status()
    assert status["state"]["generation"] == 1 and status["state"]["source"] == "runtime-api-proxy", status
    subscribers = status["subscribers"]
    assert len(subscribers) == WORKERS and all(s["handled_generation"] == 1 and s["outcome"] == "ok"
                                               for s in subscribers), subscribers
    assert function.stop() == 0, function.output()


# ---- b: a client that never calls restore/next (and one that does) ----------------------------------

@pytest.mark.parametrize("calls_restore_next", [False, True], ids=["no-restore-next", "restore-next"])
def test_client_gets_the_bracket_before_its_first_event_and_its_answers_through(function, tmp_path,
                                                                                 calls_restore_next):
    hooks_log = tmp_path / "hooks.log"
    client_log = tmp_path / "client.log"
    root = runtime_client_task_root(tmp_path / "task",
                                    f"--log {hooks_log} --hooks 2 --hook-sleep 0.2 --lifetime 120 --exit-on-sigterm")
    env = proxy_env(SNAPBUS_EXPECT_SUBSCRIBERS=1, RUNTIME_CLIENT_LOG=client_log,
                    RUNTIME_CLIENT_RESTORE_NEXT=int(calls_restore_next))
    # 10 s to shut down: the runtime's share (1.5 s) covers the subscriber's two 0.2 s shutdown hooks.
    function.start(root, env, shutdown_timeout=10)
    # Sent during Init: it waits in the emulator's queue and is handed over the moment the
    # client's first invocation/next gets through the proxy.
    event = {"kind": "echo", "text": "through the proxy", "n": [1, 2, 3]}
    echoed = invoke(function, event, timeout=60)
    function.wait_restored()
    assert ran_the_bracket(function, CLIENT_RESTORE if calls_restore_next else PROXY_RESTORE), function.output()
    assert echoed.status == 200 and echoed.body == json.dumps(event).encode(), echoed.comparable()

    acks = tmp_path / "acks"
    acks.mkdir()
    streamed = invoke(function, {"kind": "stream", "chunks": ["one", "two", "three"], "acks": str(acks)},
                      on_chunk=lambda k: (acks / f"ack-{k}").touch())
    assert streamed.status == 200 and streamed.complete and not streamed.trailers, streamed.comparable()
    assert streamed.chunks == [b"one", b"two", b"three"], "a chunk was held back (no-ack) or merged"

    client = read_records(client_log)
    assert [r["api"] for r in client] == [f"127.0.0.1:{env['SNAPBUS_PROXY_PORT']}"] * 2, client
    hooks = [r for r in read_records(hooks_log) if r["phase"] == "after-restore"]
    assert sorted((r["hook"], r["generation"]) for r in hooks) == [("h1", 1), ("h2", 1)], hooks
    assert max(r["t_ns"] for r in hooks) < client[0]["t_ns"], \
        "the client got its first event before the subscriber's after-restore hooks had ended"
    # Lambda's stop: SIGTERM to the runtime's process group first. The subscriber handles it and exits,
    # running its shutdown hooks on the way out (SHUTDOWN reaches the proxy only after that).
    assert function.stop() == 0, function.output()
    shutdown = [r["hook"] for r in read_records(hooks_log) if r["phase"] == "shutdown"]
    assert sorted(shutdown) == ["h1", "h2"], function.output()


# ---- c: the same calls, with the proxy in between and without it ------------------------------------

CALLS = [
    {"kind": "echo", "text": "h\u00e9llo", "nested": {"list": [1, 2.5, None, True]}},
    {"kind": "error", "errorType": "Function.CustomError", "message": "it broke"},
    {"kind": "stream", "chunks": ["first ", "second ", "third"], "contentType": "text/csv"},
    {"kind": "stream-error", "chunks": ["partial ", "answer"], "errorType": "Function.MidStream"},
    {"kind": "stream-error", "chunks": ["no ", "declaration"], "errorType": "Function.Undeclared",
     "declareTrailers": False},
    # Over Lambda's 6 MB: refused by the Runtime API; the second also over what the proxy holds whole.
    {"kind": "large", "size": 7_000_000},
    {"kind": "large", "size": 17_000_000},
    {"kind": "echo", "text": "still alive"},
]


def report_outcomes(report: dict) -> dict:
    """What the report says of each phase and invocation, without durations, ids and memory."""
    return {"init": report["init"]["status"], "restore": report["restore"]["status"],
            "invocations": [(i["status"], i["errorType"]) for i in report["invocations"]],
            "exitCode": report["exitCode"]}


def test_answers_and_report_are_the_same_with_the_proxy_and_without(cli, opt_dir, processes, tmp_path):
    # The same function twice: with the layer, and with a layer holding only its bootstrap (no
    # extension, so nothing rewrites AWS_LAMBDA_RUNTIME_API and the client talks to the emulator).
    root = runtime_client_task_root(tmp_path / "task")
    bare_opt = tmp_path / "opt-without-extensions"
    bare_opt.mkdir()
    (bare_opt / "bootstrap").symlink_to(opt_dir / "bootstrap")
    runs = {}
    for name, opt, env in [("direct", bare_opt, {}), ("proxied", opt_dir, proxy_env())]:
        (tmp_path / name).mkdir()
        function = Function(cli, opt, processes, tmp_path / name).start(root, env)
        answers = [invoke(function, call) for call in CALLS]
        assert function.stop() == 0, function.output()
        runs[name] = (function, answers)
    (direct, direct_answers), (proxied, proxied_answers) = runs["direct"], runs["proxied"]
    assert not ran_the_bracket(direct) and ran_the_bracket(proxied), proxied.output()

    # What the direct run answered is what the calls ask for, so equal answers are right answers.
    echo, error, stream, stream_error, undeclared, large, larger, alive = direct_answers
    assert echo.status == 200 and echo.body == json.dumps(CALLS[0]).encode()
    assert error.header("X-Amz-Function-Error") == "Unhandled" and b"Function.CustomError" in error.body
    assert stream.body == b"first second third" and stream.header("Content-Type") == "text/csv"
    assert ("Lambda-Runtime-Function-Error-Type", "Function.MidStream") in stream_error.trailers
    assert ("Lambda-Runtime-Function-Error-Type", "Function.Undeclared") in undeclared.trailers
    assert b"Function.ResponseSizeTooLarge" in large.body and larger.body == large.body
    assert alive.body == json.dumps(CALLS[-1]).encode()

    for call, without, through in zip(CALLS, direct_answers, proxied_answers):
        assert through.comparable() == without.comparable(), f"{call['kind']} differs through the proxy"
    direct_report, proxied_report = report_outcomes(direct.report()), report_outcomes(proxied.report())
    assert direct_report["invocations"] == [("success", None), ("error", "Function.CustomError"),
                                            ("success", None), ("error", "Function.MidStream"),
                                            ("error", "Function.Undeclared"),
                                            ("error", "Function.ResponseSizeTooLarge"),
                                            ("error", "Function.ResponseSizeTooLarge"), ("success", None)]
    assert proxied_report == direct_report


# ---- d: a failing after-restore hook behind the proxy -------------------------------------------------

def test_failing_after_restore_hook_becomes_restore_error_naming_process_and_hook(function, tmp_path):
    hooks_log = tmp_path / "hooks.log"
    root = runtime_client_task_root(tmp_path / "task",
                                    f"--log {hooks_log} --hooks 2 --fail h1 --fail-phase after-restore --lifetime 120")
    function.start(root, proxy_env(SNAPBUS_EXPECT_SUBSCRIBERS=1), emulator_args=["--exit-on-failure"])
    assert function.wait_exit() == 4, function.output()

    report = function.report()
    assert report["restore"]["status"] == "error", report
    assert report["restore"]["errorType"] == "Runtime.AfterRestoreError", report
    assert report["invocations"] == []
    subscriber_pid = read_records(hooks_log)[0]["pid"]
    # The emulator's log line for the restore/error it received: its message names process and hook.
    received = [line for line in function.stdout().splitlines() if line.startswith("Error: ")]
    assert len(received) == 1, function.output()
    assert f"pid {subscriber_pid}" in received[0] and "after-restore hook 'h1' failed" in received[0], received
    # It came from the proxy (the client knows nothing of other processes).
    assert any(line.startswith("[snapbus] proxy: restore/error: Runtime.AfterRestoreError")
               for line in function.adapter_lines()), function.output()
