"""The adapter's SnapStart bracket with four uvicorn workers, through `snapbus emulate --snapstart`:
every worker's after-restore hooks have run before the first request reaches any of them, whether
the adapter counts the workers (SNAPBUS_EXPECT_SUBSCRIBERS) or waits for their number to settle,
and even when one worker subscribes late. The example app (examples/fastapi) shows the same with
its own run.sh."""
import subprocess
import time

from adapter_web_harness import EXAMPLE_FASTAPI, assert_hooks_ran_before_requests, burst_until_every_worker_answered
from conftest import wait_until

WORKERS = 4


def test_every_worker_restored_before_its_first_request_with_an_expected_count(function, task_root):
    # 10 s to shut down: the app's share (15%, as Lambda's 300 ms of 2 s) lets workers exit by themselves.
    function.start(task_root, {"WORKERS": WORKERS, "SNAPBUS_EXPECT_SUBSCRIBERS": WORKERS,
                               "AWS_LWA_READINESS_CHECK_PATH": "/healthz"}, shutdown_timeout=10)
    answers = burst_until_every_worker_answered(function, WORKERS)
    function.wait_restored()
    assert_hooks_ran_before_requests(function, answers, WORKERS)
    assert function.stop() == 0, function.output()
    # Lambda's shutdown order: SIGTERM to the app first, SHUTDOWN to the adapter after it. Each
    # worker ran its shutdown hook once: on its way out, or at shutting-down if it was still there
    # (uvicorn 0.17 stops its workers one after the other).
    workers = function.worker_pids()
    shutdowns = function.records("shutdown")
    assert len(workers) == WORKERS
    assert sorted(r["pid"] for r in shutdowns) == sorted(workers), function.output()
    assert any(r["phase"] == "RUNNING" for r in shutdowns), f"no worker ran it at its exit: {shutdowns}"
    report = function.report()
    assert report["init"]["status"] == "success" and report["restore"]["status"] == "success", report
    assert all(i["status"] == "success" for i in report["invocations"]), report


def test_a_shutdown_while_the_adapter_waits_for_workers_is_heard(function, task_root):
    """Three workers expected, two come: the adapter waits for the third (up to Lambda's two-minute
    SnapStart Init), and the function is stopped meanwhile. The wait must not keep the adapter from
    hearing SHUTDOWN: it stops waiting, publishes shutting-down and exits in order, not killed at the
    end of its share."""
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 3,
                               "AWS_LWA_READINESS_CHECK_PATH": "/healthz"}, shutdown_timeout=10)
    wait_until(lambda: any("waiting for 3 subscribers" in line for line in function.adapter_lines()), 30,
               "the adapter to wait for the workers")
    wait_until(lambda: len(function.worker_pids()) == 2, 30, "both workers to subscribe")
    started = time.monotonic()
    assert function.stop() == 0, function.output()
    lines = function.adapter_lines()
    assert any(line.startswith("[snapbus] SHUTDOWN (") for line in lines), function.output()
    assert "[snapbus] exiting (0): stopped" in lines, function.output()
    assert not any("init/error" in line for line in lines), function.output()
    stopped = [line for line in lines if "before-snapshot stopped by the shutdown" in line]
    # The workers may have left already: Lambda stops the app before the adapter hears SHUTDOWN.
    assert stopped and "of 3 expected subscribers joined within" in stopped[0], function.output()
    assert "when it was stopped" in stopped[0] and "PYTHONPATH" not in stopped[0], function.output()
    assert function.status()["state"]["phase"] == "shutting-down"
    # Well within the 10 s share the adapter would otherwise have waited out before a SIGKILL.
    assert time.monotonic() - started < 8, function.output()


def test_a_late_worker_is_waited_for_with_an_expected_count(function, task_root):
    # The late worker subscribes 1.5 s after the others, longer than the default settle time:
    # only the expected count keeps the adapter waiting for it.
    function.start(task_root, {"WORKERS": WORKERS, "SNAPBUS_EXPECT_SUBSCRIBERS": WORKERS, "APP_LATE_S": 1.5,
                               "AWS_LWA_READINESS_CHECK_PATH": "/healthz"})
    answers = burst_until_every_worker_answered(function, WORKERS)
    function.wait_restored()
    late = [r["pid"] for r in function.records("role") if r["role"] == "late"]
    assert len(late) == 1
    assert_hooks_ran_before_requests(function, answers, WORKERS)


def test_a_late_worker_is_waited_for_through_the_settle_time(function, task_root):
    # No expected count: the adapter waits until the number of subscribers has not changed for
    # the settle time, longer here than the late worker's delay.
    function.start(task_root, {"WORKERS": WORKERS, "APP_LATE_S": 1.0, "SNAPBUS_SUBSCRIBER_SETTLE_MS": 2500,
                               "AWS_LWA_READINESS_CHECK_PATH": "/healthz"})
    answers = burst_until_every_worker_answered(function, WORKERS)
    function.wait_restored()
    assert len([r for r in function.records("role") if r["role"] == "late"]) == 1
    assert_hooks_ran_before_requests(function, answers, WORKERS)


def test_the_example_app_restores_every_worker(function):
    """examples/fastapi with its own run.sh, four workers: every worker handled the restore without
    a failure, and every answer shows a pool opened after the restore. A segment an earlier run left
    at the path (generation 1 here) is replaced at Init, as Lambda's empty /tmp would have it: the
    restore is generation 1, not 2."""
    earlier = subprocess.run([str(function.cli), "publish", "restore", "--segment", str(function.segment)],
                             capture_output=True, text=True, timeout=30)
    assert earlier.returncode == 0, earlier.stdout + earlier.stderr
    function.start(EXAMPLE_FASTAPI, {"WORKERS": WORKERS, "SNAPBUS_EXPECT_SUBSCRIBERS": WORKERS})
    with function.client(timeout=60) as client:
        answers = [client.get("/", headers={"connection": "close"}) for _ in range(8)]
    function.wait_restored()
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["generation"] == 1 and body["phase"] == "RUNNING", body
        assert body["pool"]["open"] and body["pool"]["opened_at_generation"] == 1, body

    status = function.status()
    assert status["state"]["generation"] == 1 and status["state"]["phase"] == "running", status["state"]
    workers = [slot for slot in status["subscribers"] if slot["alive"]]
    assert len(workers) == WORKERS, status["subscribers"]
    for slot in workers:
        assert slot["handled_generation"] == 1 and slot["outcome"] == "ok", slot
    assert any("replacing the segment an earlier run left there" in line for line in function.adapter_lines()), \
        function.output()
    assert function.stop() == 0, function.output()
    assert function.report()["restore"]["status"] == "success"

