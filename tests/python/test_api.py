"""The public API: registration forms, errors, state, waits, stop, the module's CLI."""
import json
import os
import pathlib
import pickle
import platform
import shutil
import subprocess
import sys
import textwrap

import pytest

import snapbus
from snapbus import _errors
from conftest import PYTHON, read_line, wait_until


def run_python(script: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-c", textwrap.dedent(script)], env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=30)


def run_isolated(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter in isolated mode (no PYTHON* variables, no user site), with the
    package under test first on its path."""
    return subprocess.run([PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); " + code,
                           os.path.dirname(os.path.dirname(snapbus.__file__))],
                          capture_output=True, text=True, timeout=30)


def test_every_status_has_its_own_exception_with_the_matching_builtin():
    expected = {1: FileNotFoundError, 2: PermissionError, 3: ValueError, 4: ValueError, 5: BlockingIOError,
                6: OSError, 7: TimeoutError, 8: ValueError, 9: OSError, 10: InterruptedError, 11: RuntimeError,
                99: RuntimeError}
    for status, builtin in expected.items():
        error = _errors.error_for_status(status, "message", errno=5)
        assert isinstance(error, snapbus.SnapbusError) and isinstance(error, builtin), status
        assert error.status == status and str(error) == "message" and error.errno == 5
    assert isinstance(_errors.error_for_status(1234, "x"), snapbus.InternalError)
    # multiprocessing sends exceptions back pickled: the class, message and errno survive.
    copy = pickle.loads(pickle.dumps(_errors.error_for_status(2, "no entry for you", errno=13)))
    assert type(copy) is snapbus.PermissionDenied and str(copy) == "no entry for you" and copy.errno == 13


def test_registration_forms_and_coroutines_are_refused():
    script = """
        import snapbus
        def plain(): pass
        assert snapbus.after_restore(plain) is plain
        assert snapbus.after_restore(plain, name="named") is plain
        @snapbus.before_snapshot
        def bare(): pass
        @snapbus.on_shutdown(name="with-options")
        def configured(): pass
        assert bare.__name__ == "bare" and configured.__name__ == "configured"
        async def coroutine(): pass
        try:
            snapbus.after_restore(coroutine)
        except TypeError as error:
            print("refused:", error)
        try:
            snapbus.after_restore(42)
        except TypeError as error:
            print("refused:", error)
    """
    result = run_python(script, SNAPBUS_AUTOSTART="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("refused:") == 2
    assert "coroutine function" in result.stdout


def test_order_sorts_hooks_and_must_be_an_int():
    script = """
        import snapbus
        from snapbus._client import CLIENT
        for name, order in [("late", 5), ("plain-1", 0), ("early", -5), ("plain-2", 0)]:
            snapbus.after_restore(lambda: None, name=name, order=order)
            snapbus.before_snapshot(lambda: None, name=name, order=order)
        print(CLIENT.after_restore.names_in_run_order())
        print(CLIENT.before_snapshot.names_in_run_order())
        for bad in (True, 1.5, "1"):
            try:
                snapbus.after_restore(lambda: None, order=bad)
            except TypeError as error:
                print("refused:", error)
    """
    result = run_python(script, SNAPBUS_AUTOSTART="0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['early', 'plain-1', 'plain-2', 'late']"
    assert lines[1] == "['late', 'plain-2', 'plain-1', 'early']"
    assert sum(line.startswith("refused: a snapbus hook's order must be an int") for line in lines) == 3


def test_a_group_that_cannot_list_its_hooks_is_one_failure_and_late_hooks_run_once():
    # The runner on its own (no bus): a group that breaks is reported once, not once per look for
    # late registrations; hooks a hook registers in a working group run in the same pass, once.
    script = """
        from snapbus._hooks import Hook, HookGroup, HookList
        ran = []
        late = []

        def broken():
            raise RuntimeError("cannot list")

        def register_late():
            ran.append("first")
            late.append(Hook("late", lambda: ran.append("late")))

        hooks = HookList("after-restore", last_first=False)
        hooks.add(HookGroup("broken", broken))
        hooks.add(HookGroup("live", lambda: [Hook("first", register_late)] + late))
        report = hooks.run()
        print(ran, report.run, report.failures)
    """
    result = run_python(script, SNAPBUS_AUTOSTART="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("['first', 'late'] 2 [\"after-restore hooks of 'broken' could not be "
                                     "listed: RuntimeError: cannot list\"]")


def test_a_hook_that_registers_another_every_time_is_cut_off_and_the_others_still_run():
    # Before a snapshot a hook's registrations run next (as Lambda's runner pops them), so an endless
    # one would never let the phase end: it is stopped 10 levels deep, said once, and the hook
    # registered before it, which runs after it, still runs.
    script = """
        from snapbus._hooks import Hook, HookList
        ran = []
        hooks = HookList("before-snapshot", last_first=True)

        def endless():
            ran.append("endless")
            hooks.add(Hook("endless", endless))

        hooks.add(Hook("first", lambda: ran.append("first")))
        hooks.add(Hook("endless", endless))
        report = hooks.run()
        print(ran.count("endless"), ran[-1], report.failures)
    """
    result = run_python(script, SNAPBUS_AUTOSTART="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("11 first ['before-snapshot hooks kept registering more hooks: RuntimeError: "
                                     "1 still new 10 levels deep']")


def test_autostart_off_means_no_watcher_until_start(tmp_path):
    script = """
        import snapbus
        snapbus.after_restore(print)
        print(snapbus.is_running())
        try:
            snapbus.wait_for_change(0.01)
        except snapbus.NotStarted:
            print("not started")
    """
    result = run_python(script, SNAPBUS_AUTOSTART="0", SNAPBUS_SEGMENT=str(tmp_path / "none.seg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["False", "not started"]


def test_state_is_consistent_and_immutable(bus, processes, tmp_path):
    subscriber = snapbus.Subscriber.open(bus.segment, "test-state", wait_for_ack=False)
    try:
        first = subscriber.read_state()
        assert first.attached and first.phase == snapbus.Phase.RUNNING and first.generation == 0
        with pytest.raises(AttributeError):
            first.generation = 7
        bus.publish_ok("restore")
        second = subscriber.read_state()
        assert second.generation == 1 == subscriber.generation()
        assert second.seq != first.seq and second.restore_id != first.restore_id
        assert second.restore_wall_ns > 0 and second.restore_mono_ns > 0
        assert second.publisher_pid > 0
    finally:
        subscriber.close()
    with pytest.raises(snapbus.Closed):
        subscriber.read_state()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads the futex system call's x86-64 number")
def test_the_watcher_sleeps_through_running_until_someone_waits_for_every_change(bus, processes, tmp_path):
    # The watcher runs no hook for running: it sleeps through it (one wake per restore, not two),
    # until a wait_for_change() asks for every change. "Asleep" is: everything handled and the
    # watcher thread blocked in the kernel (futex, system call 202 on x86-64), twice 5 ms apart.
    script = """
        import pathlib, sys, time, snapbus
        from snapbus._client import CLIENT
        snapbus.after_restore(lambda: None)
        snapbus.start()

        def blocked():
            with open(f"/proc/self/task/{CLIENT._thread.native_id}/syscall") as f:
                return f.read().split()[0] == "202"

        def asleep():
            return CLIENT.handled_seq == snapbus.state().seq and blocked()

        def settle():
            give_up = time.monotonic() + 20
            while not (asleep() and (time.sleep(0.005) or asleep())) and time.monotonic() < give_up:
                time.sleep(0.001)
            print("ASLEEP", CLIENT.handled_seq, flush=True)

        # `patience`: how long the watcher gets to handle the change. Short where it must not wake
        # (a wrong wake comes within microseconds), long where it must: a loaded machine may keep
        # the thread from running for a good part of a second.
        def after_publish(go, patience):
            give_up = time.monotonic() + 20
            while not pathlib.Path(go).exists() and time.monotonic() < give_up:
                time.sleep(0.001)
            give_up = time.monotonic() + patience
            while CLIENT.handled_seq != snapbus.state().seq and time.monotonic() < give_up:
                time.sleep(0.001)
            print("AFTER", CLIENT.handled_seq, snapbus.state().seq, flush=True)

        settle()
        after_publish(sys.argv[1], 0.3)
        snapbus.wait_for_change(0.01)
        settle()
        after_publish(sys.argv[2], 20)
    """
    first, second = tmp_path / "go-1", tmp_path / "go-2"
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script), str(first), str(second)],
                           processes.env(bus.segment))
    asleep = int(read_line(proc).split()[1])
    bus.publish_ok("running")
    first.touch()
    handled, seq = map(int, read_line(proc).split()[1:])
    assert seq == asleep + 2 and handled == asleep, "the watcher woke for running"
    read_line(proc)  # asleep again, now for every change
    bus.publish_ok("running")
    second.touch()
    handled, seq = map(int, read_line(proc).split()[1:])
    assert handled == seq, "after wait_for_change() the watcher takes every change"


def test_status_after_a_restore_shows_the_hooks_it_ran_once_running_is_acked(bus, processes):
    # A worker that takes every change acks `running` right after its after-restore ack, with no
    # hook run: `snapbus status` must still say what the restore ran (and the ack is current).
    script = """
        import snapbus
        snapbus.after_restore(lambda: None, name="reseed")
        snapbus.after_restore(lambda: None, name="reconnect")
        snapbus.start()
        print("READY", flush=True)
        while True:
            snapbus.wait_for_change(1.0)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    bus.publish_ok("restore")  # after-restore, every ack, then running
    seq = bus.status()["state"]["seq"]
    wait_until(lambda: bus.status()["subscribers"][0]["acked_seq"] == seq, 10, "the running ack")
    worker = bus.status()["subscribers"][0]
    assert (worker["outcome"], worker["hooks_run"], worker["hooks_failed"], worker["handled_generation"]) == \
        ("ok", 2, 0, 1), worker


def test_generation_and_wait_for_change_follow_the_bus(bus, processes, tmp_path):
    # Each wait must be in place before the test publishes ("WAITING"), or it would miss the change.
    script = """
        import asyncio, threading, time, snapbus
        from snapbus._client import CLIENT
        snapbus.start()
        print("GEN", snapbus.generation(), flush=True)
        changes = []
        waiter = threading.Thread(target=lambda: changes.append(snapbus.wait_for_change(20)))
        waiter.start()
        give_up = time.monotonic() + 20
        while not CLIENT._changed._waiters and time.monotonic() < give_up:
            time.sleep(0.001)
        print("WAITING", flush=True)
        waiter.join(30)
        # A wait returns the latest state handled, which may already be past the restore: so only
        # "a change came" is exact.
        print("CHANGED", changes[0] is not None and changes[0].attached, flush=True)
        deadline = time.monotonic() + 20
        while snapbus.generation() != 1 and time.monotonic() < deadline:
            snapbus.wait_for_change(0.1)
        print("GEN", snapbus.generation(), snapbus.state().generation, flush=True)

        async def wait_async():
            task = asyncio.create_task(snapbus.wait_for_change_async(20))
            await asyncio.sleep(0)  # the task registers its waiter, then suspends
            print("WAITING", flush=True)
            return await task
        print("ASYNC", asyncio.run(wait_async()).attached, flush=True)
        # Quiet: the publish finished, and this process handled all of it and told its waiters
        # (handled_seq moves before the waiters are told, so it alone would leave a notice in flight).
        deadline = time.monotonic() + 20
        while (snapbus.state().phase != snapbus.Phase.SNAPSHOT_READY
               or CLIENT._last_state.seq != snapbus.state().seq) and time.monotonic() < deadline:
            snapbus.wait_for_change(0.1)
        print("TIMEOUT", asyncio.run(snapbus.wait_for_change_async(0.05)), snapbus.wait_for_change(0.05), flush=True)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc).split() == ["GEN", "0"]
    assert read_line(proc).strip() == "WAITING"
    bus.publish_ok("restore")
    assert read_line(proc).split() == ["CHANGED", "True"]
    assert read_line(proc).split() == ["GEN", "1", "1"]
    assert read_line(proc).strip() == "WAITING"
    bus.publish_ok("before-snapshot")
    assert read_line(proc).split() == ["ASYNC", "True"]
    assert read_line(proc).split() == ["TIMEOUT", "None", "None"]
    assert proc.wait(timeout=10) == 0, processes.stderr_of(proc)


def test_stop_frees_the_slot_and_keeps_generation_readable(bus, processes):
    script = """
        import snapbus, threading
        snapbus.start()
        readers_ok = []
        def read():
            for _ in range(200000):
                snapbus.generation()
            readers_ok.append(True)
        threads = [threading.Thread(target=read) for _ in range(2)]
        for t in threads: t.start()
        print(snapbus.stop(), snapbus.is_running(), snapbus.state().attached, flush=True)
        for t in threads: t.join(30)
        print(len(readers_ok), snapbus.generation(), flush=True)
        import time; time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc).split() == ["True", "False", "False"]
    assert read_line(proc).split() == ["2", "0"]
    # The stopped process holds no slot any more: publishing does not wait for it.
    bus.publish_ok("restore")


def test_python_import_in_a_fresh_interpreter():
    result = run_isolated("import snapbus; print(snapbus.abi_version(), snapbus._checked.lib.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "1"
    assert snapbus._checked.__file__  # the module the tests use is the built one
    native = sys.modules["snapbus._native"].__file__
    assert native.endswith(".abi3.so"), native


def test_import_leaves_asyncio_and_importlib_abc_to_those_who_need_them():
    # Zero-code mode imports snapbus in every Python process of the function, a WSGI server's too: at
    # the top, these two were half of `import snapbus`'s time. A coroutine of snapbus's imports
    # asyncio when it runs, in a loop that has it already.
    result = run_isolated(
        "import snapbus; print(sorted(name for name in ('asyncio', 'importlib.abc') if name in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_module_cli_prints_startup_dir_and_state(bus):
    startup = subprocess.run([PYTHON, "-m", "snapbus", "startup-dir"], capture_output=True, text=True, timeout=30)
    assert startup.returncode == 0, startup.stderr
    assert (pathlib.Path(startup.stdout.strip()) / "sitecustomize.py").is_file()

    state = subprocess.run([PYTHON, "-m", "snapbus", "state"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, SNAPBUS_SEGMENT=str(bus.segment)))
    assert state.returncode == 0, state.stderr
    parsed = json.loads(state.stdout)
    assert parsed["attached"] is True and parsed["generation"] == 0 and parsed["phase"] == "running"
    assert parsed["init_type"] == "unknown" and parsed["source"] == "manual", parsed

    missing = subprocess.run([PYTHON, "-m", "snapbus", "state"], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, SNAPBUS_SEGMENT=str(bus.segment) + ".missing"))
    assert missing.returncode == 1 and "No such file" in missing.stderr


def test_module_cli_startup_dir_needs_no_native_module_nor_good_variables(tmp_path):
    # As for a wrapper whose interpreter has no cffi: the package without its native module.
    shutil.copytree(pathlib.Path(snapbus.__file__).parent, tmp_path / "snapbus",
                    ignore=shutil.ignore_patterns("_native*", "__pycache__"))
    result = subprocess.run([PYTHON, "-m", "snapbus", "startup-dir"], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, PYTHONPATH=str(tmp_path), SNAPBUS_LOG_LEVEL="loud",
                                     SNAPBUS_PYTHON_BRIDGE="maybe", SNAPBUS_SEGMENT=str(tmp_path / "none.seg")))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tmp_path / 'snapbus' / '_startup'}\n" and result.stderr == ""


def test_module_cli_startup_dir_works_with_zero_code_mode_already_on():
    # The README's SNAPBUS_ZERO_CODE=1 PYTHONPATH=$(python3 -m snapbus startup-dir) app: bash lets
    # the command substitution see the exported variable, and a PYTHONPATH from an earlier line (or
    # Lambda's /opt/python) has the startup sitecustomize on it, which imports snapbus during site.
    startup_dir = subprocess.run([PYTHON, "-m", "snapbus", "startup-dir"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    pythonpath = os.pathsep.join([startup_dir, os.environ["PYTHONPATH"]])
    result = subprocess.run([PYTHON, "-m", "snapbus", "startup-dir"], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, SNAPBUS_ZERO_CODE="1", PYTHONPATH=pythonpath))
    assert result.returncode == 0, result.stderr
    assert result.stdout == startup_dir + "\n"
    assert "Fatal" not in result.stderr, result.stderr


def test_module_cli_state_needs_no_free_slot(cli, processes, tmp_path):
    segment = tmp_path / "one-slot.seg"
    created = subprocess.run([str(cli), "publish", "running", "--segment", str(segment)], capture_output=True,
                             text=True, timeout=30, env=dict(os.environ, SNAPBUS_SLOTS="1"))
    assert created.returncode == 0, created.stdout + created.stderr
    holder = processes.start([PYTHON, "-c", "import snapbus, time; snapbus.start(); print('READY', flush=True); "
                              "time.sleep(60)"], processes.env(segment))
    assert read_line(holder) == "READY"
    state = subprocess.run([PYTHON, "-m", "snapbus", "state"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, SNAPBUS_SEGMENT=str(segment)))
    assert state.returncode == 0, state.stderr
    assert json.loads(state.stdout)["phase"] == "running"


def test_malformed_variables_are_named_and_never_break_an_import_or_a_registration(tmp_path):
    # Read at import: named on stderr, and the default holds (the bridge stays on).
    for variable, value in (("SNAPBUS_LOG_LEVEL", "loud"), ("SNAPBUS_PYTHON_BRIDGE", "maybe")):
        result = run_python("import snapbus, snapbus._bridge; print('IMPORTED', snapbus._bridge._installed)",
                            SNAPBUS_SEGMENT=str(tmp_path / "none.seg"), **{variable: value})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "IMPORTED True"
        assert f"{variable}={value!r}" in result.stderr, result.stderr
    # Read at the first registration: logged, never raised, the hook kept for a start() to come,
    # which raises InvalidArgument (a ValueError) for the one it reads itself.
    script = """
        import snapbus
        snapbus.after_restore(lambda: None, name="kept")
        print("REGISTERED", snapbus.is_running(), flush=True)
        try:
            snapbus.start()
            print("STARTED", snapbus.is_running(), flush=True)
        except snapbus.InvalidArgument as error:
            print("REFUSED", isinstance(error, ValueError), flush=True)
    """
    for variable, after_start in (("SNAPBUS_WAIT_FOR_ACK", "REFUSED True"), ("SNAPBUS_AUTOSTART", "STARTED True")):
        result = run_python(script, **{"SNAPBUS_SEGMENT": str(tmp_path / "none.seg"), "SNAPBUS_WAIT_FOR_ACK": "1",
                                       "SNAPBUS_AUTOSTART": "1", variable: "maybe"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["REGISTERED False", after_start], (variable, result.stdout, result.stderr)
        assert f"{variable}='maybe'" in result.stderr and "no hook runs in this process" in result.stderr


def test_bad_arguments_are_refused_before_anything_changes():
    script = """
        import math, snapbus
        def refused(call):
            try:
                call()
            except (TypeError, ValueError) as error:
                print(type(error).__name__, isinstance(error, snapbus.SnapbusError) or "builtin")
            else:
                print("accepted")
        refused(lambda: snapbus.after_restore(lambda: None, name=123))
        refused(lambda: snapbus.start(name=123))
        refused(lambda: snapbus.start(wait_for_ack="no"))
        refused(lambda: snapbus.start(b"/tmp/with\\0nul.seg"))
        refused(lambda: snapbus.start(""))
        refused(lambda: snapbus.start(3.5))
        refused(lambda: snapbus.stop("5"))
        refused(lambda: snapbus.stop(-1))
        refused(lambda: snapbus.stop(math.nan))
        refused(lambda: snapbus.wait_for_change("soon"))
        print("running", snapbus.is_running())
    """
    result = run_python(script, SNAPBUS_AUTOSTART="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "TypeError builtin", "TypeError builtin", "TypeError builtin", "InvalidArgument True",
        "InvalidArgument True", "TypeError builtin", "TypeError builtin", "InvalidArgument True",
        "InvalidArgument True", "TypeError builtin", "running False"], result.stdout


def test_hooks_that_return_awaitables_or_interrupt_fail_their_phase(bus, processes):
    script = """
        import asyncio, snapbus
        class AsyncCallable:
            async def __call__(self):
                print("HOOK body ran", flush=True)
        async def coroutine_function():
            print("HOOK body ran", flush=True)
        def interrupt():
            raise KeyboardInterrupt
        snapbus.after_restore(AsyncCallable(), name="async-call")
        snapbus.after_restore(lambda: coroutine_function(), name="lambda-coroutine")
        snapbus.after_restore(interrupt, name="ctrl-c")
        snapbus.before_snapshot(lambda: print("HOOK before-snapshot", flush=True), name="plain")
        print("READY", flush=True)
        import time; time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    failed = bus.publish("restore")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    report = failed.stdout + failed.stderr
    assert "3 of 3 hooks failed" in report, report
    assert "'async-call' failed: TypeError: it returned coroutine, which nothing awaits" in report, report
    assert "'lambda-coroutine' failed: TypeError" in report and "'ctrl-c' failed: KeyboardInterrupt" in report
    # The watcher outlived the KeyboardInterrupt: the next phase is handled.
    bus.publish_ok("before-snapshot")
    assert read_line(proc) == "HOOK before-snapshot", processes.stderr_of(proc)
    assert "HOOK body ran" not in processes.stderr_of(proc)


def test_a_hook_registered_by_a_hook_runs_in_the_same_phase(bus, processes):
    script = """
        import snapbus
        def late():
            print("HOOK late", flush=True)
        def first():
            print("HOOK first", flush=True)
            snapbus.after_restore(late)
        snapbus.after_restore(first)
        print("READY", flush=True)
        import time; time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    bus.publish_ok("restore")
    assert [read_line(proc), read_line(proc)] == ["HOOK first", "HOOK late"]


def test_stop_and_exit_are_bounded_while_a_hook_hangs(bus, processes):
    script = """
        import threading, time, snapbus
        entered = threading.Event()
        def hang():
            entered.set()
            time.sleep(120)
        snapbus.after_restore(hang, name="hang")
        print("READY", flush=True)
        entered.wait(60)
        started = time.monotonic()
        stopped = snapbus.stop(0.5)
        print("STOP", stopped, round(time.monotonic() - started, 1), flush=True)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    publish = bus.publish_async("restore", timeout_ms=60000)
    try:
        words = read_line(proc, timeout=30).split()
        assert words[:2] == ["STOP", "False"] and float(words[2]) < 2.0, words
        # The main thread has ended: the exit does not wait for the hook either.
        assert proc.wait(timeout=20) == 0, processes.stderr_of(proc)
        assert "a hook is still running (handling seq" in processes.stderr_of(proc)
    finally:
        publish.kill()
        publish.wait(timeout=10)


def test_a_stop_that_gave_up_on_a_hook_frees_the_slot_once_the_hook_returns(bus, processes):
    script = """
        import threading, time, snapbus
        entered = threading.Event()
        def slow():
            entered.set()
            time.sleep(3.0)  # outlasts the stop's 0.2 s even when this process stalls for 2 s
        snapbus.after_restore(slow, name="slow")
        print("READY", flush=True)
        entered.wait(60)
        print("STOP", snapbus.stop(0.2), flush=True)
        time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    bus.publish_ok("restore")  # the slow hook is acknowledged before the watcher ends
    assert read_line(proc) == "STOP False"
    wait_until(lambda: bus.status()["subscribers"] == [], 10, "the slot freed after the hook")
    bus.publish_ok("before-snapshot")  # nobody left to wait for


def test_a_fork_on_another_thread_waits_for_the_hooks_and_the_child_inherits_them_all(bus, processes):
    # A request thread that forks while the after-restore hooks run: the child must not be a copy
    # of a process half-way through them.
    script = """
        import os, threading, time, snapbus
        ran = []
        entered = threading.Event()
        def first():
            entered.set()
            time.sleep(0.3)  # the fork comes 0.1 s in: it waits, well within before_fork's 1 s bound
            ran.append("first")
        snapbus.after_restore(first, name="first")
        snapbus.after_restore(lambda: ran.append("second"), name="second")
        print("READY", flush=True)
        entered.wait(60)
        time.sleep(0.1)
        child = os.fork()
        if child == 0:
            print("CHILD", ran, snapbus.generation(), flush=True)
            time.sleep(2)
            os._exit(0)
        os.waitpid(child, 0)
        print("PARENT", ran, flush=True)
        time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    publish = bus.publish_async("restore", timeout_ms=20000)
    assert read_line(proc, timeout=30) == "CHILD ['first', 'second'] 1", processes.stderr_of(proc)
    assert read_line(proc, timeout=30) == "PARENT ['first', 'second']"
    assert publish.wait(timeout=30) == 0, publish.stdout.read()


def test_a_hook_mapping_work_on_a_pool_made_before_the_change_completes(bus, processes):
    # The pool's worker handler thread was there before the change, and forks the workers that
    # maxtasksperchild=1 makes it replace while the hook waits for their results: that fork must
    # not wait for the hook.
    script = """
        import multiprocessing, os, snapbus
        MAIN = os.getpid()
        def square(x):
            return x * x
        def warm():
            if os.getpid() == MAIN:  # the workers inherit the hook: nothing to do there
                print("HOOK", pool.map_async(square, range(4), chunksize=1).get(timeout=20), flush=True)
        pool = multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1)
        print("WARM", pool.map_async(square, range(4), chunksize=1).get(timeout=20), flush=True)
        snapbus.after_restore(warm, name="warm")
        print("READY", flush=True)
        import time; time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "WARM [0, 1, 4, 9]"
    assert read_line(proc) == "READY"
    restored = bus.publish("restore", timeout_ms=40000)
    assert restored.returncode == 0, restored.stdout + restored.stderr + processes.stderr_of(proc)
    assert read_line(proc, timeout=30) == "HOOK [0, 1, 4, 9]"


def test_start_with_other_settings_moves_the_watcher_and_the_same_ones_change_nothing(bus, processes, tmp_path):
    # Hooks at the top of a module autostart on the default segment; the app's start() names its own.
    app_segment = tmp_path / "app.seg"
    app_bus = type(bus)(bus.cli, app_segment)
    app_bus.publish_ok("running")
    script = """
        import sys, threading, snapbus
        from snapbus._client import CLIENT
        def moved_in_a_hook():
            try:
                snapbus.start(sys.argv[2])
            except snapbus.InvalidArgument as error:
                print("IN HOOK refused", sys.argv[1] in str(error), flush=True)
        snapbus.after_restore(lambda: print("HOOK", snapbus.generation(), flush=True), name="print")
        print("DEFAULT", snapbus.segment_path() == sys.argv[2], snapbus.is_running(), flush=True)
        snapbus.start(sys.argv[1], name="app", wait_for_ack=True)
        watcher = CLIENT._thread
        snapbus.start(sys.argv[1], name="app")
        snapbus.start()
        print("MOVED", snapbus.segment_path() == sys.argv[1], CLIENT._thread is watcher, snapbus.is_running(),
              flush=True)
        snapbus.after_restore(moved_in_a_hook, name="moved-in-a-hook")
        print("READY", flush=True)
        import time; time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script), str(app_segment), str(bus.segment)],
                           processes.env(bus.segment))
    assert read_line(proc) == "DEFAULT True True"
    assert read_line(proc) == "MOVED True True True", processes.stderr_of(proc)
    assert read_line(proc) == "READY"
    assert bus.status()["subscribers"] == []
    assert [slot["name"] for slot in app_bus.status()["subscribers"]] == ["app"]
    app_bus.publish_ok("restore")
    assert read_line(proc) == "HOOK 1"
    assert read_line(proc) == "IN HOOK refused True"


def test_start_after_a_stop_that_gave_up_on_a_hook_ends_with_a_running_watcher(bus, processes):
    # The stopping watcher is kept alive (a slow log handler, outside the lock) past the moment
    # start() gets the lock: start() must not take it for a running one.
    script = """
        import logging, threading, time, snapbus
        entered = threading.Event()
        stopped = threading.Event()
        class SlowAfterTheStop(logging.Handler):
            def emit(self, record):
                if stopped.is_set() and "handled seq" in record.getMessage():
                    stopped.clear()
                    time.sleep(1.0)
        log = logging.getLogger("snapbus")
        log.setLevel(logging.DEBUG)
        log.addHandler(SlowAfterTheStop())
        def slow():
            print("HOOK", flush=True)
            entered.set()
            time.sleep(1.0)
        snapbus.after_restore(slow, name="slow")
        print("READY", flush=True)
        entered.wait(60)
        print("STOP", snapbus.stop(0.1), flush=True)
        stopped.set()
        snapbus.start()
        give_up = time.monotonic() + 20
        while len([t for t in threading.enumerate() if t.name == "snapbus-watcher"]) > 1 and time.monotonic() < give_up:
            time.sleep(0.01)
        print("AFTER", snapbus.is_running(), snapbus.state().attached, flush=True)
        time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    publish = bus.publish_async("restore", timeout_ms=20000)
    assert read_line(proc) == "HOOK"
    assert read_line(proc) == "STOP False"
    assert read_line(proc) == "AFTER True True", processes.stderr_of(proc)
    assert publish.wait(timeout=30) == 0
    bus.publish_ok("restore")  # the new watcher handles it
    assert read_line(proc) == "HOOK"


def test_wait_for_change_in_a_hook_raises_instead_of_blocking_the_watcher(bus, processes):
    script = """
        import asyncio, snapbus
        def waits():
            for wait in (lambda: snapbus.wait_for_change(5), lambda: asyncio.run(snapbus.wait_for_change_async(5))):
                try:
                    print("RETURNED", wait(), flush=True)
                except snapbus.InvalidArgument as error:
                    print("REFUSED", isinstance(error, snapbus.SnapbusError), flush=True)
        snapbus.after_restore(waits, name="waits")
        print("READY", flush=True)
        import time; time.sleep(60)
    """
    proc = processes.start([PYTHON, "-c", textwrap.dedent(script)], processes.env(bus.segment))
    assert read_line(proc) == "READY"
    bus.publish_ok("restore")
    assert [read_line(proc), read_line(proc)] == ["REFUSED True", "REFUSED True"]
