"""How the adapter learns that the app listens, through `snapbus emulate --snapstart` and the layer's
/opt/bootstrap: by default every process of the app carries the listen notice library, so the
adapter hears uvicorn's listen() and checks readiness then; with SNAPBUS_LISTEN_NOTICE=0 nothing is
preloaded and the adapter finds the app by polling, as before."""
import re

from adapter_web_harness import burst_until_every_worker_answered


def ready_line(function) -> str:
    lines = [line for line in function.output().splitlines() if "app ready on port" in line]
    assert len(lines) == 1, function.output()
    return lines[0]


def test_the_app_announces_its_listen_to_the_adapter(function, task_root):
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2})
    burst_until_every_worker_answered(function, 2)
    function.wait_restored()
    line = ready_line(function)
    announced = re.search(r"pid (\d+) announced its listen\(\) on port (\d+)", line)
    assert announced, line
    assert int(announced.group(2)) == function.app_port, line
    assert "listen notices off" not in function.output()
    assert function.stop() == 0, function.output()


def test_without_the_library_the_adapter_polls(function, task_root):
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2, "SNAPBUS_LISTEN_NOTICE": "0"})
    burst_until_every_worker_answered(function, 2)
    function.wait_restored()
    line = ready_line(function)
    assert f"app ready on port {function.app_port} after" in line and "announced" not in line, line
    assert function.stop() == 0, function.output()
