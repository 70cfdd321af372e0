"""gunicorn --preload: the master registers the hooks and attaches, then forks its workers. Each
forked worker must claim its own slot (os.register_at_fork) and run its own hooks."""
import os

from conftest import PROGRAMS, PYTHON, free_port
from test_example_fastapi import sample_workers

WORKERS = 2


def test_forked_gunicorn_workers_each_run_their_hooks(bus, processes):
    port = free_port()
    env = processes.env(bus.segment, PYTHONPATH=os.pathsep.join([str(PROGRAMS), os.environ.get("PYTHONPATH", "")]))
    server = processes.start([PYTHON, "-m", "gunicorn", "--preload", "--workers", str(WORKERS), "--bind",
                              f"127.0.0.1:{port}", "--log-level", "warning", "web_app:make_wsgi_app()"], env)
    before = sample_workers(port, WORKERS, path="/token")
    assert server.poll() is None, processes.stderr_of(server)
    assert server.pid not in before, "the master itself answered"

    # publish waits for the master and both workers, each with its own slot.
    bus.publish_ok("restore")

    after = sample_workers(port, WORKERS, path="/token")
    assert set(after) == set(before)
    for pid, body in after.items():
        assert body["hook_generation"] == 1, body
        # Run by the worker's own watcher before publish returned, not by a request's guard.
        assert body["hook_thread"] == "snapbus-watcher", body
        assert body["token"] != before[pid]["token"]
    assert len({body["token"] for body in after.values()}) == WORKERS
