"""The snapshot_restore_py bridge, with snapbus imported and in zero-code mode."""
import os
import pathlib
import subprocess

from conftest import FAKE_RUNTIME, HERE, PYTHON, read_line, read_ready, read_records

import snapbus

STARTUP_DIR = pathlib.Path(snapbus.__file__).resolve().parent / "_startup"
PACKAGE_PARENT = STARTUP_DIR.parent.parent


def calls(records, phase):
    return [(r["hook"], r["args"], r["kwargs"]) for r in records if r["phase"] == phase]


def check_documented_order(bus, log):
    bus.publish_ok("before-snapshot")
    # Last registered first, the late b3 included; arguments are passed through.
    assert calls(read_records(log), "before-snapshot") == [("b3", [], {}), ("b2", [42], {"colour": "red"}),
                                                          ("b1", [], {})]
    bus.publish_ok("restore")
    assert [c[0] for c in calls(read_records(log), "after-restore")] == ["a1", "a2", "a3"]


def test_bridge_runs_snapshot_restore_py_hooks_in_documented_order(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment, PYTHONPATH=os.pathsep.join([str(FAKE_RUNTIME), os.environ.get("PYTHONPATH", "")]))
    proc = processes.python("bridge_user.py", log, "--import-snapbus", env=env)
    read_ready(proc, 1)
    check_documented_order(bus, log)


def test_zero_code_mode_with_a_script_that_never_imports_snapbus(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    marker = tmp_path / "existing-sitecustomize-ran"
    # What the layer's wrapper does: the startup directory first, then the user's path, on which
    # another sitecustomize also lives.
    path = [STARTUP_DIR, FAKE_RUNTIME, HERE / "existing_sitecustomize", PACKAGE_PARENT]
    env = processes.env(bus.segment, SNAPBUS_ZERO_CODE="1", TEST_EXISTING_SITECUSTOMIZE_MARKER=marker,
                        PYTHONPATH=os.pathsep.join(map(str, path)))
    proc = processes.python("bridge_user.py", log, env=env)
    pid, = read_ready(proc, 1)
    assert read_line(proc).strip() == "SNAPBUS_LOADED True"
    assert marker.read_text() == str(pid), "the shadowed sitecustomize did not run"
    check_documented_order(bus, log)


def test_startup_dir_is_inert_without_the_variable(tmp_path):
    marker = tmp_path / "existing-sitecustomize-ran"
    path = [STARTUP_DIR, HERE / "existing_sitecustomize", PACKAGE_PARENT]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)), TEST_EXISTING_SITECUSTOMIZE_MARKER=str(marker))
    env.pop("SNAPBUS_ZERO_CODE", None)
    result = subprocess.run([PYTHON, "-c", "import sys; print('snapbus' in sys.modules and "
                             "sys.modules['snapbus'].is_running())"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert marker.exists()
