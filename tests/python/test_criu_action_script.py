"""examples/criu/snapbus-criu-action.sh, run as CRIU 4.2 runs an action script (it executes the path,
with the step in CRTOOLS_SCRIPT_ACTION and the images directory in CRTOOLS_IMAGE_DIR:
criu/action-scripts.c), against real subscriber processes: pre-dump runs every process's
before-snapshot hooks and fails when one fails (CRIU then gives up the dump), post-dump keeps the
segment with the images and pre-restore puts it back when no live process uses it, post-resume runs
the after-restore hooks at the next generation, and the other steps publish nothing.

The tests named real_criu take real checkpoints and restores where a CRIU works (root, and `criu
check` passes: Debian 12's CRIU 3.17 fails it on kernels whose vDSO it does not know; CRIU 4.2 passes
on 6.18); SNAPBUS_TEST_CRIU names the criu executable, else `criu` on PATH. They skip elsewhere, CI
included."""
import collections
import os
import pathlib
import shutil
import subprocess

import httpx
import pytest

from adapter_web_harness import EXAMPLE_FASTAPI, REPO
from conftest import PROGRAMS, PYTHON, example_subscriber, free_port, read_ready, read_records, wait_until

SCRIPT = REPO / "examples" / "criu" / "snapbus-criu-action.sh"
# CRIU's other steps, which publish nothing.
QUIET_STEPS = ["setup-namespaces", "post-setup-namespaces", "network-lock", "network-unlock", "post-restore"]


def script_env(cli, bus) -> dict:
    """What the script needs from the environment CRIU passes on: snapbus on PATH, the segment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRTOOLS_")}
    env.update(PATH=f"{cli.parent}:{env['PATH']}", SNAPBUS_SEGMENT=str(bus.segment))
    return env


def run_step(cli, bus, step: str | None, images: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    env = script_env(cli, bus)
    if step is not None:
        env["CRTOOLS_SCRIPT_ACTION"] = step
    if images is not None:
        env["CRTOOLS_IMAGE_DIR"] = str(images)
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def hooks_by_pid(log, phase: str) -> dict:
    calls = collections.defaultdict(list)
    for record in read_records(log):
        if record["phase"] == phase:
            calls[record["pid"]].append((record["hook"], record["generation"]))
    return dict(calls)


def test_a_dump_and_a_restore_run_every_processs_hooks_once(cli, bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    plain = processes.python("subscriber.py", "--log", log, "--hooks", 2, env=env)
    forking = processes.python("subscriber.py", "--log", log, "--hooks", 2, "--fork", 1, env=env)
    pids = set(read_ready(plain, 1) + read_ready(forking, 2))

    images = tmp_path / "images"
    images.mkdir()
    dumped = run_step(cli, bus, "pre-dump", images)
    assert dumped.returncode == 0, dumped.stdout + dumped.stderr
    assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}
    assert bus.status()["state"]["phase"] == "snapshot-ready"

    seq = bus.status()["state"]["seq"]
    for step in ["post-dump", *QUIET_STEPS]:
        quiet = run_step(cli, bus, step, images)
        assert quiet.returncode == 0 and not quiet.stdout and not quiet.stderr, (step, quiet.stdout, quiet.stderr)
    assert (images / "snapbus-segment").read_bytes() == bus.segment.read_bytes()
    # These processes still live here (no CRIU in between): the segment is theirs, and stays.
    kept = run_step(cli, bus, "pre-restore", images)
    assert kept.returncode == 0 and "live processes use" in kept.stderr, kept.stderr
    assert bus.status()["state"]["seq"] == seq, "a step other than pre-dump and post-resume published"

    resumed = run_step(cli, bus, "post-resume", images)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert hooks_by_pid(log, "after-restore") == {pid: [("h1", 1), ("h2", 1)] for pid in pids}
    state = bus.status()["state"]
    assert state["phase"] == "running" and state["generation"] == 1, state
    assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}, \
        "a hook ran twice"


def test_a_failing_before_snapshot_hook_fails_pre_dump_and_the_processes_get_their_after_restore_hooks(
        cli, bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    failing = processes.python("subscriber.py", "--log", log, "--fail", "h1", "--fail-phase", "before-snapshot",
                               env=env)
    [pid] = read_ready(failing, 1)
    dumped = run_step(cli, bus, "pre-dump")
    assert dumped.returncode == 1, dumped.stdout + dumped.stderr
    assert f"pid {pid}" in dumped.stdout and "'h1'" in dumped.stdout, dumped.stdout + dumped.stderr
    # The process goes on without a checkpoint: as CRaC runs afterRestore when a checkpoint fails,
    # it gets its after-restore hooks, to reopen what its before-snapshot hooks closed.
    assert "CRIU gives up the dump" in dumped.stderr, dumped.stderr
    assert hooks_by_pid(log, "after-restore") == {pid: [("h1", 1), ("h2", 1)]}, dumped.stdout + dumped.stderr
    assert bus.status()["state"]["phase"] == "running"


def fake_criu(tmp_path: pathlib.Path, steps: list[str], status: int) -> pathlib.Path:
    """An executable named criu that runs the script's steps as CRIU does (through `sh -c`, so the
    script is not its child but its grandchild, with CRTOOLS_IMAGE_DIR naming the images directory
    as /proc/<criu's pid>/fd/<n>: criu/action-scripts.c) and then exits with `status`: a dump that
    succeeds (pre-dump, post-dump, 0) or one that fails after pre-dump (pre-dump alone, 1), after
    which CRIU runs no step. The script tells what happened from which steps ran before criu exited."""
    criu = tmp_path / "fake" / "criu"
    criu.parent.mkdir(exist_ok=True)
    runs = "".join(f'CRTOOLS_SCRIPT_ACTION={step} sh -c "$SCRIPT" || exit 1\n' for step in steps)
    criu.write_text(f'#!/bin/sh\nexec 9<"$IMAGES"\nexport CRTOOLS_IMAGE_DIR=/proc/$$/fd/9\n{runs}exit {status}\n')
    criu.chmod(0o755)
    return criu


def script_processes() -> list[int]:
    """The processes running the action script: the watcher pre-dump leaves behind among them."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if str(SCRIPT).encode() in pathlib.Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:  # gone meanwhile
                pass
    return found


def run_fake_dump(cli, bus, criu: pathlib.Path, images: pathlib.Path) -> subprocess.CompletedProcess:
    env = script_env(cli, bus)
    env.update(SCRIPT=str(SCRIPT), IMAGES=str(images))
    # stderr to a file: the watcher the script leaves behind keeps it open after criu has exited.
    with open(images / "criu.err", "w") as err:
        run = subprocess.run([str(criu)], env=env, stdout=subprocess.PIPE, stderr=err, text=True, timeout=30)
    run.stderr = (images / "criu.err").read_text()
    return run


def test_a_dump_that_fails_after_pre_dump_gives_the_processes_their_after_restore_hooks(
        cli, bus, processes, tmp_path):
    """CRIU runs no step after a dump that fails once pre-dump has run (cr_dump_finish runs post-dump
    only on success, and thaws the processes): what the before-snapshot hooks closed must not stay
    closed."""
    log = tmp_path / "hooks.jsonl"
    images = tmp_path / "images"
    images.mkdir()
    subscriber = processes.python("subscriber.py", "--log", log, "--hooks", 2, env=processes.env(bus.segment))
    [pid] = read_ready(subscriber, 1)
    dump = run_fake_dump(cli, bus, fake_criu(tmp_path, ["pre-dump"], 1), images)
    assert dump.returncode == 1, dump.stderr
    assert sorted(hooks_by_pid(log, "before-snapshot")[pid]) == [("h1", 0), ("h2", 0)], dump.stderr
    wait_until(lambda: len(hooks_by_pid(log, "after-restore").get(pid, [])) == 2, 30,
               "both after-restore hooks after the failed dump")
    assert hooks_by_pid(log, "after-restore") == {pid: [("h1", 1), ("h2", 1)]}
    wait_until(lambda: not script_processes(), 30, "the watcher to exit")
    assert bus.status()["state"]["phase"] == "running"
    assert "exited without post-dump" in (images / "criu.err").read_text()
    assert not (images / "snapbus-dump-pending").exists()


def test_a_dump_that_succeeds_leaves_the_processes_in_snapshot_ready(cli, bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    images = tmp_path / "images"
    images.mkdir()
    subscriber = processes.python("subscriber.py", "--log", log, env=processes.env(bus.segment))
    [pid] = read_ready(subscriber, 1)
    dump = run_fake_dump(cli, bus, fake_criu(tmp_path, ["pre-dump", "post-dump"], 0), images)
    assert dump.returncode == 0, dump.stderr
    assert (images / "snapbus-segment").exists() and not (images / "snapbus-dump-pending").exists()
    # Once the watcher pre-dump left behind is gone, nothing more can publish: it published nothing.
    wait_until(lambda: not script_processes(), 30, "the watcher to exit")
    assert bus.status()["state"]["phase"] == "snapshot-ready"
    assert pid not in hooks_by_pid(log, "after-restore")


def test_pre_restore_puts_the_snapshots_segment_back_once_no_process_uses_it(cli, bus, processes, tmp_path):
    """What a copy restored after another copy finds: the snapshot's segment (snapshot-ready, the
    generation of the dump), not the running state at the next generation the other copy left."""
    log = tmp_path / "hooks.jsonl"
    images = tmp_path / "images"
    images.mkdir()
    subscriber = processes.python("subscriber.py", "--log", log, env=processes.env(bus.segment))
    [pid] = read_ready(subscriber, 1)
    for step in ("pre-dump", "post-dump", "post-resume"):
        assert run_step(cli, bus, step, images).returncode == 0, step
    assert bus.status()["state"]["generation"] == 1
    inode = bus.segment.stat().st_ino

    os.kill(pid, 9)
    subscriber.wait(timeout=30)
    wait_until(lambda: not any(s["alive"] for s in bus.status()["subscribers"]), 30, "the slot to read dead")
    put_back = run_step(cli, bus, "pre-restore", images)
    assert put_back.returncode == 0 and not put_back.stderr, put_back.stderr
    state = bus.status()["state"]
    assert state["phase"] == "snapshot-ready" and state["generation"] == 0, state
    assert bus.segment.stat().st_ino == inode, "the segment was replaced, not rewritten in place"

    missing = run_step(cli, bus, "pre-restore", tmp_path / "no-images")
    assert missing.returncode == 0 and "no snapbus-segment in the images" in missing.stderr, missing.stderr


def test_outside_criu_the_script_says_what_it_is_for(cli, bus):
    alone = run_step(cli, bus, None)
    assert alone.returncode == 2, alone.stdout + alone.stderr
    assert "CRTOOLS_SCRIPT_ACTION is not set" in alone.stderr and "--action-script" in alone.stderr, alone.stderr


def working_criu() -> str:
    criu = os.environ.get("SNAPBUS_TEST_CRIU") or shutil.which("criu")
    if not criu:
        pytest.skip("no criu (SNAPBUS_TEST_CRIU, or criu on PATH)")
    if os.geteuid() != 0:
        pytest.skip("CRIU needs root")
    check = subprocess.run([criu, "check"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        pytest.skip(f"`{criu} check` fails here: {(check.stderr or check.stdout).strip().splitlines()[-1:]}")
    return criu


def criu_run(criu: str, env: dict, images: pathlib.Path, command: str, *args: str) -> None:
    """`criu dump` or `criu restore` with the action script, the slot locks, and the established TCP
    connections a server may hold; its log in images/<command>.log."""
    run = subprocess.run([criu, command, "-D", str(images), *args, "--file-locks", "--tcp-established",
                          "--action-script", str(SCRIPT), "-v4", "-o", f"{command}.log"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (images / f"{command}.log").read_text()[-3000:]


def session_members(session: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == session:
                    members.append(int(entry))
            except OSError:  # gone meanwhile
                pass
    return members


def wait_gone(root: subprocess.Popen) -> None:
    """The restore takes the same pids again, so they must be free. A pid stays taken while any
    process, a zombie too, has it as its session id, so this waits for every process of the root's
    session (the tree was started in a session of its own), not only those that subscribed (uvicorn's
    resource tracker does not): the root is reaped here, the others by whoever adopted them."""
    root.wait(timeout=30)
    wait_until(lambda: not session_members(root.pid), 30, "the dumped processes to be gone")


def start_for_criu(processes, tmp_path: pathlib.Path, name: str, args: list[str],
                   env: dict) -> tuple[subprocess.Popen, pathlib.Path]:
    """A process tree whose output goes to files opened for appending: a restored process can still
    write to a file (CRIU reopens it by path), where a pipe to this test would have no reader left,
    and CRIU checks the size of a file open for writing at a restore unless it is open for appending,
    so a log that grew since the dump would fail a second restore. Returns the output file."""
    out = tmp_path / f"{name}.out"
    err = tmp_path / f"{name}.err"
    with open(out, "a") as stdout, open(err, "a") as stderr:
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                start_new_session=True)
    processes.started.append((proc, err))
    return proc, out


@pytest.mark.parametrize("client", ["python", "cpp"])
def test_a_real_criu_dump_and_restore_runs_the_hooks_and_keeps_the_slot_locks(cli, bus, processes, tmp_path, client):
    criu = working_criu()
    log = tmp_path / "hooks.jsonl"
    images = tmp_path / "images"
    images.mkdir()
    env = processes.env(bus.segment)
    if client == "python":  # a subscriber and the worker it forked
        tree, out = start_for_criu(processes, tmp_path, client, [PYTHON, str(PROGRAMS / "subscriber.py"), "--log",
                                   str(log), "--hooks", "2", "--fork", "1", "--lifetime", "120"], env)
        wait_until(lambda: out.read_text().count("READY") == 2, 20, "the subscriber and its worker")
        pids = {int(line.split()[1]) for line in out.read_text().splitlines() if line.startswith("READY")}
    else:
        tree, out = start_for_criu(processes, tmp_path, client,
                                   [example_subscriber(cli), "--name", "cpp", "--segment", str(bus.segment)], env)
        wait_until(lambda: "subscribed" in out.read_text(), 20, "the C++ subscriber to subscribe")
        pids = {tree.pid}
    env = script_env(cli, bus)

    criu_run(criu, env, images, "dump", "-t", str(tree.pid))
    if client == "python":
        assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}
    else:
        assert out.read_text().count("before-snapshot: closed connections") == 1, out.read_text()
    # CRIU ended the dumped tree, and their slot locks went with them.
    slots = {s["pid"]: s for s in bus.status()["subscribers"]}
    assert all(not slots[pid]["alive"] for pid in pids), slots
    wait_gone(tree)
    criu_run(criu, env, images, "restore", "--restore-detached")
    # The same processes (CRIU restores pids), their locks restored with them, each hook run once.
    if client == "python":
        assert hooks_by_pid(log, "after-restore") == {pid: [("h1", 1), ("h2", 1)] for pid in pids}
        assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}
    else:
        text = out.read_text()
        assert text.count("after-restore: regenerated token") == 1 and "(generation 1)" in text, text
        assert text.count("before-snapshot: closed connections") == 1, text
    status = bus.status()
    slots = {s["pid"]: s for s in status["subscribers"]}
    assert all(slots[pid]["alive"] and slots[pid]["handled_generation"] == 1 for pid in pids), slots
    assert status["state"]["phase"] == "running" and status["state"]["generation"] == 1, status["state"]

    # A second copy from the same images, once the first is gone: as each copy of a Lambda
    # snapshot, it starts from the snapshot's segment, runs its own restore once, at generation 1,
    # with a restore id of its own (not the first copy's restore as well).
    for pid in pids:
        os.kill(pid, 9)
    wait_gone(tree)
    criu_run(criu, env, images, "restore", "--restore-detached")
    if client == "python":
        assert hooks_by_pid(log, "after-restore") == {pid: [("h1", 1), ("h2", 1)] * 2 for pid in pids}
    else:
        text = out.read_text()
        assert text.count("after-restore: regenerated token") == 2, text
        assert text.count("(generation 1)") == 2, text
    second = bus.status()["state"]
    assert second["generation"] == 1 and second["restore_id"] != status["state"]["restore_id"], second


def test_the_example_fastapi_app_restored_by_criu_answers_from_restored_workers(cli, bus, processes, tmp_path):
    """README's app (examples/fastapi: uvicorn, 4 workers, a pool reopened after a restore) taken
    whole, its listening socket included, and restored: every worker ran its hooks, and the app
    serves from them."""
    criu = working_criu()
    images = tmp_path / "images"
    images.mkdir()
    port = free_port()
    env = processes.env(bus.segment, PYTHON=PYTHON, PORT=port, WORKERS=4)
    app = processes.start([str(EXAMPLE_FASTAPI / "run.sh")], env)
    wait_until(lambda: len(bus.status()["subscribers"]) == 4, 30, "4 workers to subscribe")

    criu_run(criu, script_env(cli, bus), images, "dump", "-t", str(app.pid))
    wait_gone(app)
    criu_run(criu, script_env(cli, bus), images, "restore", "--restore-detached")

    workers = {s["pid"]: s for s in bus.status()["subscribers"]}
    assert len(workers) == 4 and all(w["alive"] and w["handled_generation"] == 1 and w["outcome"] == "ok"
                                     for w in workers.values()), workers
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        answers = [client.get("/", headers={"connection": "close"}).json() for _ in range(8)]
    for answer in answers:
        assert answer["pid"] in workers and answer["generation"] == 1, answer
        assert answer["pool"]["opened_at_generation"] == 1, answer
