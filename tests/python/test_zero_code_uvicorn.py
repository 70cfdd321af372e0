"""The issue's user story end to end: uvicorn with several workers serving an app that only uses
snapshot_restore_py, zero-code mode on, `snapbus publish` driving the phases: every worker's hooks
run exactly once per phase, and publish waits for all of them."""
import os

from conftest import FAKE_RUNTIME, PROGRAMS, PYTHON, free_port
from test_bridge import PACKAGE_PARENT, STARTUP_DIR
from test_example_fastapi import sample_workers

WORKERS = 2


def test_snapshot_restore_py_hooks_run_in_every_uvicorn_worker(bus, processes):
    port = free_port()
    path = [STARTUP_DIR, FAKE_RUNTIME, PROGRAMS, PACKAGE_PARENT]
    env = processes.env(bus.segment, SNAPBUS_ZERO_CODE="1", PYTHONPATH=os.pathsep.join(map(str, path)))
    server = processes.start([PYTHON, "-m", "uvicorn", "legacy_app:app", "--host", "127.0.0.1", "--port", str(port),
                              "--workers", str(WORKERS), "--log-level", "warning"], env)
    before = sample_workers(port, WORKERS)
    assert server.poll() is None, processes.stderr_of(server)

    bus.publish_ok("before-snapshot")
    bus.publish_ok("restore")

    after = sample_workers(port, WORKERS)
    assert set(after) == set(before)
    for pid, body in after.items():
        assert body["before_snapshot_calls"] == 1 and body["after_restore_calls"] == 1, body
        assert body["token"] != before[pid]["token"]
