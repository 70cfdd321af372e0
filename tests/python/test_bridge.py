"""The snapshot_restore_py bridge, with snapbus imported and in zero-code mode."""
import os
import pathlib
import subprocess
import textwrap

import pytest

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


@pytest.mark.parametrize("layout", ["startup directory first", "the layer's python/ first",
                                    "both copies before the user's"])
def test_zero_code_mode_with_a_script_that_never_imports_snapbus(bus, processes, tmp_path, layout):
    log = tmp_path / "hooks.jsonl"
    marker = tmp_path / "existing-sitecustomize-ran"
    # The user's path holds another sitecustomize. Ahead of it: the startup directory (`python3 -m
    # snapbus startup-dir`), or the layer's python/ with its copy of the startup sitecustomize (what
    # /opt/bootstrap, or a run.sh that sets PYTHONPATH=/opt/python:..., puts first), or both.
    path = {"startup directory first": [STARTUP_DIR, FAKE_RUNTIME, HERE / "existing_sitecustomize", PACKAGE_PARENT],
            "the layer's python/ first": [PACKAGE_PARENT, FAKE_RUNTIME, HERE / "existing_sitecustomize"],
            "both copies before the user's": [STARTUP_DIR, PACKAGE_PARENT, FAKE_RUNTIME,
                                              HERE / "existing_sitecustomize"]}[layout]
    env = processes.env(bus.segment, SNAPBUS_ZERO_CODE="1", TEST_EXISTING_SITECUSTOMIZE_MARKER=marker,
                        PYTHONPATH=os.pathsep.join(map(str, path)))
    proc = processes.python("bridge_user.py", log, env=env)
    pid, = read_ready(proc, 1)
    assert read_line(proc).strip() == "SNAPBUS_LOADED True"
    assert marker.read_text().split() == [str(pid)], "the shadowed sitecustomize did not run exactly once"
    check_documented_order(bus, log)


@pytest.mark.parametrize("zero_code", [None, "0", "off"])
@pytest.mark.parametrize("first", [STARTUP_DIR, PACKAGE_PARENT])
def test_startup_sitecustomize_is_inert_without_the_variable(tmp_path, first, zero_code):
    marker = tmp_path / "existing-sitecustomize-ran"
    path = [first, HERE / "existing_sitecustomize", PACKAGE_PARENT]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)), TEST_EXISTING_SITECUSTOMIZE_MARKER=str(marker))
    env.pop("SNAPBUS_ZERO_CODE", None)
    if zero_code is not None:
        env["SNAPBUS_ZERO_CODE"] = zero_code
    result = subprocess.run([PYTHON, "-c", "import os, sys; print(os.getpid(), 'snapbus' in sys.modules)"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    pid, imported = result.stdout.split()
    assert imported == "False", "snapbus was imported with zero-code mode off"
    assert marker.read_text().split() == [pid], "the shadowed sitecustomize did not run exactly once"


def inline_script(body: str) -> list[str]:
    """A script that registers through the test double of snapshot_restore_py and prints a line per
    hook call; `body` is its code after the shared imports."""
    return [PYTHON, "-c", "import os, sys\n" + textwrap.dedent(body)]


def bridge_env(processes, bus, *, zero_code: bool, **extra):
    path = ([STARTUP_DIR] if zero_code else []) + [FAKE_RUNTIME, PACKAGE_PARENT]
    env = processes.env(bus.segment, PYTHONPATH=os.pathsep.join(map(str, path)), **extra)
    if zero_code:
        env["SNAPBUS_ZERO_CODE"] = "1"
    else:
        env.pop("SNAPBUS_ZERO_CODE", None)
    return env


def test_a_find_spec_probe_before_the_import_leaves_zero_code_mode_working(bus, processes):
    # The usual test for an optional dependency looks the module up without importing it.
    proc = processes.start(inline_script("""
        import importlib.util
        assert importlib.util.find_spec("snapshot_restore_py") is not None
        from snapshot_restore_py import register_after_restore
        register_after_restore(lambda: print("HOOK after-restore", flush=True))
        print("READY", os.getpid(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=True))
    read_ready(proc, 1)
    bus.publish_ok("restore")
    assert read_line(proc).strip() == "HOOK after-restore", processes.stderr_of(proc)


def test_importing_snapbus_is_enough_for_snapshot_restore_py_hooks(bus, processes):
    # No start() and no middleware: registering through Lambda's module starts the watcher, as
    # snapbus's own decorators do.
    proc = processes.start(inline_script("""
        import snapbus
        from snapshot_restore_py import register_after_restore
        register_after_restore(lambda: print("HOOK after-restore", flush=True))
        print("READY", os.getpid(), snapbus.is_running(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=False))
    assert read_line(proc).split()[2] == "True", processes.stderr_of(proc)
    bus.publish_ok("restore")
    assert read_line(proc).strip() == "HOOK after-restore", processes.stderr_of(proc)


def test_a_hook_raising_system_exit_fails_its_phase_and_the_watcher_lives_on(bus, processes):
    proc = processes.start(inline_script("""
        import snapbus
        from snapshot_restore_py import register_after_restore, register_before_snapshot

        def leave():
            raise SystemExit(3)

        register_before_snapshot(leave)
        register_after_restore(lambda: print("HOOK after-restore", flush=True))
        print("READY", os.getpid(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=False))
    read_ready(proc, 1)
    failed = bus.publish("before-snapshot")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "SystemExit" in failed.stdout + failed.stderr
    assert "leave" in failed.stdout + failed.stderr
    bus.publish_ok("restore")  # the same watcher handles the next phase
    assert read_line(proc).strip() == "HOOK after-restore", processes.stderr_of(proc)


def test_a_registration_that_cannot_be_called_fails_as_one_hook_and_the_others_run(bus, processes):
    # register_after_restore(pool.reset()) registers reset's result: that entry fails, named and
    # counted, as under Lambda's runner; the module's other hooks still run.
    proc = processes.start(inline_script("""
        import snapbus
        from snapshot_restore_py import register_after_restore
        register_after_restore(lambda: print("HOOK first", flush=True))
        register_after_restore(None)
        register_after_restore(lambda: print("HOOK last", flush=True))
        print("READY", os.getpid(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=False))
    read_ready(proc, 1)
    failed = bus.publish("restore")
    report = failed.stdout + failed.stderr
    assert failed.returncode == 1, report
    assert "1 of 3 hooks failed" in report and "'snapshot_restore_py:None' failed: TypeError" in report, report
    assert [read_line(proc), read_line(proc)] == ["HOOK first", "HOOK last"], processes.stderr_of(proc)


def test_a_group_that_cannot_be_listed_is_a_failure_the_publisher_sees(bus, processes):
    # A stub of the module without get_after_restore: listing fails with no hook run, and the ack
    # (which the bus refuses with more failures than hooks run) must still say so.
    proc = processes.start(inline_script("""
        import snapbus, snapshot_restore_py
        snapbus.start()
        del snapshot_restore_py.get_after_restore
        print("READY", os.getpid(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=False))
    read_ready(proc, 1)
    failed = bus.publish("restore", timeout_ms=20000)
    report = failed.stdout + failed.stderr
    assert failed.returncode == 1, report
    assert "1 of 1 hooks failed" in report and "could not be listed: AttributeError" in report, report
    assert "cannot acknowledge" not in processes.stderr_of(proc)


def test_hooks_registered_by_a_hook_run_where_lambdas_runner_reaches_them(bus, processes):
    # As a driver imported lazily inside a hook registers its own. awslambdaric's runner
    # (lambda_runtime_hooks_runner.py) pops before-snapshot hooks off the end of the live list, so
    # one registered by a hook runs next; it walks the after-restore list from the start, so one
    # registered there runs after the others.
    proc = processes.start(inline_script("""
        import snapbus
        from snapshot_restore_py import register_after_restore, register_before_snapshot

        def say(name):
            print("HOOK", name, flush=True)

        def b2():
            say("b2")
            register_before_snapshot(say, "b-late")

        def a1():
            say("a1")
            register_after_restore(say, "a-late")

        register_before_snapshot(say, "b1")
        register_before_snapshot(b2)
        register_before_snapshot(say, "b3")
        register_after_restore(a1)
        register_after_restore(say, "a2")
        print("READY", os.getpid(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=False))
    read_ready(proc, 1)
    bus.publish_ok("before-snapshot")
    assert [read_line(proc) for _ in range(4)] == ["HOOK b3", "HOOK b2", "HOOK b-late", "HOOK b1"]
    bus.publish_ok("restore")
    assert [read_line(proc) for _ in range(3)] == ["HOOK a1", "HOOK a2", "HOOK a-late"]


def test_a_snapshot_waits_for_the_import_that_registered_the_first_hook(bus, processes, tmp_path):
    # A worker subscribes at its first registration, here half-way through importing the app,
    # which then loads a model. Lambda's runtime client runs before-snapshot hooks once the
    # handler's import has ended: so must the worker, hooks registered after the model included.
    (tmp_path / "app_with_model.py").write_text(textwrap.dedent("""
        import time
        from snapshot_restore_py import register_before_snapshot

        register_before_snapshot(print, "HOOK close-db", flush=True)
        print("REGISTERED", flush=True)
        time.sleep(1.5)  # the model loads
        register_before_snapshot(print, "HOOK release-model", flush=True)
        print("IMPORTED", flush=True)
    """))
    env = bridge_env(processes, bus, zero_code=False)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    proc = processes.start(inline_script("""
        import snapbus
        import app_with_model
        import time; time.sleep(60)
    """), env)
    assert read_line(proc) == "REGISTERED"
    bus.publish_ok("before-snapshot")
    assert [read_line(proc) for _ in range(3)] == ["IMPORTED", "HOOK release-model", "HOOK close-db"]
    assert "before-snapshot waits until the import of app_with_model has finished" in processes.stderr_of(proc)


def test_an_async_hook_of_snapshot_restore_py_does_nothing_and_fails_nothing_as_under_lambda(bus, processes):
    # Lambda's runner calls it and drops the coroutine (a RuntimeWarning): a function that restores
    # there must restore here too. snapbus says what happened.
    proc = processes.start(inline_script("""
        import snapbus
        from snapshot_restore_py import register_after_restore

        async def reconnect_async():
            print("HOOK async body", flush=True)

        register_after_restore(reconnect_async)
        register_after_restore(print, "HOOK plain", flush=True)
        print("READY", os.getpid(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=False))
    read_ready(proc, 1)
    bus.publish_ok("restore")
    assert read_line(proc) == "HOOK plain"
    assert "'snapshot_restore_py:__main__.reconnect_async' did nothing: it returned coroutine" in (
        processes.stderr_of(proc))


def test_a_malformed_snapbus_variable_never_breaks_a_registration(bus, processes):
    proc = processes.start(inline_script("""
        from snapshot_restore_py import register_after_restore

        @register_after_restore
        def reconnect():
            pass

        print("REGISTERED", reconnect.__name__, flush=True)
    """), bridge_env(processes, bus, zero_code=True, SNAPBUS_WAIT_FOR_ACK="enabled"))
    assert read_line(proc).strip() == "REGISTERED reconnect"
    assert proc.wait(timeout=30) == 0
    stderr = processes.stderr_of(proc)
    assert "SNAPBUS_WAIT_FOR_ACK" in stderr and "no hook runs in this process" in stderr, stderr


def test_snapshot_restore_py_imported_before_snapbus_still_runs_its_hooks(bus, processes):
    # Registered before snapbus existed here, and through a name bound before snapbus could wrap
    # it: the process subscribes when snapbus is imported.
    proc = processes.start(inline_script("""
        from snapshot_restore_py import register_after_restore
        register_after_restore(lambda: print("HOOK early", flush=True))
        import snapbus
        register_after_restore(lambda: print("HOOK bound-before", flush=True))
        print("READY", os.getpid(), snapbus.is_running(), flush=True)
        import time; time.sleep(60)
    """), bridge_env(processes, bus, zero_code=False))
    assert read_line(proc).split()[2] == "True", processes.stderr_of(proc)
    bus.publish_ok("restore")
    assert [read_line(proc), read_line(proc)] == ["HOOK early", "HOOK bound-before"], processes.stderr_of(proc)


def test_a_child_forked_by_the_runtime_client_process_runs_its_hooks(bus, processes, tmp_path):
    # awslambdaric runs snapshot_restore_py's hooks in its own process only: a child it forks (the
    # handler's worker) gets them from snapbus.
    fake_client = tmp_path / "awslambdaric"
    fake_client.mkdir()
    (fake_client / "__init__.py").write_text("")
    (fake_client / "bootstrap.py").write_text("")
    env = bridge_env(processes, bus, zero_code=False)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    proc = processes.start(inline_script("""
        import awslambdaric.bootstrap, snapbus
        from snapshot_restore_py import register_after_restore
        register_after_restore(lambda: print("HOOK", os.getpid(), flush=True))
        child = os.fork()
        if child == 0:
            print("READY", os.getpid(), flush=True)
            import time; time.sleep(60)
            os._exit(0)
        import time; time.sleep(60)
    """), env)
    child_pid = read_ready(proc, 1)[0]
    bus.publish_ok("restore")
    # Only the child runs the hook: in the parent, the runtime client would.
    assert read_line(proc).split() == ["HOOK", str(child_pid)], processes.stderr_of(proc)
