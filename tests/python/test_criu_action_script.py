"""examples/criu/snapbus-criu-action.sh, run as CRIU runs an action script: `sh -c <script>`, with the
step in CRTOOLS_SCRIPT_ACTION (criu/action-scripts.c), against real subscriber processes: pre-dump
runs every process's before-snapshot hooks and fails when one fails (CRIU then gives up the dump),
post-resume runs the after-restore hooks at the next generation, and every other step publishes
nothing. The last test takes a real checkpoint and restore with CRIU where one works (root, and
`criu check` passes: Debian 12's CRIU 3.17 fails it on kernels whose vDSO it does not know; CRIU 4.2
passes on 6.18); SNAPBUS_TEST_CRIU names the criu executable, else `criu` on PATH. It skips
elsewhere, CI included."""
import collections
import os
import pathlib
import shutil
import subprocess

import httpx
import pytest

from adapter_web_harness import EXAMPLE_FASTAPI, REPO
from conftest import PYTHON, example_subscriber, free_port, read_ready, read_records, wait_until

SCRIPT = REPO / "examples" / "criu" / "snapbus-criu-action.sh"
# CRIU's other steps: in a dump, post-dump (the processes are still frozen); in a restore, the rest.
QUIET_STEPS = ["post-dump", "pre-restore", "setup-namespaces", "post-setup-namespaces", "network-lock",
               "network-unlock", "post-restore"]


def script_env(cli, bus) -> dict:
    """What the script needs from the environment CRIU passes on: snapbus on PATH, the segment."""
    env = {k: v for k, v in os.environ.items() if k != "CRTOOLS_SCRIPT_ACTION"}
    env.update(PATH=f"{cli.parent}:{env['PATH']}", SNAPBUS_SEGMENT=str(bus.segment))
    return env


def run_step(cli, bus, step: str | None) -> subprocess.CompletedProcess:
    env = script_env(cli, bus)
    if step is not None:
        env["CRTOOLS_SCRIPT_ACTION"] = step
    return subprocess.run(["sh", "-c", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


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

    dumped = run_step(cli, bus, "pre-dump")
    assert dumped.returncode == 0, dumped.stdout + dumped.stderr
    assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}
    assert bus.status()["state"]["phase"] == "snapshot-ready"

    seq = bus.status()["state"]["seq"]
    for step in QUIET_STEPS:
        quiet = run_step(cli, bus, step)
        assert quiet.returncode == 0 and not quiet.stdout, (step, quiet.stdout, quiet.stderr)
    assert bus.status()["state"]["seq"] == seq, "a step other than pre-dump and post-resume published"

    resumed = run_step(cli, bus, "post-resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert hooks_by_pid(log, "after-restore") == {pid: [("h1", 1), ("h2", 1)] for pid in pids}
    state = bus.status()["state"]
    assert state["phase"] == "running" and state["generation"] == 1, state
    assert hooks_by_pid(log, "before-snapshot") == {pid: [("h2", 0), ("h1", 0)] for pid in pids}, \
        "a hook ran twice"


def test_a_failing_before_snapshot_hook_fails_pre_dump_so_criu_gives_up_the_dump(cli, bus, processes, tmp_path):
    log = tmp_path / "hooks.jsonl"
    env = processes.env(bus.segment)
    failing = processes.python("subscriber.py", "--log", log, "--fail", "h1", "--fail-phase", "before-snapshot",
                               env=env)
    [pid] = read_ready(failing, 1)
    dumped = run_step(cli, bus, "pre-dump")
    assert dumped.returncode != 0, dumped.stdout + dumped.stderr
    assert f"pid {pid}" in dumped.stdout and "'h1'" in dumped.stdout, dumped.stdout + dumped.stderr


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


def wait_gone(root: subprocess.Popen, pids: set[int]) -> None:
    """The restore takes the same pids again, so they must be free: the root is reaped here, the
    others by whoever adopted them (a pid stays taken while any process, a zombie too, has it as its
    session or group id)."""
    root.wait(timeout=30)
    wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids), 30, "the dumped processes to be gone")


def start_cpp_subscriber(cli, bus, processes, tmp_path) -> tuple[subprocess.Popen, pathlib.Path]:
    """The C++ example subscriber, its output in a file: a file is what a restored process can still
    write to (CRIU restores it by path), where a pipe to this test would have no reader left."""
    out = tmp_path / "cpp.out"
    err = tmp_path / "cpp.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([example_subscriber(cli), "--name", "cpp", "--segment", str(bus.segment)],
                                env=processes.env(bus.segment), stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=stderr, start_new_session=True)
    processes.started.append((proc, err))
    wait_until(lambda: "subscribed" in out.read_text(), 20, "the C++ subscriber to subscribe")
    return proc, out


@pytest.mark.parametrize("client", ["python", "cpp"])
def test_a_real_criu_dump_and_restore_runs_the_hooks_and_keeps_the_slot_locks(cli, bus, processes, tmp_path, client):
    criu = working_criu()
    log = tmp_path / "hooks.jsonl"
    images = tmp_path / "images"
    images.mkdir()
    if client == "python":  # a subscriber and the worker it forked
        tree = processes.python("subscriber.py", "--log", log, "--hooks", 2, "--fork", 1, "--lifetime", 120,
                                env=processes.env(bus.segment))
        pids = set(read_ready(tree, 2))
    else:
        tree, out = start_cpp_subscriber(cli, bus, processes, tmp_path)
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
    wait_gone(tree, pids)
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
    pids = {app.pid, *(s["pid"] for s in bus.status()["subscribers"])}

    criu_run(criu, script_env(cli, bus), images, "dump", "-t", str(app.pid))
    wait_gone(app, pids)
    criu_run(criu, script_env(cli, bus), images, "restore", "--restore-detached")

    workers = {s["pid"]: s for s in bus.status()["subscribers"]}
    assert len(workers) == 4 and all(w["alive"] and w["handled_generation"] == 1 and w["outcome"] == "ok"
                                     for w in workers.values()), workers
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        answers = [client.get("/", headers={"connection": "close"}).json() for _ in range(8)]
    for answer in answers:
        assert answer["pid"] in workers and answer["generation"] == 1, answer
        assert answer["pool"]["opened_at_generation"] == 1, answer
