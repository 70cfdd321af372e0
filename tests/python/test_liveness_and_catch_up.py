"""Issue 8, end to end with real processes: who counts as alive, who catches up on a restore, and
what a broken segment file does (never kill the app).

Each test names the item of the issue it covers: (1) restored processes, (2) processes gone before
a publish, (3) missed restores, (4) SIGBUS, (5) hangs.
"""
import mmap
import os
import pathlib
import struct
import subprocess
import time

import pytest

from conftest import PROGRAMS, PYTHON, PROCESS_TIMEOUT, example_subscriber, read_line, read_ready, read_records, wait_until


def restores_in(records, pid=None):
    return [r for r in records if r["phase"] == "after-restore" and (pid is None or r["pid"] == pid)]


def wait_for_line(proc, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        line = read_line(proc, max(0.0, deadline - time.monotonic()))
        if text in line:
            return line


# (2) A multiprocessing pool's workers leave through os._exit with their slots claimed; the next
# publish frees those slots first instead of reporting the workers as dead.
def test_pool_that_exited_before_publish_restore_is_not_a_failure(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    app = processes.python("pool_app.py", "--log", log, "--workers", 3, env=processes.env(bus.segment))
    wait_for_line(app, "POOL DONE")
    result = bus.publish("restore")
    assert result.returncode == 0, result.stdout + result.stderr + processes.all_stderr()
    assert "DIED" not in result.stdout
    assert "waiting for 1 subscriber" in result.stdout, result.stdout
    assert [r["pid"] for r in restores_in(read_records(log))] == [app.pid]
    assert [slot["pid"] for slot in bus.status()["subscribers"]] == [app.pid]


# (3) The segment file is deleted under an attached C++ and Python subscriber; the next publisher
# makes a new one and publishes a restore: both subscribers notice (inotify), attach to the new
# file and run their after-restore hooks, whether they attached before the publish or after it.
def test_segment_deleted_under_cpp_and_python_subscribers_then_restore_runs_both(bus, cli, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    python_sub = processes.python("subscriber.py", "--log", log, "--hooks", 1, env=env)
    cpp_sub = processes.start([example_subscriber(cli), "--name", "cpp", "--segment", str(bus.segment)], env)
    python_pid = read_ready(python_sub, 1)[0]
    wait_until(lambda: len(bus.status()["subscribers"]) == 2, 20, "both subscribers attached")

    os.unlink(bus.segment)
    wait_until(lambda: "was deleted" in processes.stderr_of(python_sub), 10, "the Python subscriber noticing")
    wait_until(lambda: "was deleted" in processes.stderr_of(cpp_sub), 10, "the C++ subscriber noticing")
    result = bus.publish("restore")
    assert result.returncode == 0, result.stdout + result.stderr + processes.all_stderr()

    wait_until(lambda: restores_in(read_records(log), python_pid), 20, "the Python after-restore hook")
    assert restores_in(read_records(log), python_pid)[0]["generation"] == 1
    line = wait_for_line(cpp_sub, "after-restore: regenerated token")
    assert "(generation 1)" in line
    # Both now hold slots in the new file and have acknowledged the restore.
    wait_until(lambda: all(slot["handled_generation"] == 1 for slot in bus.status()["subscribers"])
               and len(bus.status()["subscribers"]) == 2, 20, "both acks in the new segment")


# (3) No free slot during a restore: the process attaches later and still runs its hooks for the
# restore it lived through. A process started after the restore runs none.
def test_late_attach_catches_up_on_the_restore_it_lived_through(cli, processes, tmp_path):
    segment = tmp_path / "one-slot.seg"
    env = processes.env(segment, SNAPBUS_SLOTS=1)
    created = subprocess.run([str(cli), "publish", "running", "--segment", str(segment)], env=env,
                             capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    assert created.returncode == 0, created.stderr
    log = tmp_path / "hooks.jsonl"
    holder = processes.python("subscriber.py", "--log", log, "--hooks", 1, env=env)
    holder_pid = read_ready(holder, 1)[0]
    late = processes.python("subscriber.py", "--log", log, "--hooks", 1, "--may-start-detached", env=env)
    late_pid = read_ready(late, 1)[0]
    wait_until(lambda: "no_free_slot" in processes.stderr_of(late) or "slots belong" in processes.stderr_of(late),
               10, "the late process being refused a slot")

    published = subprocess.run([str(cli), "publish", "restore", "--segment", str(segment)], env=env,
                                capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    assert published.returncode == 0, published.stdout + published.stderr
    assert [r["pid"] for r in restores_in(read_records(log))] == [holder_pid]

    os.killpg(holder.pid, 9)  # frees the one slot
    holder.wait(PROCESS_TIMEOUT)
    wait_until(lambda: restores_in(read_records(log), late_pid), 20, "the late process catching up")
    assert restores_in(read_records(log), late_pid)[0]["generation"] == 1

    os.killpg(late.pid, 9)
    late.wait(PROCESS_TIMEOUT)
    newcomer = processes.python("subscriber.py", "--log", log, "--hooks", 1, env=env)
    newcomer_pid = read_ready(newcomer, 1)[0]
    time.sleep(0.5)  # time enough for a wrongly due hook to run
    assert restores_in(read_records(log), newcomer_pid) == [], "a process started after the restore ran its hooks"


# Waits, up to 20 s, for the file `go` to appear (the test's word to go on).
WAIT_FOR_GO = """
deadline = time.monotonic() + 20
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("never told to go on")
    time.sleep(0.01)
"""

# A process that imports snapbus only once told to: a worker whose imports take their time.
IMPORTS_WHEN_TOLD = """
import os, runpy, sys, time
go, program, log = sys.argv[1:4]
print("STARTED", os.getpid(), flush=True)
""" + WAIT_FOR_GO + """
sys.argv = [program, "--log", log, "--hooks", "1"]
runpy.run_path(program, run_name="__main__")
"""


# (3) A worker frozen into the snapshot before it imported snapbus (its imports outlasted the
# adapter's settle time) imports it after the restore: it lived through that restore, so its hooks
# run when it attaches; so do those of one started during the bracket, which the snapshot froze too.
# A process started after the restore was published runs none.
def test_a_process_from_before_the_restore_importing_snapbus_after_it_catches_up(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    go = tmp_path / "go"
    env = processes.env(bus.segment)

    def slow_importer():
        proc = processes.start([PYTHON, "-c", IMPORTS_WHEN_TOLD, str(go), str(PROGRAMS / "subscriber.py"), str(log)],
                               env)
        wait_for_line(proc, "STARTED")
        return proc

    in_the_snapshot = slow_importer()
    bus.publish_ok("before-snapshot")
    time.sleep(0.05)  # started after before-snapshot was published, even counted in ticks of 10 ms
    during_the_bracket = slow_importer()
    bus.publish_ok("restore")
    time.sleep(0.05)  # past the tick (10 ms) a start time is counted in
    started_after = slow_importer()
    go.touch()
    owing = [read_ready(proc, 1)[0] for proc in (in_the_snapshot, during_the_bracket)]
    new_pid = read_ready(started_after, 1)[0]
    for pid in owing:
        wait_until(lambda: restores_in(read_records(log), pid), 20, f"pid {pid} catching up")
        assert [r["generation"] for r in restores_in(read_records(log), pid)] == [1]
    time.sleep(0.5)  # time enough for a wrongly due hook to run
    assert restores_in(read_records(log), new_pid) == [], "a process started after the restore ran its hooks"


# A subscriber that handled the restore and then execs a program that imports snapbus again: the
# same process (pid and start time), so the restore is not run a second time. The earlier program's
# slot, released at the exec, says it was handled.
EXECS_WHEN_TOLD = """
import os, sys, time
go, program, log = sys.argv[1:4]
import snapbus


def first():
    with open(log, "a") as out:
        out.write('{"pid": %d, "phase": "after-restore", "hook": "first"}\\n' % os.getpid())


snapbus.after_restore(first, name="first")
if not snapbus.state().attached:
    sys.exit("not attached")
print("READY", os.getpid(), flush=True)
""" + WAIT_FOR_GO + """
os.execv(sys.executable, [sys.executable, program, "--log", log, "--hooks", "1"])
"""


def test_a_program_a_subscriber_execs_after_the_restore_does_not_run_it_again(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    go = tmp_path / "go"
    proc = processes.start([PYTHON, "-c", EXECS_WHEN_TOLD, str(go), str(PROGRAMS / "subscriber.py"), str(log)],
                           processes.env(bus.segment))
    pid = read_ready(proc, 1)[0]
    bus.publish_ok("before-snapshot")
    bus.publish_ok("restore")  # waits for the subscriber's acknowledgement: its hook has run
    assert [r["hook"] for r in restores_in(read_records(log), pid)] == ["first"]
    go.touch()
    assert read_ready(proc, 1) == [pid], "the exec'd program attached"
    time.sleep(0.5)  # time enough for a wrongly due hook to run
    assert [r["hook"] for r in restores_in(read_records(log), pid)] == ["first"], processes.all_stderr()


# (4) A segment truncated under live subscribers: each detaches with an error and lives on.
def test_truncated_live_segment_detaches_subscribers_without_killing_them(bus, cli, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    python_sub = processes.python("subscriber.py", "--log", log, "--hooks", 1, "--guard-threads", 1, env=env)
    cpp_sub = processes.start([example_subscriber(cli), "--name", "cpp", "--segment", str(bus.segment)], env)
    read_ready(python_sub, 1)
    wait_until(lambda: len(bus.status()["subscribers"]) == 2, 20, "both subscribers attached")

    os.truncate(bus.segment, 0)
    wait_until(lambda: "truncated" in processes.stderr_of(python_sub), 10, "the Python subscriber's error")
    wait_until(lambda: "truncated" in processes.stderr_of(cpp_sub), 10, "the C++ subscriber's error")
    time.sleep(0.5)
    assert python_sub.poll() is None and cpp_sub.poll() is None, processes.all_stderr()

    # A fresh segment in its place: both attach again and catch up.
    os.unlink(bus.segment)
    bus.publish("restore")
    wait_for_line(cpp_sub, "after-restore: regenerated token")
    wait_until(lambda: restores_in(read_records(log)), 20, "the Python subscriber catching up")


# After a restore and a truncation, generation() still says the restore this process handled:
# "was I restored?" must not go back to 0 because the mapping now reads zeros.
GENERATION_AFTER_DETACH = """
import sys, time, snapbus
snapbus.after_restore(lambda: None, name="noop")
deadline = time.monotonic() + 20
while snapbus.generation() != 1 and time.monotonic() < deadline:
    time.sleep(0.01)
print("RESTORED", snapbus.generation(), flush=True)
sys.stdin.readline()  # the segment is truncated meanwhile
while snapbus.state().attached and time.monotonic() < deadline + 20:
    time.sleep(0.01)
print("DETACHED", snapbus.state().attached, snapbus.generation(), flush=True)
"""


def test_generation_keeps_the_handled_restore_after_the_segment_is_truncated(bus, processes):
    env = processes.env(bus.segment)
    proc = subprocess.Popen([PYTHON, "-c", GENERATION_AFTER_DETACH], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    processes.started.append((proc, processes.tmp_path / "none"))
    wait_until(lambda: len(bus.status()["subscribers"]) == 1, 20, "the subscriber attached")
    bus.publish_ok("restore")
    assert read_line(proc, timeout=20) == "RESTORED 1"
    os.truncate(bus.segment, 0)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert read_line(proc, timeout=30) == "DETACHED False 1"
    assert proc.wait(timeout=PROCESS_TIMEOUT) == 0


# Between the truncation and the watcher's next look (here a 5 s wait slice, which no wake can cut
# short on a truncated file), the mapped word reads 0: generation() must still say the restore
# handled. state() is not called meanwhile: it would detach at once.
GENERATION_JUST_AFTER_TRUNCATION = """
import os, time, snapbus
import snapbus._client
snapbus._client._WAIT_SLICE_MS = 5000
snapbus.after_restore(lambda: None, name="noop")
deadline = time.monotonic() + 20
while snapbus._client.CLIENT.handled_generation != 1 and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.2)  # the watcher is asleep in its wait now
os.truncate(os.environ["SNAPBUS_SEGMENT"], 0)
reads = [snapbus.generation() for _ in range(100000)]
print("READS", min(reads), max(reads), flush=True)
"""


def test_generation_keeps_the_handled_restore_before_the_watcher_sees_the_truncation(bus, processes):
    proc = processes.start([PYTHON, "-c", GENERATION_JUST_AFTER_TRUNCATION], processes.env(bus.segment))
    wait_until(lambda: len(bus.status()["subscribers"]) == 1, 20, "the subscriber attached")
    bus.publish_ok("restore")
    assert read_line(proc, timeout=30) == "READS 1 1", processes.stderr_of(proc)


# A watcher asleep on a segment truncated under it cannot be woken (its futex word is gone with the
# file's page) and sleeps out its 1 s slice. A stop() meanwhile says so instead of suspecting a hook.
TRUNCATED_WHILE_WAITING = """
import os, time, snapbus
import snapbus._client
# The watcher's wait slice, 1 s, made 5 s: the watcher must still be asleep in the wait it began before
# the truncation when stop() comes. With 1 s, a process stalled for most of a second on a loaded
# machine (CI, two test jobs on two cores) found the watcher already awake and gone.
snapbus._client._WAIT_SLICE_MS = 5000
snapbus.after_restore(lambda: None, name="noop")
deadline = time.monotonic() + 20
while not snapbus.state().attached and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.2)  # the watcher is asleep in its wait now
os.truncate(os.environ["SNAPBUS_SEGMENT"], 0)
while snapbus.state().attached and time.monotonic() < deadline:
    time.sleep(0.01)
print("STOPPED", snapbus.stop(timeout=0.1), flush=True)
"""


def test_a_stop_while_the_watcher_sleeps_on_a_truncated_segment_blames_no_hook(bus, processes):
    env = processes.env(bus.segment)
    result = subprocess.run([PYTHON, "-c", TRUNCATED_WHILE_WAITING], env=env, capture_output=True, text=True,
                            timeout=PROCESS_TIMEOUT)
    assert (result.returncode, result.stdout) == (0, "STOPPED False\n"), result.stderr
    assert "its wait on a truncated segment cannot be woken; it ends within 5.0 s" in result.stderr, result.stderr


# faulthandler enabled after the client attached sees a truncated segment's SIGBUS first. It puts
# the previous handler (snapbus's guard) back and raises the signal again, without the faulting
# address: the guard must still rescue the read, not take the signal for someone else's and leave
# the process unguarded. A second segment, truncated the same way, shows the guard is still there.
FAULTHANDLER_AFTER_ATTACH = """
import faulthandler, os, sys, time, snapbus
snapbus.after_restore(lambda: None, name="noop")
faulthandler.enable()
for round in (1, 2):
    deadline = time.monotonic() + 20
    while not snapbus.state().attached and time.monotonic() < deadline:
        time.sleep(0.01)
    os.truncate(os.environ["SNAPBUS_SEGMENT"], 0)
    print("ALIVE", round, set(snapbus.generation() for _ in range(1000)), flush=True)
    sys.stdin.readline()  # a new segment meanwhile
"""


def test_truncation_under_a_later_faulthandler_does_not_kill(bus, processes):
    env = processes.env(bus.segment)
    proc = subprocess.Popen([PYTHON, "-c", FAULTHANDLER_AFTER_ATTACH], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    processes.started.append((proc, processes.tmp_path / "none"))
    assert read_line(proc, timeout=30) == "ALIVE 1 {0}"
    os.unlink(bus.segment)
    bus.publish_ok("running")
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = read_line(proc, timeout=30)
    proc.stdin.close()
    code = proc.wait(timeout=PROCESS_TIMEOUT)
    assert (line, code) == ("ALIVE 2 {0}", 0), proc.stderr.read()


def fill(path: pathlib.Path) -> None:
    """Writes to path until its filesystem is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


# (4) A full filesystem: the publisher reserves the segment's blocks first, so it fails with a
# clear error and publishes nothing; status and an app registering a hook live on.
def test_full_tmpfs_is_a_clear_error_not_sigbus(cli, processes, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the C++ segment tests cover ENOSPC otherwise")
    mount = tmp_path / "full"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        fill(mount / "filler")
        segment = mount / "bus.seg"
        env = processes.env(segment)
        result = subprocess.run([str(cli), "publish", "restore", "--segment", str(segment)], env=env,
                                capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
        assert result.returncode == 5, (result.returncode, result.stdout, result.stderr)
        assert "no space left" in result.stderr and "nothing was published" in result.stderr, result.stderr
        assert sorted(p.name for p in mount.iterdir()) == ["bus.seg.lock", "filler"], "a temporary file was left"
        status = subprocess.run([str(cli), "status", "--segment", str(segment)], env=env,
                                capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
        assert status.returncode == 3, status.stderr

        # A sparse segment from elsewhere (an older build made them): its holes cannot be filled.
        good = tmp_path / "good.seg"
        assert subprocess.run([str(cli), "publish", "running", "--segment", str(good)],
                              capture_output=True, timeout=PROCESS_TIMEOUT).returncode == 0
        os.truncate(mount / "filler", (mount / "filler").stat().st_size - 16384)
        with open(good, "rb") as source, open(segment, "wb") as sparse:
            sparse.write(source.read(4096))
            sparse.truncate(good.stat().st_size)
        os.chmod(segment, 0o600)
        fill(mount / "filler-2")
        status = subprocess.run([str(cli), "status", "--segment", str(segment)], env=env,
                                capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
        assert status.returncode == 5 and "could not be read" in status.stderr, (status.returncode, status.stderr)
        app = subprocess.run([PYTHON, "-c", "import snapbus\n"
                                            "@snapbus.after_restore\n"
                                            "def hook(): pass\n"
                                            "print('alive', snapbus.state().attached)"],
                             env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
        assert app.returncode == 0 and "alive False" in app.stdout, (app.returncode, app.stdout, app.stderr)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# (5) A FIFO at the segment path: status and watch refuse it at once, timeout or not.
@pytest.mark.parametrize("command", [["status"], ["watch", "--timeout-ms", "60000"], ["watch"]])
def test_fifo_at_the_path_is_refused_at_once(cli, tmp_path, command):
    fifo = tmp_path / "fifo.seg"
    os.mkfifo(fifo, 0o600)
    started = time.monotonic()
    result = subprocess.run([str(cli), *command, "--segment", str(fifo)], capture_output=True, text=True,
                            timeout=PROCESS_TIMEOUT)
    assert time.monotonic() - started < 5
    assert result.returncode == 5 and "not a regular file" in result.stderr, result.stderr


# (5) Arguments are checked before anything is acquired; a huge timeout is a long one.
def test_bad_arguments_touch_nothing_and_huge_timeouts_do_not_overflow(cli, tmp_path):
    segment = tmp_path / "untouched.seg"
    bad = subprocess.run([str(cli), "publish", "restore", "--expect-subscribers", "-1", "--segment", str(segment)],
                         capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    assert bad.returncode == 2, bad.stderr
    assert not segment.exists() and not pathlib.Path(str(segment) + ".lock").exists()
    huge = subprocess.run([str(cli), "publish", "running", "--timeout-ms", str(2**63 - 1), "--segment", str(segment)],
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    assert huge.returncode == 0, huge.stdout + huge.stderr


# (1) A slot freed while its process lives (what a restore that drops file locks leads to) is
# claimed again on the process's next acknowledgement, with a log line saying so; no error loop.
def test_slot_freed_under_a_live_python_subscriber_is_claimed_again(bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    sub = processes.python("subscriber.py", "--log", log, "--hooks", 1, env=processes.env(bus.segment))
    pid = read_ready(sub, 1)[0]
    [slot] = bus.status()["subscribers"]
    with open(bus.segment, "r+b") as segment, mmap.mmap(segment.fileno(), 0) as memory:
        slots_offset = struct.unpack_from("<I", memory, 24)[0]
        struct.pack_into("<I", memory, slots_offset + 512 * slot["index"], 0)  # the slot's pid word
    assert bus.status()["subscribers"] == []

    bus.publish("restore")
    wait_until(lambda: restores_in(read_records(log), pid), 20, "the after-restore hook")
    wait_until(lambda: [s["pid"] for s in bus.status()["subscribers"]] == [pid], 10, "the slot claimed again")
    assert bus.status()["subscribers"][0]["handled_generation"] == 1
    wait_until(lambda: "was freed while pid" in processes.stderr_of(sub), 10, "the log line")
