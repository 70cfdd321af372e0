"""Proxy mode with a runtime client that is not ours: AWS's Node.js Runtime Interface Client
(aws-lambda-ric 4.0.2 from npm, in tests/node-ric), the client of Lambda's managed Node.js runtimes.
It never calls restore/next, so the proxy must run the SnapStart bracket itself before the client's
first invocation/next gets through. The function (programs/node_function/index.mjs) runs under
`snapbus emulate --snapstart` with the layer of the build tree, as in test_adapter_proxy.py: the exec
wrapper points the client at the proxy by rewriting AWS_LAMBDA_RUNTIME_API.

setup.sh installs the client (its install scripts compile the native addon); without it these tests
skip, unless SNAPBUS_REQUIRE_NODE=1 (CI), where that is a failure.
"""
import base64
import concurrent.futures
import json
import pathlib
import shutil

import pytest

from adapter_web_harness import REPO, node_part_missing, require_node
from conftest import PROGRAMS, read_records
from proxy_harness import (PROXY_RESTORE, invoke, proxy_env, ran_the_bracket, report_outcomes,
                           run_direct_and_proxied, task_root)

NODE_RIC = REPO / "tests" / "node-ric" / "node_modules" / "aws-lambda-ric"
LONG_MESSAGE = "a long error: " + "x" * 100_000
HANDLERS = PROGRAMS / "node_function" / "index.mjs"


@pytest.fixture(scope="module")
def node_ric() -> pathlib.Path:
    require_node()
    missing = [str(path) for path in (NODE_RIC / "index.mjs", NODE_RIC / "rapid-client.node") if not path.is_file()]
    if missing:
        node_part_missing(f"AWS's Node.js runtime client is not installed (missing: {', '.join(missing)}); setup.sh "
                          "installs it from npm (npm ci --prefix tests/node-ric)")
    return NODE_RIC


def node_task_root(directory: pathlib.Path, handler: str, node_ric: pathlib.Path, subscriber_args: str = "") -> pathlib.Path:
    """run.sh: a Python subscriber in the background (with subscriber_args), then the Node.js client
    with `index.<handler>`, which it finds through _HANDLER and LAMBDA_TASK_ROOT."""
    subscriber = f'"$PYTHON" {PROGRAMS / "subscriber.py"} {subscriber_args} &\n' if subscriber_args else ""
    root = task_root(directory, f'{subscriber}_HANDLER=index.{handler} exec node {node_ric / "index.mjs"}\n')
    shutil.copy(HANDLERS, root / "index.mjs")
    return root


def test_node_client_gets_the_bracket_before_its_first_event(function, node_ric, tmp_path):
    hooks_log = tmp_path / "hooks.log"
    root = node_task_root(tmp_path / "task", "respond", node_ric,
                          f"--log {hooks_log} --hooks 2 --hook-sleep 0.2 --lifetime 120 --exit-on-sigterm")
    env = proxy_env(SNAPBUS_EXPECT_SUBSCRIBERS=1)
    function.start(root, env, shutdown_timeout=10)
    # Sent during Init: the client's first invocation/next gets it, once the bracket is over.
    seen = invoke(function, {"kind": "seen-hooks", "log": str(hooks_log)}, timeout=60)
    function.wait_restored()
    assert ran_the_bracket(function, PROXY_RESTORE), function.output()
    assert seen.status == 200, (seen.comparable(), function.output())

    answer = json.loads(seen.body)
    assert answer["api"] == f"127.0.0.1:{env['SNAPBUS_PROXY_PORT']}", "the client was not pointed at the proxy"
    # What the handler found in the log when its first event came: both hooks, at generation 1.
    assert sorted((r["hook"], r["generation"]) for r in answer["afterRestore"]) == [("h1", 1), ("h2", 1)], \
        "the Node.js client got its first event before the subscriber's after-restore hooks had ended"
    assert function.stop() == 0, function.output()
    report = function.report()
    assert report["restore"]["status"] == "success" and report["invocations"][0]["status"] == "success", report
    shutdown = [r["hook"] for r in read_records(hooks_log) if r["phase"] == "shutdown"]
    assert sorted(shutdown) == ["h1", "h2"], function.output()


def calls_for(handler: str, acks: pathlib.Path) -> list[dict]:
    if handler == "respond":
        return [{"kind": "echo", "text": "h\u00e9llo", "nested": {"list": [1, 2.5, None, True]}},
                {"kind": "error", "errorType": "Function.CustomError", "message": "it broke"},
                # Over Lambda's 6 MB: the Runtime API refuses it, and the client reports that.
                {"kind": "large", "size": 7_000_000},
                {"kind": "echo", "text": "still alive"}]
    return [{"kind": "stream", "chunks": ["first ", "second ", "third"], "contentType": "text/csv", "acks": str(acks)},
            {"kind": "stream-error", "chunks": ["partial ", "answer"], "errorType": "Function.MidStream"},
            {"kind": "http-stream", "statusCode": 201, "headers": {"x-app": "node"}, "chunks": ["<p>", "streamed</p>"]},
            # The client sends the whole error, base64, as one trailer: here some 130 KB, more than
            # Beast's fields hold (65,533 bytes).
            {"kind": "stream-error", "chunks": ["long "], "errorType": "Function.LongError", "message": LONG_MESSAGE}]


def check_direct_answers(handler: str, calls: list[dict], answers: list) -> None:
    """What the client answered without the proxy is what the calls ask for, so that equal answers
    through the proxy are right answers."""
    if handler == "respond":
        echo, error, large, alive = answers
        assert echo.status == 200 and json.loads(echo.body) == calls[0], echo.comparable()
        assert error.header("X-Amz-Function-Error") == "Unhandled", error.comparable()
        assert json.loads(error.body)["errorType"] == "Function.CustomError", error.comparable()
        assert b"Function.ResponseSizeTooLarge" in large.body, large.comparable()
        assert json.loads(alive.body) == calls[-1], alive.comparable()
        return
    streamed, failed, http, long_failure = answers
    assert streamed.chunks == [b"first ", b"second ", b"third"], "a chunk was held back (no-ack) or merged"
    assert streamed.header("Content-Type") == "text/csv" and not streamed.trailers, streamed.comparable()
    assert failed.body.startswith(b"partial answer"), failed.comparable()
    assert ("Lambda-Runtime-Function-Error-Type", "Function.MidStream") in failed.trailers, failed.comparable()
    # The invoke API passes the Function URL prelude through; only a Function URL reads it.
    assert http.header("Content-Type") == "application/vnd.awslambda.http-integration-response", http.comparable()
    prelude, delimiter, body = http.body.partition(b"\0" * 8)
    assert delimiter and body == b"<p>streamed</p>", http.comparable()
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-app": "node"}}, prelude
    error_body = dict(long_failure.trailers).get("Lambda-Runtime-Function-Error-Body", "")
    assert json.loads(base64.b64decode(error_body))["errorMessage"] == LONG_MESSAGE, \
        f"the long error did not arrive whole ({len(error_body)} bytes of base64)"


@pytest.mark.parametrize("handler", ["respond", "stream"])
def test_node_client_answers_are_the_same_with_the_proxy_and_without(cli, opt_dir, processes, node_ric, tmp_path,
                                                                      handler):
    root = node_task_root(tmp_path / "task", handler, node_ric)
    runs = run_direct_and_proxied(cli, opt_dir, processes, tmp_path, root, lambda acks: calls_for(handler, acks))
    (direct, calls, direct_answers), (proxied, _, proxied_answers) = runs["direct"], runs["proxied"]
    assert not ran_the_bracket(direct) and ran_the_bracket(proxied, PROXY_RESTORE), proxied.output()
    check_direct_answers(handler, calls, direct_answers)

    for call, without, through in zip(calls, direct_answers, proxied_answers):
        assert through.comparable() == without.comparable(), f"{call['kind']} differs through the proxy"
    assert report_outcomes(proxied.report()) == report_outcomes(direct.report())


def test_a_failing_after_restore_hook_reaches_lambda_as_restore_error_and_no_event_the_handler(function, node_ric,
                                                                                              tmp_path):
    """The proxy posts restore/error itself and fails the client's pending invocation/next: Lambda
    gets Runtime.AfterRestoreError naming the process and the hook, and the event that waited
    through Init never reaches the handler."""
    hooks_log = tmp_path / "hooks.log"
    marker = tmp_path / "handled"
    # Hooks of 0.3 s: the event below is queued while the bracket still runs.
    root = node_task_root(tmp_path / "task", "respond", node_ric,
                          f"--log {hooks_log} --hooks 2 --hook-sleep 0.3 --fail h2 --fail-phase after-restore "
                          "--lifetime 120")
    function.start(root, proxy_env(SNAPBUS_EXPECT_SUBSCRIBERS=1), emulator_args=["--exit-on-failure"])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(invoke, function, {"kind": "mark", "path": str(marker)}, 60)
        assert function.wait_exit() == 4, function.output()
        answer = pending.result(timeout=60)
    assert not marker.exists(), "the event reached the handler after a failed restore"
    assert b"Runtime.AfterRestoreError" in answer.body, (answer.comparable(), function.output())
    report = function.report()
    assert report["restore"]["status"] == "error", report
    assert report["restore"]["errorType"] == "Runtime.AfterRestoreError", report
    # The event that waited for the restore never started: the report keeps it, with its caller's error.
    assert [(i["started"], i["errorType"]) for i in report["invocations"]] == [(False, "SnapStartException")], report
    subscriber_pid = read_records(hooks_log)[0]["pid"]
    received = [line for line in function.stdout().splitlines() if line.startswith("Error: ")]
    assert len(received) == 1, function.output()
    assert f"pid {subscriber_pid}" in received[0] and "after-restore hook 'h2' failed" in received[0], received
