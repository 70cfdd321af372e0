"""Proxy mode end to end (issue 11): the adapter as a Runtime API proxy in front of a runtime
client snapbus does not replace, under `snapbus emulate --snapstart` with the layer of the build
tree (adapter_web_harness.Function), as Lambda runs it:

    /opt/extensions/snapbus   SNAPBUS_MODE=proxy: the proxy on 127.0.0.1:SNAPBUS_PROXY_PORT
    /opt/bootstrap            execs $LAMBDA_TASK_ROOT/run.sh with AWS_LAMBDA_RUNTIME_API pointed
                              at the proxy

The clients: the web-mode adapter as a plain LWA-style client (SNAPBUS_BRACKET=off, found through
AWS_LWA_LAMBDA_RUNTIME_API_PROXY), and programs/runtime_client.py, a custom runtime that never
calls restore/next (in one case it does); test_adapter_proxy_node_ric.py runs AWS's Node.js client.
Answers on the RIE path are read off the socket (proxy_harness.invoke), so their chunks and trailers
are seen as sent.
"""
import json
import os
import pathlib
import select
import socket
import subprocess
import time

import pytest

from adapter_web_harness import (EXAMPLE_FASTAPI, assert_hooks_ran_before_requests,
                                 burst_until_every_worker_answered, read_acked_stream)
from conftest import PROGRAMS, read_records, wait_until
from proxy_harness import (CLIENT_RESTORE, PROXY_RESTORE, invoke, proxy_env, ran_the_bracket, report_outcomes,
                           run_direct_and_proxied, task_root)

WORKERS = 4


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
    lines = read_acked_stream(function, tmp_path / "acks", 4)
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


def test_answers_and_report_are_the_same_with_the_proxy_and_without(cli, opt_dir, processes, tmp_path):
    root = runtime_client_task_root(tmp_path / "task")
    runs = run_direct_and_proxied(cli, opt_dir, processes, tmp_path, root, lambda acks: CALLS)
    (direct, _, direct_answers), (proxied, _, proxied_answers) = runs["direct"], runs["proxied"]
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


def test_a_shutdown_while_the_proxy_waits_for_subscribers_is_heard(function, tmp_path):
    """Two subscribers expected, one comes: the proxy's bracket (run for a client that never calls
    restore/next) waits for the other, and the function is stopped meanwhile. SHUTDOWN stops the
    wait; the proxy publishes shutting-down, exits in order, and sends no init/error."""
    hooks_log = tmp_path / "hooks.log"
    root = runtime_client_task_root(tmp_path / "task", f"--log {hooks_log} --hooks 1 --lifetime 120")
    function.start(root, proxy_env(SNAPBUS_EXPECT_SUBSCRIBERS=2), shutdown_timeout=10)
    wait_until(lambda: any("waiting for 2 subscribers" in line for line in function.adapter_lines()), 30,
               "the proxy's bracket to wait for the subscribers")
    started = time.monotonic()
    assert function.stop() == 0, function.output()
    lines = function.adapter_lines()
    assert any(line.startswith("[snapbus] SHUTDOWN (") for line in lines), function.output()
    assert any(line.startswith("[snapbus] proxy: before-snapshot stopped by the shutdown: ") for line in lines), \
        function.output()
    assert not any("init/error" in line for line in lines), function.output()
    assert "[snapbus] exiting (0): stopped" in lines, function.output()
    assert function.status()["state"]["phase"] == "shutting-down"
    assert time.monotonic() - started < 8, function.output()


# ---- e: run by hand, its output piped to a reader that quits ------------------------------------------

def test_proxy_run_by_hand_shuts_down_in_order_when_the_reader_of_its_output_goes_away(cli, tmp_path):
    """`snapbus proxy 2>&1 | head`: once head has quit, the next log line meets a closed pipe, and the
    proxy shuts down in order (exit 0, SHUTDOWN's path) instead of dying of SIGPIPE."""
    def free_port():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    proxy_port, gone_upstream = free_port(), free_port()
    environment = {**os.environ, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{gone_upstream}",
                   "SNAPBUS_PROXY_PORT": str(proxy_port), "SNAPBUS_SEGMENT": str(tmp_path / "snapbus.seg")}
    proxy = subprocess.Popen([str(cli), "proxy"], env=environment, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen = b""
        deadline = time.monotonic() + 20
        while b"proxy on 127.0.0.1" not in seen and time.monotonic() < deadline:
            if select.select([proxy.stderr], [], [], 0.5)[0]:
                seen += os.read(proxy.stderr.fileno(), 4096)
        assert b"proxy on 127.0.0.1" in seen, seen
        proxy.stderr.close()  # the reader goes away
        # A call the proxy logs: its Runtime API is not there.
        with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as client:
            client.sendall(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}")
            assert client.recv(4096).startswith(b"HTTP/1.1 502")
        assert proxy.wait(timeout=20) == 0
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait()
