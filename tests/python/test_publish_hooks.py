"""`snapbus publish` drives real subscriber processes, forked workers among them."""
import collections
import select
import signal
import time

from conftest import PYTHON, example_subscriber, read_line, read_ready, read_records, read_rest

HOOKS = ["h1", "h2", "h3"]


def start_script(script, bus, processes):
    """One process running `script` on the bus's segment, once it has said READY: it and its pid."""
    proc = processes.start([PYTHON, "-c", script], processes.env(bus.segment))
    pid, = read_ready(proc, 1)
    return proc, pid


def hooks_by_pid(records, phase):
    calls = collections.defaultdict(list)
    for record in records:
        if record["phase"] == phase:
            calls[record["pid"]].append(record["hook"])
    return dict(calls)


def test_every_process_runs_each_hook_once_in_order(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    plain = processes.python("subscriber.py", "--log", log, "--hooks", 3, env=env)
    forking = processes.python("subscriber.py", "--log", log, "--hooks", 3, "--fork", 2, env=env)
    pids = set(read_ready(plain, 1) + read_ready(forking, 3))
    assert len(pids) == 4

    bus.publish_ok("before-snapshot")
    before = hooks_by_pid(read_records(log), "before-snapshot")
    assert before == {pid: HOOKS[::-1] for pid in pids}, processes.all_stderr()

    bus.publish_ok("restore")
    records = read_records(log)
    after = hooks_by_pid(records, "after-restore")
    assert after == {pid: HOOKS for pid in pids}, processes.all_stderr()
    assert all(r["generation"] == 1 for r in records if r["phase"] == "after-restore")
    # What each process acknowledged, as the publisher sees it.
    slots = {slot["pid"]: slot for slot in bus.status()["subscribers"]}
    for pid in pids:
        assert slots[pid]["name"] == "python:subscriber.py"
        assert slots[pid]["handled_generation"] == 1 and slots[pid]["outcome"] == "ok", slots[pid]

    # A second restore runs the after-restore hooks once more, and nothing else.
    bus.publish_ok("restore")
    records = read_records(log)
    assert hooks_by_pid(records, "after-restore") == {pid: HOOKS * 2 for pid in pids}
    assert hooks_by_pid(records, "before-snapshot") == before

    result = bus.publish("shutdown")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hooks_by_pid(read_records(log), "shutdown") == {pid: HOOKS[::-1] for pid in pids}
    for proc in (plain, forking):
        assert proc.wait(timeout=10) == 0, processes.stderr_of(proc)


def test_failing_hook_fails_publish_naming_process_and_exception(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    healthy = processes.python("subscriber.py", "--log", log, env=env)
    failing = processes.python("subscriber.py", "--log", log, "--fail", "h1", env=env)
    healthy_pid, = read_ready(healthy, 1)
    failing_pid, = read_ready(failing, 1)

    result = bus.publish("restore")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert str(failing_pid) in output
    assert "after-restore hook 'h1' failed: ValueError: h1 cannot reach the database" in output
    # Every hook still ran in both processes, the failing one's h2 included.
    assert hooks_by_pid(read_records(log), "after-restore") == {healthy_pid: ["h1", "h2"],
                                                                failing_pid: ["h1", "h2"]}


def test_guards_racing_the_watcher_run_each_hook_exactly_once(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    proc = processes.python("subscriber.py", "--log", log, "--guard-threads", 4, "--hook-sleep", 0.05,
                            "--fork", 1, env=env)
    pids = set(read_ready(proc, 2))

    bus.publish_ok("restore")
    records = read_records(log)
    assert hooks_by_pid(records, "after-restore") == {pid: ["h1", "h2"] for pid in pids}, processes.all_stderr()


def test_a_process_that_exits_before_shutting_down_runs_its_shutdown_hooks_once(bus, processes, tmp_path):
    # Lambda stops the runtime (the app) before it sends SHUTDOWN to the adapter: a worker's own
    # exit is then its last chance to run its shutdown hooks. Here it exits by itself.
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    exiting = processes.python("subscriber.py", "--log", log, "--hooks", 2, "--lifetime", 0.5, env=env)
    pid, = read_ready(exiting, 1)
    assert exiting.wait(timeout=20) == 0, processes.stderr_of(exiting)
    assert hooks_by_pid(read_records(log), "shutdown") == {pid: ["h2", "h1"]}, processes.stderr_of(exiting)
    assert "ran 3 shutdown hooks (shutting-down was not published)" in processes.stderr_of(exiting)
    assert bus.status()["subscribers"] == [], "the exiting process kept its slot"


def test_shutdown_hooks_the_bus_ran_do_not_run_again_at_exit(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    subscriber = processes.python("subscriber.py", "--log", log, "--hooks", 2, env=env)
    pid, = read_ready(subscriber, 1)
    bus.publish_ok("shutdown")
    assert subscriber.wait(timeout=20) == 0, processes.stderr_of(subscriber)
    assert hooks_by_pid(read_records(log), "shutdown") == {pid: ["h2", "h1"]}
    assert "exiting: ran" not in processes.stderr_of(subscriber)


# The same for the C++ client, whose Client runs them as it ends: the example subscriber ends on
# SIGTERM as a worker does when Lambda stops the runtime, and once after the bus ran them.
def test_a_cpp_process_ended_by_sigterm_runs_its_shutdown_hooks_once(bus, cli, processes):
    env = processes.env(bus.segment)
    for publish_first in (False, True):
        cpp = processes.start([example_subscriber(cli), "--name", "cpp", "--segment", str(bus.segment)], env)
        assert "subscribed" in read_line(cpp)
        if publish_first:
            bus.publish_ok("shutdown")
            assert read_line(cpp).endswith("shutdown: flushed logs")
        cpp.send_signal(signal.SIGTERM)
        assert cpp.wait(timeout=20) == 0, processes.stderr_of(cpp)
        rest = read_rest(cpp)
        assert rest.count("shutdown: flushed logs") == (0 if publish_first else 1), rest + processes.stderr_of(cpp)
        bus.publish_ok("running")


def test_a_process_never_attached_runs_no_shutdown_hook_at_exit(cli, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(tmp_path / "no-such.seg")
    detached = processes.python("subscriber.py", "--log", log, "--lifetime", 0.3, "--may-start-detached", env=env)
    read_ready(detached, 1)
    assert detached.wait(timeout=20) == 0, processes.stderr_of(detached)
    assert read_records(log) == []



FORKING_HOOK = """
import multiprocessing, os, snapbus, time

def square(n):
    return n * n

def warm_up():
    # A pool forked from the pool's own thread while this hook holds the client: no deadlock, and
    # its workers neither run the hook again nor fail the restore when the pool ends them.
    with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
        print("HOOK", os.getpid(), pool.map(square, range(4)), flush=True)

snapbus.after_restore(warm_up, name="warm-up")
print("READY", os.getpid(), flush=True)
time.sleep(60)
"""


def test_a_hook_that_forks_a_pool_neither_deadlocks_nor_reruns_nor_fails(bus, processes):
    proc, pid = start_script(FORKING_HOOK, bus, processes)
    result = bus.publish("restore", timeout_ms=20000)
    assert result.returncode == 0, result.stdout + result.stderr + processes.stderr_of(proc)
    assert read_line(proc).split() == ["HOOK", str(pid), "[0,", "1,", "4,", "9]"], processes.stderr_of(proc)
    time.sleep(0.5)  # time enough for a wrongly re-run hook in a pool worker to print
    bus.publish_ok("before-snapshot")
    assert select.select([proc.stdout], [], [], 0)[0] == [], "a pool worker ran the hook again"


KILLED_HELPERS_HOOK = """
import os, signal, snapbus, time

def spawn_and_kill():
    # Helpers a hook forks and ends at once, however far their fork handler got (the delays sweep
    # across it): none of them may count as a subscriber that died before acknowledging.
    for i in range(60):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        time.sleep(i * 0.00015)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    print("HOOK", os.getpid(), flush=True)

snapbus.after_restore(spawn_and_kill, name="spawn-and-kill")
print("READY", os.getpid(), flush=True)
time.sleep(60)
"""


def test_children_a_hook_forks_and_kills_at_once_do_not_fail_the_change(bus, processes):
    proc, pid = start_script(KILLED_HELPERS_HOOK, bus, processes)
    result = bus.publish("restore", timeout_ms=20000)
    assert result.returncode == 0, result.stdout + result.stderr + processes.stderr_of(proc)
    assert "DIED" not in result.stdout
    assert read_line(proc).split() == ["HOOK", str(pid)], processes.stderr_of(proc)


FORK_IN_BEFORE_SNAPSHOT = """
import os, snapbus, time

parent = os.getpid()

def start_helper():
    # A helper the snapshot must take with its own slot: its after-restore hooks are waited for.
    pid = os.fork()
    if pid == 0:
        deadline = time.monotonic() + 60
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(0.05)
        os._exit(0)
    print("FORKED", pid, flush=True)

snapbus.before_snapshot(start_helper, name="start-helper")
# One write per line: the parent and the helper print at once, and print() writes the text and its
# newline apart, so two lines could interleave ("RESTORED 1RESTORED 2", " 2").
snapbus.after_restore(lambda: os.write(1, f"RESTORED {os.getpid()}\\n".encode()), name="note")
print("READY", os.getpid(), flush=True)
time.sleep(60)
"""


def test_a_child_forked_in_a_before_snapshot_hook_holds_its_slot_before_the_snapshot(bus, processes):
    # The parent's acknowledgement waits for the child's slot: acknowledged first, before-snapshot
    # ended with a child the publisher did not know of, and the restore did not wait for its hooks.
    proc, pid = start_script(FORK_IN_BEFORE_SNAPSHOT, bus, processes)
    snapshot = bus.publish_ok("before-snapshot")
    forked = read_line(proc).split()
    assert forked[0] == "FORKED", forked
    child = int(forked[1])
    # In the step's own report: the child held its slot before before-snapshot ended.
    assert f"acked    pid {child} " in snapshot.stdout, snapshot.stdout + processes.stderr_of(proc)
    result = bus.publish_ok("restore")
    assert f"acked    pid {child} " in result.stdout, result.stdout
    restored = {read_line(proc), read_line(proc)}
    assert restored == {f"RESTORED {pid}", f"RESTORED {child}"}, processes.stderr_of(proc)


CONCURRENT_FORKS_IN_A_HOOK = """
import os, snapbus, sys, threading, time

sys.setswitchinterval(1e-6)  # thread switches inside the fork handlers too
parent = os.getpid()

def forker(barrier):
    barrier.wait()
    for _ in range(4):
        if os.fork() == 0:
            deadline = time.monotonic() + 60
            while os.getppid() == parent and time.monotonic() < deadline:
                time.sleep(0.05)
            os._exit(0)

def start_helpers():
    # Two threads the hook starts, forking at once: each child tells its own parent of its slot,
    # and none holds up another's.
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=forker, args=(barrier,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("HOOK", os.getpid(), flush=True)

snapbus.before_snapshot(start_helpers, name="start-helpers")
print("READY", os.getpid(), flush=True)
time.sleep(60)
"""


def test_children_forked_at_once_by_threads_a_hook_started_each_hold_a_slot(bus, processes):
    proc, pid = start_script(CONCURRENT_FORKS_IN_A_HOOK, bus, processes)
    snapshot = bus.publish_ok("before-snapshot")
    assert read_line(proc) == f"HOOK {pid}", processes.stderr_of(proc)
    assert snapshot.stdout.count("  acked    pid ") == 9, snapshot.stdout + processes.stderr_of(proc)
    assert "had no slot" not in processes.stderr_of(proc)
    time.sleep(0.5)  # time enough for a child that wrongly ran the hook again to print
    assert select.select([proc.stdout], [], [], 0)[0] == [], "a child ran the hook again"

