"""How the adapter learns that the app listens, through `snapbus emulate --snapstart` and the layer's
/opt/bootstrap: by default every process of the app carries the listen notice library, so the
adapter hears uvicorn's listen() and checks readiness then; with SNAPBUS_LISTEN_NOTICE=0 nothing is
preloaded and the adapter finds the app by polling, as before; and a server exec'd without the
library is found by polling at LWA's pace, since the adapter heard the exec."""
import re

from adapter_web_harness import burst_until_every_worker_answered, make_app_task_root


def ready_line(function) -> str:
    lines = [line for line in function.output().splitlines() if "app ready on port" in line]
    assert len(lines) == 1, function.output()
    return lines[0]


def test_the_app_announces_its_listen_to_the_adapter(function, task_root):
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2})
    burst_until_every_worker_answered(function, 2)
    function.wait_restored()
    line = ready_line(function)
    assert ": GET / answered 200 (pid" in line, line
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


def test_a_server_started_without_the_library_is_found_by_polling(function, tmp_path):
    """run.sh says hello, then execs `env -u LD_PRELOAD`, which execs uvicorn without the library:
    the adapter heard the exec but no hello after it, so it keeps LWA's pace, and says so."""
    root = make_app_task_root(tmp_path)
    run = root / "run.sh"
    run.write_text(run.read_text().replace("exec ", "exec env -u LD_PRELOAD ", 1))
    function.start(root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2})
    burst_until_every_worker_answered(function, 2)
    function.wait_restored()
    line = ready_line(function)
    assert f"app ready on port {function.app_port} after" in line, line
    assert "(found by polling: no process of the app announced its listen())" in line, line
    assert function.stop() == 0, function.output()
